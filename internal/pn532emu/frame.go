package pn532emu

import (
	"errors"
	"fmt"
)

// Frame identifiers (TFI) of PN532 information frames.
const (
	TFIHost  = 0xD4 // host controller → PN532
	TFIPN532 = 0xD5 // PN532 → host controller
	tfiError = 0x7F // application-level error frame
)

// maxFrameLen bounds LEN (TFI + data) of a frame the parser accepts. The
// PN532 handles at most 265 bytes of TFI + data; anything longer is a
// corrupted header and is resynchronised past instead of waited for.
const maxFrameLen = 320

// Fixed frames of the HSU protocol.
var (
	ACKFrame   = []byte{0x00, 0x00, 0xFF, 0x00, 0xFF, 0x00}
	NACKFrame  = []byte{0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00}
	ErrorFrame = []byte{0x00, 0x00, 0xFF, 0x01, 0xFF, 0x7F, 0x81, 0x00}
)

// FrameKind tells what ParseFrame found.
type FrameKind int

const (
	KindInfo  FrameKind = iota // information frame (normal or extended)
	KindACK                    // 00 00 FF 00 FF 00
	KindNACK                   // 00 00 FF FF 00 00
	KindError                  // application-level error frame (TFI 7F)
)

func (k FrameKind) String() string {
	switch k {
	case KindInfo:
		return "info"
	case KindACK:
		return "ACK"
	case KindNACK:
		return "NACK"
	case KindError:
		return "error"
	}
	return fmt.Sprintf("FrameKind(%d)", int(k))
}

// Frame is one decoded HSU frame.
type Frame struct {
	Kind     FrameKind
	TFI      byte   // D4 or D5 for information frames
	Data     []byte // command code and parameters (PD0…PDn), without TFI
	Extended bool   // sent in the extended frame format
}

// Parser errors. ErrIncomplete asks for more bytes; the others report a
// corrupted frame that ParseFrame skipped over.
var (
	ErrIncomplete     = errors.New("pn532emu: incomplete frame")
	ErrLengthChecksum = errors.New("pn532emu: length checksum mismatch")
	ErrDataChecksum   = errors.New("pn532emu: data checksum mismatch")
	ErrFrameTooLong   = errors.New("pn532emu: frame length out of range")
)

// EncodeFrame builds an information frame 00 00 FF LEN LCS TFI PD… DCS 00,
// switching to the extended format (LEN = FF FF LENM LENL LCS) when TFI +
// data do not fit in 255 bytes.
func EncodeFrame(tfi byte, data []byte) []byte {
	return appendFrame(nil, tfi, data)
}

func appendFrame(dst []byte, tfi byte, data []byte) []byte {
	n := len(data) + 1 // LEN counts TFI + data
	dst = append(dst, 0x00, 0x00, 0xFF)
	if n <= 0xFF {
		dst = append(dst, byte(n), byte(-n))
	} else {
		hi, lo := byte(n>>8), byte(n)
		dst = append(dst, 0xFF, 0xFF, hi, lo, -(hi + lo))
	}
	sum := tfi
	dst = append(dst, tfi)
	for _, b := range data {
		sum += b
	}
	dst = append(dst, data...)
	return append(dst, -sum, 0x00)
}

// ParseFrame finds the first frame in b. It returns the frame and n, the
// number of bytes of b that are consumed (garbage before the start code, the
// frame and its postamble).
//
// When b holds no complete frame it returns ErrIncomplete with n set to the
// number of leading bytes that can never start a frame (they may be
// dropped). When a frame header or body fails its checksum it returns
// ErrLengthChecksum, ErrDataChecksum or ErrFrameTooLong with n just past the
// offending start code, so that the caller resynchronises on the next 00 FF.
//
// The preamble byte and the postamble are optional: the frame starts at the
// start code 00 FF and a postamble 00 is consumed when it is already in b.
func ParseFrame(b []byte) (f Frame, n int, err error) {
	i := indexStart(b)
	if i < 0 {
		// Keep a trailing 00: it may be the first half of a start code.
		if len(b) > 0 && b[len(b)-1] == 0x00 {
			return Frame{}, len(b) - 1, ErrIncomplete
		}
		return Frame{}, len(b), ErrIncomplete
	}
	p := i + 2 // first byte after 00 FF
	if len(b) < p+2 {
		return Frame{}, i, ErrIncomplete
	}
	ln, lcs := b[p], b[p+1]
	var bodyLen, body int
	switch {
	case ln == 0x00 && lcs == 0xFF:
		return Frame{Kind: KindACK}, postamble(b, p+2), nil
	case ln == 0xFF && lcs == 0x00:
		return Frame{Kind: KindNACK}, postamble(b, p+2), nil
	case ln == 0xFF && lcs == 0xFF:
		if len(b) < p+5 {
			return Frame{}, i, ErrIncomplete
		}
		hi, lo, xcs := b[p+2], b[p+3], b[p+4]
		if hi+lo+xcs != 0 {
			return Frame{}, p, ErrLengthChecksum
		}
		bodyLen = int(hi)<<8 | int(lo)
		body = p + 5
		f.Extended = true
	default:
		if ln+lcs != 0 {
			return Frame{}, p, ErrLengthChecksum
		}
		bodyLen = int(ln)
		body = p + 2
	}
	if bodyLen == 0 || bodyLen > maxFrameLen {
		return Frame{}, p, ErrFrameTooLong
	}
	end := body + bodyLen + 1 // TFI+data, DCS
	if len(b) < end {
		return Frame{}, i, ErrIncomplete
	}
	var sum byte
	for _, c := range b[body:end] {
		sum += c
	}
	if sum != 0 {
		return Frame{}, p, ErrDataChecksum
	}
	f.TFI = b[body]
	f.Data = append([]byte(nil), b[body+1:end-1]...)
	f.Kind = KindInfo
	if f.TFI == tfiError && len(f.Data) == 0 {
		f.Kind = KindError
	}
	return f, postamble(b, end), nil
}

func indexStart(b []byte) int {
	for i := 0; i+1 < len(b); i++ {
		if b[i] == 0x00 && b[i+1] == 0xFF {
			return i
		}
	}
	return -1
}

func postamble(b []byte, at int) int {
	if at < len(b) && b[at] == 0x00 {
		return at + 1
	}
	return at
}
