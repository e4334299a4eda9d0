package sdm

import (
	"bytes"
	"testing"
)

func TestTamperOf(t *testing.T) {
	for in, want := range map[string]Tamper{"CC": TamperClosed, "OO": TamperOpened, "OC": TamperOpened, "II": TamperInvalid, "CO": TamperInvalid, "": TamperInvalid, "C": TamperInvalid} {
		if got := TamperOf([]byte(in)); got != want {
			t.Errorf("TamperOf(%q) = %q, want %q", in, got, want)
		}
	}
}

// A {tt} template asks for encrypted file data with the tamper status at
// its start: SDMOptions bit 3, and TTStatusOffset after PICCDataOffset in
// the settings, which parse back to the same value.
func TestTTSettings(t *testing.T) {
	tp, err := ParseTemplate("https://brand.example/t?p={picc}&e={tt}&m={mac}")
	if err != nil {
		t.Fatal(err)
	}
	s := tp.Settings(1, 2)
	if s.SDMOptions&(OptTTStatus|OptEncFileData) != OptTTStatus|OptEncFileData || s.TTOffset != s.ENCOffset || s.MACInOffset != s.ENCOffset {
		t.Fatalf("settings %+v", s)
	}
	b := s.ChangeData()
	// FileOption, AR(2), SDMOptions, SDMAR(2), PICCDataOffset, TTStatusOffset, ...
	if tt := b[9:12]; !bytes.Equal(tt, []byte{byte(s.TTOffset), byte(s.TTOffset >> 8), byte(s.TTOffset >> 16)}) {
		t.Fatalf("TTStatusOffset not after PICCDataOffset: % X", b)
	}
	back, err := ParseChange(b)
	if err != nil || back.TTOffset != s.TTOffset || back.ENCOffset != s.ENCOffset || back.MACOffset != s.MACOffset {
		t.Fatalf("parse back: %+v %v", back, err)
	}
	if err := s.Validate(NDEFFileSize); err != nil {
		t.Fatal(err)
	}
	s.TTOffset = s.ENCOffset + 17 // in the ciphertext half
	if err := s.Validate(NDEFFileSize); err == nil {
		t.Fatal("a status in the second half of the encrypted data was accepted")
	}
	if _, err := ParseTemplate("https://brand.example/t?p={picc}&e={enc}&t={tt}&m={mac}"); err == nil {
		t.Fatal("{enc} and {tt} together were accepted")
	}
}
