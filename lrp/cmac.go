package lrp

import (
	"crypto/subtle"

	"github.com/tagline-station/tagline/keys"
)

// The CMAC_LRP MAC is CMAC (NIST SP 800-38B) with EvalLRP under updated
// key 0, finalised, as the block function (AN12304 section 2.4 and the
// NTAG 424 DNA datasheet's MAC_LRP).
const macKey = 0

const rb = 0x87 // NIST SP 800-38B, 128-bit block

// subkeys returns K1 = 2·K0 and K2 = 4·K0, K0 = EvalLRP(0^16).
func (l *Primitive) subkeys() (k1, k2 [BlockSize]byte) {
	var zero [BlockSize]byte
	k0 := l.eval(macKey, zero[:], true)
	k1 = double(k0)
	return k1, double(k1)
}

// Subkeys returns K1 and K2 as Keys, for the vector tests (AN12304 lists
// the one that masks the last block as Kx with its CMAC vectors).
func (l *Primitive) Subkeys() (k1, k2 keys.Key) {
	a, b := l.subkeys()
	return toKey(a), toKey(b)
}

// double multiplies by x in GF(2^128) in constant time: the subkeys are
// secret.
func double(in [BlockSize]byte) (out [BlockSize]byte) {
	var carry byte
	for i := BlockSize - 1; i >= 0; i-- {
		out[i] = in[i]<<1 | carry
		carry = in[i] >> 7
	}
	out[BlockSize-1] ^= byte(subtle.ConstantTimeByteEq(carry, 1)) * rb
	return out
}

// CMAC returns the 16-byte CMAC_LRP of msg.
func (l *Primitive) CMAC(msg []byte) [BlockSize]byte {
	k1, k2 := l.subkeys()
	var y [BlockSize]byte
	full := 0
	if len(msg) > 0 {
		full = (len(msg) - 1) / BlockSize
	}
	for i := 0; i < full; i++ {
		subtle.XORBytes(y[:], y[:], msg[i*BlockSize:(i+1)*BlockSize])
		y = l.eval(macKey, y[:], true)
	}
	last := msg[full*BlockSize:]
	var m [BlockSize]byte
	if len(last) == BlockSize {
		subtle.XORBytes(m[:], last, k1[:])
	} else {
		copy(m[:], last)
		m[len(last)] = 0x80
		subtle.XORBytes(m[:], m[:], k2[:])
	}
	subtle.XORBytes(y[:], y[:], m[:])
	return l.eval(macKey, y[:], true)
}

// CMACTruncated is the 8-byte MACt of NTAG 424 DNA over CMAC_LRP: bytes
// 1, 3, ..., 15 (keys.Truncate), as in AES mode.
func (l *Primitive) CMACTruncated(msg []byte) [8]byte {
	return keys.Truncate(l.CMAC(msg))
}

// MACKey returns CMAC_LRP(k, msg) as a Key: how LRP derives session keys
// (SesAuthMasterKey, the SDM session key) from a long-term key.
func MACKey(k keys.Key, msg []byte) keys.Key {
	return toKey(New(k).CMAC(msg))
}
