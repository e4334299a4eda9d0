package sim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/sha256"
	"math/big"

	"github.com/tagline-station/tagline/apdu"
	"github.com/tagline-station/tagline/sdm"
)

// insReadSig is Read_Sig (datasheet 10.13.1).
const insReadSig = 0x3C

// originalityTestScalar is the private key with which every simulated tag
// signs its UID in place of NXP's. It is a TEST KEY OF OURS, published
// here on purpose (SHA-224 of "tagline simulated NTAG 424 DNA originality
// test key"): a signature under it proves nothing about a chip, so a
// station trusts it only for tags of the simulated reader.
const originalityTestScalar = "A8883CAD2EF259BD7A2FADD4663514927B8E1EB2D8A781927751E8B2"

var originalityTestKey = func() *ecdsa.PrivateKey {
	c := elliptic.P224()
	d, _ := new(big.Int).SetString(originalityTestScalar, 16)
	k := &ecdsa.PrivateKey{D: d}
	k.Curve = c
	k.X, k.Y = c.ScalarBaseMult(d.Bytes())
	return k
}()

// OriginalityTestKey is the public half of the simulator's originality
// test key: what a station adds to NXP's key for simulated tags only.
func OriginalityTestKey() *ecdsa.PublicKey {
	pub := originalityTestKey.PublicKey
	return &pub
}

// SignOriginality signs a UID as a simulated tag does: ECDSA on secp224r1
// over the UID itself (no hash), r ‖ s of 28 bytes each. The nonce is
// derived from the key and the UID, so a tag answers the same bytes every
// time and recorded transcripts replay.
func SignOriginality(priv *ecdsa.PrivateKey, uid []byte) []byte {
	c := priv.Curve
	n := c.Params().N
	e := new(big.Int).SetBytes(uid) // 56 bits: shorter than n, no truncation
	mac := hmac.New(sha256.New, priv.D.Bytes())
	for ctr := byte(0); ; ctr++ {
		mac.Reset()
		mac.Write(uid)
		mac.Write([]byte{ctr})
		k := new(big.Int).SetBytes(mac.Sum(nil))
		k.Mod(k, n)
		if k.Sign() == 0 {
			continue
		}
		x, _ := c.ScalarBaseMult(k.Bytes())
		r := new(big.Int).Mod(x, n)
		if r.Sign() == 0 {
			continue
		}
		s := new(big.Int).Mul(r, priv.D)
		s.Add(s, e)
		s.Mul(s, new(big.Int).ModInverse(k, n))
		s.Mod(s, n)
		if s.Sign() == 0 {
			continue
		}
		out := make([]byte, 56)
		r.FillBytes(out[:28])
		s.FillBytes(out[28:])
		return out
	}
}

// SetOriginalitySignature makes the tag answer Read_Sig with sig instead
// of its own signature (nil restores it): a counterfeit chip, or one whose
// signature was copied from another tag.
func (t *Tag) SetOriginalitySignature(sig []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sigOverride = append([]byte(nil), sig...)
	if sig == nil {
		t.sigOverride = nil
	}
}

// readSig answers Read_Sig: plain without a session, CommMode.Full within
// one (the command header 00 is MACed then). Only address 00 exists.
func (t *Tag) readSig(data []byte) []byte {
	mode := byte(sdm.CommModePlain)
	if t.sess != nil {
		mode = sdm.CommModeFull
	}
	hdr, body, sw := t.unwrap(insReadSig, data, 1, mode)
	if sw != 0 {
		return t.fail(sw)
	}
	if len(body) != 0 {
		return t.fail(apdu.SWLengthError)
	}
	if hdr[0] != 0x00 {
		return t.fail(apdu.SWParameterError)
	}
	sig := t.sigOverride
	if sig == nil {
		sig = SignOriginality(originalityTestKey, t.uid)
	}
	return t.wrap(mode, sig)
}
