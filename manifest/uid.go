package manifest

import (
	"encoding/hex"
	"errors"
	"fmt"
)

// UID is a tag's UID in the one form it has above the chip: upper-case
// hex without separators, 4, 7 or 10 bytes (the ISO 14443-3 sizes; an
// NTAG 424 DNA has 7, or 4 random ones at anticollision with random ID
// on). The journal, the station's results, records, QA and the backend
// all hold this type. Below it, the chip's protocol (encoder, sdm, the
// simulated tag) works on the bytes, the input of its cryptography;
// UIDOf is the one way from those bytes to a UID, and Bytes the way back.
type UID string

// ErrUID is wrapped by ParseUID's errors.
var ErrUID = errors.New("not a tag uid")

// UIDOf is the UID of the chip's bytes. It does not check their number:
// a reader reports what the chip answered, and the places that need 7
// bytes (a binding, a tap) check the UID they are given.
func UIDOf(b []byte) UID {
	const digits = "0123456789ABCDEF"
	s := make([]byte, 2*len(b))
	for i, c := range b {
		s[2*i], s[2*i+1] = digits[c>>4], digits[c&0xf]
	}
	return UID(s)
}

// Bytes is the chip's form of u; nil when u is not hex.
func (u UID) Bytes() []byte {
	b, err := hex.DecodeString(string(u))
	if err != nil {
		return nil
	}
	return b
}

// ParseUID reads a UID as people and readers write it: ':' and space
// separators and lower case are accepted.
func ParseUID(s string) (UID, error) {
	var buf [32]byte
	u := buf[:0]
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ':' || c == ' ':
			continue
		case c >= 'a' && c <= 'f':
			c -= 'a' - 'A'
		case c >= '0' && c <= '9' || c >= 'A' && c <= 'F':
		default:
			return "", fmt.Errorf("%w: tag uid %q is not hex", ErrUID, s)
		}
		if len(u) == cap(u) {
			return "", fmt.Errorf("%w: tag uid %q is too long; uids have 4, 7 or 10 bytes", ErrUID, s)
		}
		u = append(u, c)
	}
	switch len(u) {
	case 0:
		return "", fmt.Errorf("%w: empty tag uid", ErrUID)
	case 8, 14, 20:
		return UID(u), nil
	}
	return "", fmt.Errorf("%w: tag uid %q has %d hex digits; uids have 4, 7 or 10 bytes", ErrUID, s, len(u))
}
