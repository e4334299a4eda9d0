package lrp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"

	"github.com/tagline-station/tagline/keys"
)

// BlockSize is the AES block size, the size of every LRP value.
const BlockSize = 16

const (
	numPlaintexts  = 16 // 2^m with m = 4
	numUpdatedKeys = 4  // q
)

// ErrBlocks reports LRICB input that is not a whole number of blocks.
var ErrBlocks = errors.New("lrp: data is not a whole, non-empty number of 16-byte blocks")

var (
	constA = [BlockSize]byte{0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA}
	const5 = [BlockSize]byte{0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55}
)

// Primitive is LRP under one key: its sixteen secret plaintexts and four
// updated keys. It holds no copy of the key it came from.
type Primitive struct {
	_  [0]func() // incomparable, like keys.Key
	p  [numPlaintexts][BlockSize]byte
	uk [numUpdatedKeys][BlockSize]byte
}

// New derives the plaintexts (AN12304 algorithm 1) and updated keys
// (algorithm 2) of k.
func New(k keys.Key) *Primitive {
	l := &Primitive{}
	b := k.Block()
	var h [BlockSize]byte
	b.Encrypt(h[:], const5[:])
	for i := range l.p {
		enc(&l.p[i], h, constA)
		enc(&h, h, const5)
	}
	b.Encrypt(h[:], constA[:])
	for i := range l.uk {
		enc(&l.uk[i], h, constA)
		enc(&h, h, const5)
	}
	return l
}

// enc sets dst to AES(key, src).
func enc(dst *[BlockSize]byte, key, src [BlockSize]byte) {
	blockOf(key).Encrypt(dst[:], src[:])
}

func blockOf(key [BlockSize]byte) cipher.Block {
	b, err := aes.NewCipher(key[:])
	if err != nil {
		panic("lrp: aes rejected a 16-byte key: " + err.Error()) // cannot happen
	}
	return b
}

func toKey(b [BlockSize]byte) keys.Key {
	k, _ := keys.NewKey(b[:]) // 16 bytes: cannot fail
	return k
}

// Plaintext returns plaintext i (0..15) as a Key, for the vector tests.
func (l *Primitive) Plaintext(i int) keys.Key { return toKey(l.p[i]) }

// UpdatedKey returns updated key i (0..3) as a Key, for the vector tests.
func (l *Primitive) UpdatedKey(i int) keys.Key { return toKey(l.uk[i]) }

// plaintext selects plaintext n in constant time: every plaintext is read.
func (l *Primitive) plaintext(n byte) (out [BlockSize]byte) {
	for i := range l.p {
		subtle.ConstantTimeCopy(subtle.ConstantTimeByteEq(byte(i), n), out[:], l.p[i][:])
	}
	return out
}

// evalNibbles is EvalLRP (algorithm 3) under updated key u over a nibble
// string: each nibble picks the plaintext that the running value encrypts.
func (l *Primitive) evalNibbles(u int, nibbles []byte, final bool) [BlockSize]byte {
	y := l.uk[u]
	for _, n := range nibbles {
		enc(&y, y, l.plaintext(n&0x0F))
	}
	if final {
		enc(&y, y, [BlockSize]byte{})
	}
	return y
}

// eval is EvalLRP over the nibbles of x, high nibble first.
func (l *Primitive) eval(u int, x []byte, final bool) [BlockSize]byte {
	n := make([]byte, 0, 2*len(x))
	for _, b := range x {
		n = append(n, b>>4, b&0x0F)
	}
	return l.evalNibbles(u, n, final)
}

// EvalNibbles is EvalLRP under updated key u over a string of nibbles (one
// per byte, values 0..15). AN12304's vectors use odd lengths, which bytes
// cannot express. The result is a Key so that it cannot be printed.
func (l *Primitive) EvalNibbles(u int, nibbles []byte, final bool) keys.Key {
	return toKey(l.evalNibbles(u, nibbles, final))
}

// Cipher is LRICB (AN12304 algorithms 4 and 5) under one updated key with
// a counter that advances with every block, whichever direction.
type Cipher struct {
	l   *Primitive
	u   int
	ctr []byte
}

// LRICB returns the LRICB cipher under updated key u starting at counter
// ctr; the counter keeps ctr's length.
func (l *Primitive) LRICB(u int, ctr []byte) *Cipher {
	return &Cipher{l: l, u: u, ctr: append([]byte(nil), ctr...)}
}

// Counter returns the counter the next block will use.
func (c *Cipher) Counter() []byte { return append([]byte(nil), c.ctr...) }

// Encrypt encrypts whole blocks; padding is the caller's (secure messaging
// pads with ISO/IEC 9797-1 method 2, SUN messages need none).
func (c *Cipher) Encrypt(plain []byte) ([]byte, error) {
	return c.crypt(plain, false)
}

// Decrypt is the inverse of Encrypt.
func (c *Cipher) Decrypt(ct []byte) ([]byte, error) {
	return c.crypt(ct, true)
}

func (c *Cipher) crypt(in []byte, decrypt bool) ([]byte, error) {
	if len(in) == 0 || len(in)%BlockSize != 0 {
		return nil, ErrBlocks
	}
	out := make([]byte, len(in))
	for i := 0; i < len(in); i += BlockSize {
		b := blockOf(c.l.eval(c.u, c.ctr, true))
		if decrypt {
			b.Decrypt(out[i:i+BlockSize], in[i:i+BlockSize])
		} else {
			b.Encrypt(out[i:i+BlockSize], in[i:i+BlockSize])
		}
		increment(c.ctr)
	}
	return out, nil
}

// increment adds one to a big-endian counter, wrapping to zero.
func increment(ctr []byte) {
	for i := len(ctr) - 1; i >= 0; i-- {
		ctr[i]++
		if ctr[i] != 0 {
			return
		}
	}
}

// Pad applies ISO/IEC 9797-1 method 2 (80 then zeros to the next block,
// a whole block when aligned), the padding AN12304's LRICB examples use.
func Pad(b []byte) []byte {
	n := (len(b)/BlockSize + 1) * BlockSize
	out := make([]byte, n)
	copy(out, b)
	out[len(b)] = 0x80
	return out
}

// redacted is what a Primitive or Cipher prints as: they hold derived
// secrets, which no format verb, log or marshaller may show.
const redacted = "lrp(redacted)"

// String redacts.
func (l *Primitive) String() string { return redacted }

// GoString redacts %#v.
func (l *Primitive) GoString() string { return redacted }

// Format redacts every verb.
func (l *Primitive) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue makes slog print the redacted form.
func (l *Primitive) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON refuses, like keys.Key.
func (l *Primitive) MarshalJSON() ([]byte, error) { return nil, keys.ErrSecretMarshal }

// String redacts.
func (c *Cipher) String() string { return redacted }

// GoString redacts %#v.
func (c *Cipher) GoString() string { return redacted }

// Format redacts every verb.
func (c *Cipher) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue makes slog print the redacted form.
func (c *Cipher) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON refuses, like keys.Key.
func (c *Cipher) MarshalJSON() ([]byte, error) { return nil, keys.ErrSecretMarshal }
