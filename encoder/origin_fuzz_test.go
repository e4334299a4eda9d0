package encoder_test

import (
	"crypto/ecdsa"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/tagline-station/tagline/encoder"
	"github.com/tagline-station/tagline/reader/sim"
)

// FuzzVerifyOriginality: any UID and Read_Sig answer, however long or
// out of range its r and s, is either a signature that verifies or
// ErrNotGenuine; it never panics. Seeded with AN12196's worked example.
func FuzzVerifyOriginality(f *testing.F) {
	uid, _ := hex.DecodeString("04518DFAA96180")
	sig, _ := hex.DecodeString("D1940D17CFEDA4BFF80359AB975F9F6514313E8F90C1D3CAAF5941AD" +
		"744A1CDF9A83F883CAFE0FE95D1939B1B7E47113993324473B785D21")
	f.Add(uid, sig)
	f.Add(uid, make([]byte, 56))
	f.Add(uid, bytesOf(0xFF, 56))
	f.Add([]byte{}, sig[:10])
	trusted := []*ecdsa.PublicKey{encoder.NXPOriginalityKey(), sim.OriginalityTestKey()}
	f.Fuzz(func(t *testing.T, uid, sig []byte) {
		err := encoder.VerifyOriginality(uid, sig, trusted)
		if err != nil && !errors.Is(err, encoder.ErrNotGenuine) {
			t.Fatalf("%v", err)
		}
		if err == nil && (len(uid) != 7 || len(sig) != encoder.OriginalitySigLen) {
			t.Fatalf("accepted a %d-byte uid with a %d-byte signature", len(uid), len(sig))
		}
	})
}

func bytesOf(b byte, n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}
