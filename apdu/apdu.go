package apdu

import (
	"fmt"

	"github.com/tagline-station/tagline/internal/errkind"
)

// Class bytes.
const (
	ClaISO    = 0x00
	ClaNative = 0x90
)

// Native command codes (datasheet NT4H2421Gx section 10, table 22).
const (
	InsAuthenticateEV2First    = 0x71
	InsAuthenticateEV2NonFirst = 0x77
	InsAdditionalFrame         = 0xAF
	InsGetVersion              = 0x60
	InsGetCardUID              = 0x51
	InsGetKeyVersion           = 0x64
	InsChangeKey               = 0xC4
	InsGetFileSettings         = 0xF5
	InsChangeFileSettings      = 0x5F
	InsReadData                = 0xAD
	InsWriteData               = 0x8D
	InsGetFileCounters         = 0xF6
	InsSetConfiguration        = 0x5C
)

// ISO command codes (datasheet section 10.9, ISO/IEC 7816-4).
const (
	InsSelect       = 0xA4
	InsReadBinary   = 0xB0
	InsUpdateBinary = 0xD6
)

// Identifiers of the NDEF application and its files (datasheet 8.2.1,
// NFC Forum Type 4 Tag 2.0).
var NDEFAppName = []byte{0xD2, 0x76, 0x00, 0x00, 0x85, 0x01, 0x01}

const (
	FileCC          = 0x01 // capability container, ISO FID E103
	FileNDEF        = 0x02 // NDEF file, ISO FID E104
	FileProprietary = 0x03 // proprietary file, ISO FID E105
	FIDCC           = 0xE103
	FIDNDEF         = 0xE104
	FIDProprietary  = 0xE105
	FIDApplication  = 0xE110
)

// Native wraps a native command: 90 INS 00 00 Lc data 00.
func Native(ins byte, data ...[]byte) []byte {
	n := 0
	for _, d := range data {
		n += len(d)
	}
	out := make([]byte, 0, 6+n)
	out = append(out, ClaNative, ins, 0x00, 0x00)
	if n > 0 {
		out = append(out, byte(n))
		for _, d := range data {
			out = append(out, d...)
		}
	}
	return append(out, 0x00)
}

// Response splits a response APDU into data and status word.
func Response(r []byte) ([]byte, StatusWord, error) {
	if len(r) < 2 {
		return nil, 0, fmt.Errorf("%w: %d-byte response", ErrMalformed, len(r))
	}
	return r[:len(r)-2], StatusWord(uint16(r[len(r)-2])<<8 | uint16(r[len(r)-1])), nil
}

// ErrMalformed reports a response that is not an APDU response.
var ErrMalformed = errkind.New(errkind.Tag, "malformed response")

// Command is a parsed command APDU (the simulated tag's side).
type Command struct {
	Cla, Ins, P1, P2 byte
	Data             []byte
	HasLe            bool
}

// Parse decodes a short command APDU (cases 1 to 4).
func Parse(c []byte) (Command, error) {
	var cmd Command
	if len(c) < 4 {
		return cmd, ErrMalformed
	}
	cmd.Cla, cmd.Ins, cmd.P1, cmd.P2 = c[0], c[1], c[2], c[3]
	rest := c[4:]
	switch {
	case len(rest) == 0:
	case len(rest) == 1:
		cmd.HasLe = true
	default:
		lc := int(rest[0])
		if lc == 0 || len(rest) < 1+lc || len(rest) > 2+lc {
			return cmd, ErrMalformed
		}
		cmd.Data = rest[1 : 1+lc]
		cmd.HasLe = len(rest) == 2+lc
	}
	return cmd, nil
}
