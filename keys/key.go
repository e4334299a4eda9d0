package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// ErrSecretMarshal is returned by every attempt to serialise a secret.
var ErrSecretMarshal = errors.New("refusing to serialise a secret key")

// Key is one AES-128 key. Its bytes cannot be printed, logged or marshalled;
// only its check value (KCV) can. It cannot be compared with == either (the
// zero-length func array makes the type incomparable), because == on key
// bytes is not constant time: use Equal.
type Key struct {
	_ [0]func()
	b [BlockSize]byte
}

// NewKey copies 16 bytes into a Key.
func NewKey(b []byte) (Key, error) {
	var k Key
	if len(b) != BlockSize {
		return k, errBadKeyLen(len(b))
	}
	copy(k.b[:], b)
	return k, nil
}

// FactoryKey is the all-zero key every NTAG 424 DNA ships with.
var FactoryKey = Key{}

// Block returns AES under this key. It is the way key bytes leave this
// package: into a key schedule, never as bytes.
func (k Key) Block() cipher.Block {
	b, err := aes.NewCipher(k.b[:])
	if err != nil {
		panic("keys: aes rejected a 16-byte key: " + err.Error()) // cannot happen
	}
	return b
}

// CMAC returns AES-CMAC under this key.
func (k Key) CMAC() *CMAC { return newCMAC(k.Block()) }

// Equal compares in constant time.
func (k Key) Equal(o Key) bool { return subtle.ConstantTimeCompare(k.b[:], o.b[:]) == 1 }

// IsZero reports whether this is the factory (all-zero) key.
func (k Key) IsZero() bool { return k.Equal(FactoryKey) }

// KCV is the key check value: the first three bytes of AES(K, 01^16), the
// GlobalPlatform convention for AES keys, as six hex digits. Three bytes
// identify a key among a station's few without helping to guess it.
func (k Key) KCV() string { return kcv(k.b[:]) }

func kcv(key []byte) string {
	b, err := aes.NewCipher(key)
	if err != nil {
		return "??????"
	}
	var x [BlockSize]byte
	for i := range x {
		x[i] = 0x01
	}
	b.Encrypt(x[:], x[:])
	return strings.ToUpper(hex.EncodeToString(x[:3]))
}

// String redacts: a Key printed by mistake shows only its check value.
func (k Key) String() string { return "key(kcv " + k.KCV() + ")" }

// GoString redacts %#v as well.
func (k Key) GoString() string { return k.String() }

// Format redacts every verb, including %x and %v on structs that embed a Key.
func (k Key) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte(k.String())) }

// LogValue makes slog print the redacted form.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.String()) }

// MarshalJSON refuses: key bytes never reach a manifest or the journal.
func (k Key) MarshalJSON() ([]byte, error) { return nil, ErrSecretMarshal }

// MarshalText refuses for the same reason.
func (k Key) MarshalText() ([]byte, error) { return nil, ErrSecretMarshal }

func errBadKeyLen(n int) error {
	return fmt.Errorf("an AES-128 key is 16 bytes, got %d", n)
}
