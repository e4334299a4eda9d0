package conformance

import (
	"bytes"
	"crypto/ecdsa"
	"errors"
	"strings"
	"testing"

	"github.com/tagline-station/tagline/encoder"
	"github.com/tagline-station/tagline/internal/vectors"
)

// The originality vectors (testdata/vectors/originality_vectors.json)
// join the dispatch table from here so that the shared table stays as it
// was.
func init() {
	byAlgorithm["originality-public-key"] = checkOriginalityKey
	byAlgorithm["originality-signature-verify"] = checkOriginalitySignature
}

// checkOriginalityKey: NXP's published key parses as a point of
// secp224r1 and is the key the encoder trusts.
func checkOriginalityKey(t *testing.T, v vectors.Vector) {
	raw := v.Out(t, "public_key")
	if _, err := encoder.ParseOriginalityKey(raw); err != nil {
		vectors.Errorf(t, v, "%v", err)
	}
	if !strings.EqualFold(v.OutString(t, "public_key"), encoder.NXPOriginalityKeyHex) {
		vectors.Errorf(t, v, "the encoder trusts another key than the published one")
	}
}

// checkOriginalitySignature: NXP's worked signature verifies over its UID
// with its key through the encoder's check, and a flipped bit or another
// UID does not.
func checkOriginalitySignature(t *testing.T, v vectors.Vector) {
	pub, err := encoder.ParseOriginalityKey(v.In(t, "public_key"))
	if err != nil {
		t.Fatal(err)
	}
	trusted := []*ecdsa.PublicKey{pub}
	uid, sig := v.In(t, "uid"), v.Out(t, "signature")
	if err := encoder.VerifyOriginality(uid, sig, trusted); err != nil {
		vectors.Errorf(t, v, "%v", err)
	}
	for i := range sig {
		bad := bytes.Clone(sig)
		bad[i] ^= 0x01
		if err := encoder.VerifyOriginality(uid, bad, trusted); !errors.Is(err, encoder.ErrNotGenuine) {
			vectors.Errorf(t, v, "byte %d flipped: %v", i, err)
		}
	}
	other := bytes.Clone(uid)
	other[6] ^= 0x01
	if err := encoder.VerifyOriginality(other, sig, trusted); !errors.Is(err, encoder.ErrNotGenuine) {
		vectors.Errorf(t, v, "another uid: %v", err)
	}
}

// TestNXPOriginalityExample names the worked example: a genuine NTAG 424
// DNA's signature verifies with the key the encoder trusts by default.
func TestNXPOriginalityExample(t *testing.T) {
	v := vectors.Named(t, "an12196-originality-signature-example")
	key := vectors.Named(t, "an12196-originality-nxp-public-key")
	checkOriginalityKey(t, key)
	checkOriginalitySignature(t, v)
	err := encoder.VerifyOriginality(v.In(t, "uid"), v.Out(t, "signature"), []*ecdsa.PublicKey{encoder.NXPOriginalityKey()})
	if err != nil {
		t.Fatal(err)
	}
}
