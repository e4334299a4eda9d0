package manifest

import (
	"bytes"
	"errors"
	"testing"
)

func TestUIDForms(t *testing.T) {
	chip := []byte{0x04, 0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6}
	u := UIDOf(chip)
	if u != "04A1B2C3D4E5F6" || !bytes.Equal(u.Bytes(), chip) {
		t.Fatalf("UIDOf(%x) = %q, back %x", chip, u, u.Bytes())
	}
	for _, in := range []string{"04a1b2c3d4e5f6", "04:A1:B2:C3:D4:E5:F6", "04 a1 b2 c3 d4 e5 f6"} {
		if got, err := ParseUID(in); err != nil || got != u {
			t.Errorf("ParseUID(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "04A1", "04A1B2C3D4E5F6G0", "04A1B2C3D4E5F60", "0011223344556677889900AABBCCDDEEFF"} {
		if got, err := ParseUID(in); !errors.Is(err, ErrUID) {
			t.Errorf("ParseUID(%q) = %q, %v; want ErrUID", in, got, err)
		}
	}
	if UID("xyz").Bytes() != nil {
		t.Error("Bytes of a non-hex UID")
	}
}
