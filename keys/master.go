package keys

import (
	"bytes"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"unicode"

	"github.com/tagline-station/tagline/internal/errkind"
)

// ErrMasterKey is wrapped by every master-key loading error.
var ErrMasterKey = errkind.New(errkind.Usage, "bad master key")

// Master is the station's master key. tagline's own derivation needs 16
// bytes (it is an AES key); sdm-backend's HMAC-based one accepts 16 to 64.
//
// Like Key it is incomparable: the slice already makes it so, and the
// zero-length func array keeps it so should the bytes become an array.
// Only the constant-time Equal compares two masters.
type Master struct {
	_ [0]func()
	b []byte
}

// NewMaster copies a master key of 16 to 64 bytes.
func NewMaster(b []byte) (Master, error) {
	if len(b) < 16 || len(b) > 64 {
		return Master{}, fmt.Errorf("%w: it must be 16 to 64 bytes (32 to 128 hex digits), got %d bytes", ErrMasterKey, len(b))
	}
	return Master{b: bytes.Clone(b)}, nil
}

// Len is the key length in bytes.
func (m Master) Len() int { return len(m.b) }

// IsZero reports an all-zero master key, which sdm-backend treats as "keep
// the factory keys" and which tagline refuses for production batches.
func (m Master) IsZero() bool {
	var acc byte
	for _, c := range m.b {
		acc |= c
	}
	return len(m.b) > 0 && acc == 0
}

// Equal compares in constant time.
func (m Master) Equal(o Master) bool { return subtle.ConstantTimeCompare(m.b, o.b) == 1 }

// KCV identifies the master key without revealing it. For a 16-byte key it
// is the usual AES KCV; a longer key is first condensed with CMAC under the
// zero key so that every length has one.
func (m Master) KCV() string {
	if len(m.b) == BlockSize {
		return kcv(m.b)
	}
	c, _ := NewCMAC(make([]byte, BlockSize))
	s := c.Sum(m.b)
	return kcv(s[:])
}

func (m Master) String() string                { return "master-key(kcv " + m.KCV() + ")" }
func (m Master) GoString() string              { return m.String() }
func (m Master) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte(m.String())) }
func (m Master) MarshalJSON() ([]byte, error)  { return nil, ErrSecretMarshal }
func (m Master) MarshalText() ([]byte, error)  { return nil, ErrSecretMarshal }

// LogValue makes slog print the redacted form.
func (m Master) LogValue() slog.Value { return slog.StringValue(m.String()) }

// ParseMaster accepts hex (whitespace and an optional 0x ignored) or, when
// the input is exactly 16 or 32 bytes that are not all hex digits, raw key
// bytes. Errors describe the input's shape, never its content.
func ParseMaster(in []byte) (Master, error) {
	trimmed := bytes.TrimSpace(in)
	if isHexText(trimmed) {
		s := strings.Map(func(r rune) rune {
			if unicode.IsSpace(r) {
				return -1
			}
			return r
		}, string(trimmed))
		s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
		if len(s)%2 != 0 {
			return Master{}, fmt.Errorf("%w: odd number of hex digits (%d); a master key is 32 hex digits", ErrMasterKey, len(s))
		}
		b, err := hex.DecodeString(s)
		if err != nil {
			return Master{}, fmt.Errorf("%w: not valid hex", ErrMasterKey)
		}
		return NewMaster(b)
	}
	// Text that is not hex is a typo, not a raw key: raw keys are taken
	// only when they contain bytes that no one types.
	if (len(in) == 16 || len(in) == 32) && !isPrintable(in) {
		return NewMaster(in)
	}
	return Master{}, fmt.Errorf("%w: expected 32 hex digits or 16 raw bytes; got %d bytes of text that is not hex", ErrMasterKey, len(in))
}

func isPrintable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' || c > 0x7E {
			return false
		}
	}
	return true
}

func isHexText(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	s := strings.TrimPrefix(strings.TrimPrefix(string(b), "0x"), "0X")
	for _, r := range s {
		if !unicode.IsSpace(r) && !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}

// Source says where a master key comes from: a file, an environment
// variable, or a reader such as stdin ("-" as the file name).
type Source struct {
	File  string    // path, or "-" for Stdin
	Env   string    // name of an environment variable holding hex
	Stdin io.Reader // used when File is "-"
}

// MaxKeyFileSize bounds what LoadMaster reads from a file or standard
// input: a key file is a line of hex, and a path such as /dev/zero must
// fail at once instead of filling the memory.
const MaxKeyFileSize = 4 << 10

// LoadMaster reads a master key from the first source set.
func LoadMaster(src Source) (Master, error) {
	switch {
	case src.File == "-":
		if src.Stdin == nil {
			return Master{}, fmt.Errorf("%w: no standard input to read the key from", ErrMasterKey)
		}
		b, err := readCapped(src.Stdin, "standard input")
		if err != nil {
			return Master{}, err
		}
		return wrapSource(ParseMaster(b))("standard input")
	case src.File != "":
		f, err := os.Open(src.File)
		if err != nil {
			return Master{}, fmt.Errorf("%w: %w", ErrMasterKey, err)
		}
		defer f.Close()
		b, err := readCapped(f, src.File)
		if err != nil {
			return Master{}, err
		}
		return wrapSource(ParseMaster(b))(src.File)
	case src.Env != "":
		v, ok := os.LookupEnv(src.Env)
		if !ok || v == "" {
			return Master{}, fmt.Errorf("%w: environment variable %s is not set", ErrMasterKey, src.Env)
		}
		return wrapSource(ParseMaster([]byte(v)))("$" + src.Env)
	}
	return Master{}, fmt.Errorf("%w: no master key given; use --master-key-file FILE (32 hex digits) or set TAGLINE_MASTER_KEY_FILE", ErrMasterKey)
}

// readCapped reads at most MaxKeyFileSize bytes and refuses more, reading
// one byte past the limit to tell.
func readCapped(r io.Reader, where string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMasterKey, err) // names the file
	}
	if len(b) > MaxKeyFileSize {
		clear(b)
		return nil, fmt.Errorf("%w: %s holds more than %d bytes; a master key is 32 hex digits", ErrMasterKey, where, MaxKeyFileSize)
	}
	return b, nil
}

func wrapSource(m Master, err error) func(string) (Master, error) {
	return func(where string) (Master, error) {
		if err != nil {
			return Master{}, fmt.Errorf("%s: %w", where, err)
		}
		return m, nil
	}
}
