package manifest

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// MaxNameLen bounds a SKU, a batch ID and a station ID in bytes.
const MaxNameLen = 64

// CheckText is the rule for every name a record carries (SKU, batch ID,
// station ID): present, at most MaxNameLen bytes of printable UTF-8. The
// journal and the sync receiver share it, so that the journal never takes
// a SKU its backend would refuse and stall the sync on.
func CheckText(what, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("empty %s", what)
	case len(s) > MaxNameLen:
		return fmt.Errorf("%s of %d bytes; at most %d", what, len(s), MaxNameLen)
	case !utf8.ValidString(s):
		return fmt.Errorf("%s is not valid UTF-8", what)
	}
	for _, r := range s {
		switch {
		case unicode.IsControl(r):
			return fmt.Errorf("%s holds a control character (%U); use printable text", what, r)
		case !unicode.IsPrint(r):
			return fmt.Errorf("%s holds a non-printable character (%U); use printable text", what, r)
		}
	}
	return nil
}

// checkTapUID accepts what a phone's tap can carry: the 7-byte UID of an
// NTAG 424 DNA, as 14 upper-case hex digits.
func checkTapUID(u string) error {
	if len(u) != 14 || !isHex(u, true) {
		return fmt.Errorf("uid %q is not 7 bytes of upper-case hex", clip(u))
	}
	return nil
}

func isHex(s string, upper bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= '0' && c <= '9' || (upper && c >= 'A' && c <= 'F') || (!upper && c >= 'a' && c <= 'f')
		if !ok {
			return false
		}
	}
	return true
}

// clip bounds what of a refused value goes into an error message.
func clip(s string) string {
	if len(s) > 32 {
		for i := 32; i > 0; i-- {
			if utf8.RuneStart(s[i]) {
				return s[:i] + "…"
			}
		}
	}
	return s
}
