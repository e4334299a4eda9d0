package keys

import (
	"crypto/subtle"
	"errors"
)

// ErrDiversificationInput reports an AN10922 input M outside 1..31 bytes.
var ErrDiversificationInput = errors.New("diversification input must be 1 to 31 bytes")

// an10922Const is the AES-128 diversification constant of AN10922 section
// 2.2 (0x01 selects a 128-bit output).
const an10922Const = 0x01

// Diversify derives a key from a master key by NXP AN10922 section 2.2
// (AES-128): D = 0x01 || M is padded with 80 00.. to 32 bytes, the last
// block is XORed with K2 (K1 when D is exactly 32 bytes), and the result is
// the CBC-MAC with a zero IV. This is not plain CMAC: for |D| < 17 CMAC
// would pad to 16 bytes and give another key (vector an10957-aes128-short-m).
func Diversify(master Key, m []byte) (Key, error) {
	if len(m) < 1 || len(m) > 31 {
		return Key{}, ErrDiversificationInput
	}
	c, err := NewCMAC(master.b[:])
	if err != nil {
		return Key{}, err
	}
	return diversifyWith(c, m), nil
}

func diversifyWith(c *CMAC, m []byte) Key {
	var d [2 * BlockSize]byte
	d[0] = an10922Const
	copy(d[1:], m)
	n := 1 + len(m)
	if n < len(d) {
		d[n] = 0x80
		subtle.XORBytes(d[BlockSize:], d[BlockSize:], c.k2[:])
	} else {
		subtle.XORBytes(d[BlockSize:], d[BlockSize:], c.k1[:])
	}
	var x [BlockSize]byte
	c.block.Encrypt(x[:], d[:BlockSize])
	subtle.XORBytes(x[:], x[:], d[BlockSize:])
	c.block.Encrypt(x[:], x[:])
	return Key{b: x}
}
