package sim

import (
	"bytes"
	"crypto/ecdsa"
	"math/big"
	"testing"

	"github.com/tagline-station/tagline/apdu"
)

func verifies(pub *ecdsa.PublicKey, uid, sig []byte) bool {
	return len(sig) == 56 && ecdsa.Verify(pub, uid, new(big.Int).SetBytes(sig[:28]), new(big.Int).SetBytes(sig[28:]))
}

// Read_Sig answers 56 bytes r ‖ s and 91 00; the signature verifies over
// the UID with the test key (crypto/ecdsa, no hash), is the same on every
// read, and differs between UIDs. Another argument or extra data is
// refused.
func TestReadSigSignsTheUID(t *testing.T) {
	uid := []byte{0x04, 0x5A, 0x11, 0x22, 0x33, 0x44, 0x80}
	tag := New(Options{UID: uid})
	readSig := []byte{0x90, 0x3C, 0x00, 0x00, 0x01, 0x00, 0x00}
	r := tag.Process(readSig)
	if len(r) != 58 || !bytes.Equal(r[56:], []byte{0x91, 0x00}) {
		t.Fatalf("Read_Sig answered % X", r)
	}
	sig := r[:56]
	if !verifies(OriginalityTestKey(), uid, sig) {
		t.Fatal("the signature does not verify with the test key")
	}
	if again := tag.Process(readSig); !bytes.Equal(again[:56], sig) {
		t.Error("a second read gave another signature")
	}
	other := New(Options{UID: []byte{0x04, 0x5A, 0x11, 0x22, 0x33, 0x44, 0x81}})
	if o := other.Process(readSig); verifies(OriginalityTestKey(), uid, o[:56]) {
		t.Error("another uid's signature verifies over this uid")
	}
	for _, c := range []struct {
		capdu []byte
		want  apdu.StatusWord
	}{
		{[]byte{0x90, 0x3C, 0x00, 0x00, 0x01, 0x01, 0x00}, apdu.SWParameterError},
		{[]byte{0x90, 0x3C, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00}, apdu.SWLengthError},
		{[]byte{0x90, 0x3C, 0x00, 0x00, 0x00}, apdu.SWLengthError},
	} {
		if r := tag.Process(c.capdu); !bytes.Equal(r, c.want.Bytes()) {
			t.Errorf("% X: % X, want %04X", c.capdu, r, uint16(c.want))
		}
	}
	tag.SetOriginalitySignature(make([]byte, 56))
	if r := tag.Process(readSig); !bytes.Equal(r[:56], make([]byte, 56)) {
		t.Error("the override is not answered")
	}
	tag.SetOriginalitySignature(nil)
	if r := tag.Process(readSig); !bytes.Equal(r[:56], sig) {
		t.Error("nil did not restore the tag's own signature")
	}
}
