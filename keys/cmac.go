package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
)

// BlockSize is the AES block size; every key and MAC here is one block.
const BlockSize = 16

// rb is the constant of NIST SP 800-38B section 5.3 for a 128-bit block.
const rb = 0x87

// CMAC computes AES-CMAC (NIST SP 800-38B, RFC 4493) with a key schedule
// that is built once and reused, because the encoder computes several MACs
// per APDU and the key schedule dominates short inputs.
type CMAC struct {
	block  cipher.Block
	k1, k2 [BlockSize]byte
}

// NewCMAC prepares CMAC under a 16-byte AES key.
func NewCMAC(key []byte) (*CMAC, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, errBadKeyLen(len(key))
	}
	return newCMAC(b), nil
}

// newCMAC prepares CMAC over an AES block cipher.
func newCMAC(b cipher.Block) *CMAC {
	c := &CMAC{block: b}
	var l [BlockSize]byte
	b.Encrypt(l[:], l[:])
	c.k1 = dbl(l)
	c.k2 = dbl(c.k1)
	return c
}

// Subkeys returns L = AES(K, 0), K1 and K2 (RFC 4493 section 2.3), for the
// vector tests.
func (c *CMAC) Subkeys() (l, k1, k2 [BlockSize]byte) {
	c.block.Encrypt(l[:], l[:])
	return l, c.k1, c.k2
}

// dbl multiplies by x in GF(2^128), RFC 4493 section 2.3.
func dbl(in [BlockSize]byte) (out [BlockSize]byte) {
	var carry byte
	for i := BlockSize - 1; i >= 0; i-- {
		out[i] = in[i]<<1 | carry
		carry = in[i] >> 7
	}
	// Constant-time conditional XOR: the subkeys are secret.
	out[BlockSize-1] ^= byte(subtle.ConstantTimeByteEq(carry, 1)) * rb
	return out
}

// Sum returns the 16-byte CMAC of msg.
func (c *CMAC) Sum(msg []byte) [BlockSize]byte {
	var x [BlockSize]byte
	n := len(msg)
	// Every complete block but the last goes through plain CBC.
	full := 0
	if n > 0 {
		full = (n - 1) / BlockSize
	}
	for i := 0; i < full; i++ {
		subtle.XORBytes(x[:], x[:], msg[i*BlockSize:(i+1)*BlockSize])
		c.block.Encrypt(x[:], x[:])
	}
	last := msg[full*BlockSize:]
	var m [BlockSize]byte
	if len(last) == BlockSize {
		subtle.XORBytes(m[:], last, c.k1[:])
	} else {
		copy(m[:], last)
		m[len(last)] = 0x80
		subtle.XORBytes(m[:], m[:], c.k2[:])
	}
	subtle.XORBytes(x[:], x[:], m[:])
	c.block.Encrypt(x[:], x[:])
	return x
}

// SumTruncated returns the 8-byte MACt that NTAG 424 DNA uses: the CMAC
// bytes at indices 1, 3, 5, ..., 15 (datasheet NT4H2421Gx section 9.1.3,
// "even-numbered bytes" counting from one). Taking the first eight bytes
// instead is the classic 91 1E integrity error.
func (c *CMAC) SumTruncated(msg []byte) [8]byte {
	return Truncate(c.Sum(msg))
}

// Truncate applies the NTAG 424 DNA MAC truncation to a full CMAC.
func Truncate(full [BlockSize]byte) (t [8]byte) {
	for i := range t {
		t[i] = full[2*i+1]
	}
	return t
}

// Equal compares two MACs in constant time.
func Equal(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }
