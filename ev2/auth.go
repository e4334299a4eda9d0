package ev2

import (
	"errors"

	"github.com/tagline-station/tagline/keys"
)

// ErrAuthMismatch reports that the other side did not prove knowledge of
// the key (RndA' or RndB' wrong).
var ErrAuthMismatch = errors.New("authentication cryptogram does not match")

var zeroIV [16]byte

// RotateLeft returns b rotated left by one byte: RndA' and RndB' (9.1.5).
func RotateLeft(b []byte) []byte {
	out := make([]byte, len(b))
	copy(out, b[1:])
	out[len(b)-1] = b[0]
	return out
}

// EncryptZeroIV is the AES-CBC with zero IV that authentication uses.
func EncryptZeroIV(k keys.Key, plain []byte) []byte {
	return cbcEncrypt(k.Block(), zeroIV[:], plain)
}

// DecryptZeroIV is its inverse.
func DecryptZeroIV(k keys.Key, ct []byte) ([]byte, error) {
	return cbcDecrypt(k.Block(), zeroIV[:], ct)
}

// PCDPart2 computes the PCD's answer to the PICC's E(K, RndB): it returns
// E(K, RndA || RndB') and the decrypted RndB (AuthenticateEV2First/NonFirst
// part 2, datasheet 9.1.5 and 9.1.6).
func PCDPart2(k keys.Key, encRndB, rndA []byte) (cryptogram, rndB []byte, err error) {
	if len(encRndB) != 16 || len(rndA) != 16 {
		return nil, nil, ErrAuthMismatch
	}
	rndB, err = DecryptZeroIV(k, encRndB)
	if err != nil {
		return nil, nil, err
	}
	plain := append(append(make([]byte, 0, 32), rndA...), RotateLeft(rndB)...)
	return EncryptZeroIV(k, plain), rndB, nil
}

// FirstAnswer is the PICC's decrypted part-2 answer of AuthenticateEV2First.
type FirstAnswer struct {
	TI      [4]byte
	PDCap2  [6]byte
	PCDCap2 [6]byte
}

// PCDVerifyFirst checks the PICC's E(K, TI || RndA' || PDcap2 || PCDcap2).
func PCDVerifyFirst(k keys.Key, enc, rndA []byte) (FirstAnswer, error) {
	var a FirstAnswer
	if len(enc) != 32 {
		return a, ErrAuthMismatch
	}
	p, err := DecryptZeroIV(k, enc)
	if err != nil {
		return a, err
	}
	if !keys.Equal(p[4:20], RotateLeft(rndA)) {
		return a, ErrAuthMismatch
	}
	copy(a.TI[:], p[0:4])
	copy(a.PDCap2[:], p[20:26])
	copy(a.PCDCap2[:], p[26:32])
	return a, nil
}

// PCDVerifyNonFirst checks the PICC's E(K, RndA') of AuthenticateEV2NonFirst.
func PCDVerifyNonFirst(k keys.Key, enc, rndA []byte) error {
	if len(enc) != 16 {
		return ErrAuthMismatch
	}
	p, err := DecryptZeroIV(k, enc)
	if err != nil {
		return err
	}
	if !keys.Equal(p, RotateLeft(rndA)) {
		return ErrAuthMismatch
	}
	return nil
}

// PICCCheckPart2 is the tag side: it decrypts E(K, RndA || RndB') and
// checks RndB', returning RndA.
func PICCCheckPart2(k keys.Key, cryptogram, rndB []byte) (rndA []byte, err error) {
	if len(cryptogram) != 32 {
		return nil, ErrAuthMismatch
	}
	p, err := DecryptZeroIV(k, cryptogram)
	if err != nil {
		return nil, err
	}
	if !keys.Equal(p[16:32], RotateLeft(rndB)) {
		return nil, ErrAuthMismatch
	}
	return p[0:16], nil
}
