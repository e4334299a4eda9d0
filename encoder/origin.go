package encoder

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"

	"github.com/tagline-station/tagline/apdu"
	"github.com/tagline-station/tagline/internal/errkind"
)

// ErrNotGenuine: the tag's originality signature does not verify with any
// trusted key, so it is not a genuine NXP chip (or its UID was altered).
var ErrNotGenuine = errkind.New(errkind.Tag, "not a genuine NXP chip")

// StepGenuine is the genuine-chip check: Read_Sig and its verification.
const StepGenuine Step = "check originality signature"

// InsReadSig is Read_Sig (datasheet 10.13.1): the NXP originality
// signature, plain without a session, CommMode.Full within one.
const InsReadSig = 0x3C

// OriginalitySigLen is r ‖ s on secp224r1, 28 bytes each.
const OriginalitySigLen = 56

// NXPOriginalityKeyHex is NXP's public key for the NTAG 424 DNA
// originality signature, an uncompressed secp224r1 point (04 ‖ X ‖ Y),
// from NXP AN12196 (testdata/vectors/PROVENANCE.md says where it was
// transcribed; originality_vectors.json checks it against NXP's worked
// example).
const NXPOriginalityKeyHex = "04" +
	"8A9B380AF2EE1B98DC417FECC263F8449C7625CECE82D9B916C992DA" +
	"209D68422B81EC20B65A66B5102A61596AF3379200599316A00A1410"

// NXPOriginalityKey returns NXP's NTAG 424 DNA originality public key.
func NXPOriginalityKey() *ecdsa.PublicKey {
	raw, err := hex.DecodeString(NXPOriginalityKeyHex)
	if err != nil {
		panic(err)
	}
	pub, err := ParseOriginalityKey(raw)
	if err != nil {
		panic(err) // a constant: a failure here is a typo, caught by the tests
	}
	return pub
}

// ParseOriginalityKey reads an uncompressed secp224r1 public key
// (04 ‖ X ‖ Y, 57 bytes) and checks that the point lies on the curve.
func ParseOriginalityKey(raw []byte) (*ecdsa.PublicKey, error) {
	const size = 28
	if len(raw) != 1+2*size || raw[0] != 0x04 {
		return nil, fmt.Errorf("originality key: want 57 bytes 04 ‖ X ‖ Y, got %d bytes", len(raw))
	}
	x := new(big.Int).SetBytes(raw[1 : 1+size])
	y := new(big.Int).SetBytes(raw[1+size:])
	c := elliptic.P224()
	if !c.IsOnCurve(x, y) {
		return nil, fmt.Errorf("originality key: the point is not on secp224r1")
	}
	return &ecdsa.PublicKey{Curve: c, X: x, Y: y}, nil
}

// VerifyOriginality checks a 56-byte originality signature (r ‖ s) over
// the 7-byte UID with each trusted key; the UID is the ECDSA message as
// it is, without hashing (AN12196). It returns ErrNotGenuine when no key
// verifies it.
func VerifyOriginality(uid, sig []byte, trusted []*ecdsa.PublicKey) error {
	switch {
	case len(uid) != 7:
		return fmt.Errorf("%w: a %d-byte uid cannot be checked (want 7)", ErrNotGenuine, len(uid))
	case len(sig) != OriginalitySigLen:
		return fmt.Errorf("%w: the originality signature has %d bytes, want %d", ErrNotGenuine, len(sig), OriginalitySigLen)
	}
	r := new(big.Int).SetBytes(sig[:OriginalitySigLen/2])
	s := new(big.Int).SetBytes(sig[OriginalitySigLen/2:])
	for _, k := range trusted {
		if k != nil && ecdsa.Verify(k, uid, r, s) {
			return nil
		}
	}
	return fmt.Errorf("%w: its originality signature does not verify with NXP's key", ErrNotGenuine)
}

// ReadSig reads the originality signature (Read_Sig, argument 00): plain
// before authentication (90 3C 00 00 01 00 00), CommMode.Full within a
// session.
func (c *Conn) ReadSig(ctx context.Context) ([]byte, error) {
	b, err := c.native(ctx, InsReadSig, Full, []byte{0x00}, nil)
	if sw := apdu.StatusWord(0); errors.As(err, &sw) && sw == apdu.SWIllegalCommand {
		// Every NTAG 424 DNA knows Read_Sig.
		return nil, fmt.Errorf("read originality signature: %w: the chip does not know the command (%w)", ErrNotGenuine, err)
	}
	if err != nil {
		return nil, fmt.Errorf("read originality signature: %w", err)
	}
	if len(b) != OriginalitySigLen {
		return nil, fmt.Errorf("read originality signature: %d bytes, want %d: %w", len(b), OriginalitySigLen, ErrNotGenuine)
	}
	return b, nil
}

// readSignature reads the originality signature before any key is tried,
// and checks it at once when the UID is already known (the reader's or a
// verified SUN message's); a random-ID tag's is checked by checkGenuine
// once GetCardUID has told the real UID. A job without trusted keys
// (tools and tests that build a Job by hand) skips the check.
func (p *personalisation) readSignature(ctx context.Context) error {
	if len(p.job.Genuine) == 0 {
		return nil
	}
	sig, err := p.c.ReadSig(ctx)
	if err != nil {
		return p.fail(StepGenuine, err)
	}
	p.sig = sig
	if p.uid != nil {
		return p.checkGenuine(ctx)
	}
	return nil
}

// checkGenuine verifies the signature read by readSignature over the
// tag's UID, once; it runs again harmlessly after GetCardUID.
func (p *personalisation) checkGenuine(context.Context) error {
	if len(p.job.Genuine) == 0 || p.genuine {
		return nil
	}
	if err := VerifyOriginality(p.uid, p.sig, p.job.Genuine); err != nil {
		return p.fail(StepGenuine, err)
	}
	p.genuine = true
	return nil
}
