package pn532emu

import (
	"bytes"
	"errors"
	"testing"
)

func TestEncodeFrame(t *testing.T) {
	// SAMConfiguration normal mode, as libnfc sends it.
	got := EncodeFrame(TFIHost, []byte{0x14, 0x01})
	want := []byte{0x00, 0x00, 0xFF, 0x03, 0xFD, 0xD4, 0x14, 0x01, 0x17, 0x00}
	if !bytes.Equal(got, want) {
		t.Errorf("SAMConfiguration = % X, want % X", got, want)
	}
	// GetFirmwareVersion answer.
	got = EncodeFrame(TFIPN532, []byte{0x03, 0x32, 0x01, 0x06, 0x07})
	want = []byte{0x00, 0x00, 0xFF, 0x06, 0xFA, 0xD5, 0x03, 0x32, 0x01, 0x06, 0x07, 0xE8, 0x00}
	if !bytes.Equal(got, want) {
		t.Errorf("firmware answer = % X, want % X", got, want)
	}
}

func TestEncodeFrameChecksums(t *testing.T) {
	for _, n := range []int{1, 2, 100, 253, 254, 255, 256, 262, 300} {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(i*13 + 5)
		}
		f := EncodeFrame(TFIPN532, data)
		ext := n+1 > 255
		if ext {
			if f[3] != 0xFF || f[4] != 0xFF {
				t.Fatalf("n=%d: no extended marker: % X", n, f[:8])
			}
			if ln := int(f[5])<<8 | int(f[6]); ln != n+1 || byte(f[5]+f[6]+f[7]) != 0 {
				t.Fatalf("n=%d: extended LEN %d, LCS sum %02X", n, ln, byte(f[5]+f[6]+f[7]))
			}
		} else if int(f[3]) != n+1 || byte(f[3]+f[4]) != 0 {
			t.Fatalf("n=%d: LEN %d LCS %02X", n, f[3], f[4])
		}
		var sum byte
		body := f[5:]
		if ext {
			body = f[8:]
		}
		for _, c := range body[:n+2] { // TFI, data, DCS
			sum += c
		}
		if sum != 0 || f[len(f)-1] != 0x00 {
			t.Fatalf("n=%d: DCS sum %02X, postamble %02X", n, sum, f[len(f)-1])
		}
		got, used, err := ParseFrame(f)
		if err != nil || used != len(f) || got.Kind != KindInfo || got.TFI != TFIPN532 || got.Extended != ext || !bytes.Equal(got.Data, data) {
			t.Fatalf("n=%d: ParseFrame = %+v, %d, %v", n, got, used, err)
		}
	}
}

func TestParseFixedFrames(t *testing.T) {
	for _, c := range []struct {
		in   []byte
		kind FrameKind
	}{
		{ACKFrame, KindACK},
		{NACKFrame, KindNACK},
		{ErrorFrame, KindError},
	} {
		f, n, err := ParseFrame(c.in)
		if err != nil || n != len(c.in) || f.Kind != c.kind {
			t.Errorf("% X: %v %d %v, want %v", c.in, f.Kind, n, err, c.kind)
		}
	}
}

// parseAll feeds b to ParseFrame in pieces of size step, like a reader
// that gets partial reads, and returns the frames and errors seen.
func parseAll(b []byte, step int) (frames []Frame, errs []error) {
	var buf []byte
	for len(b) > 0 {
		k := min(step, len(b))
		buf, b = append(buf, b[:k]...), b[k:]
		for len(buf) > 0 {
			f, n, err := ParseFrame(buf)
			buf = buf[n:]
			if err == ErrIncomplete {
				break
			}
			if err != nil {
				errs = append(errs, err)
				continue
			}
			frames = append(frames, f)
		}
	}
	return frames, errs
}

func TestParseResynchronises(t *testing.T) {
	sam := EncodeFrame(TFIHost, []byte{0x14, 0x01})
	diag := EncodeFrame(TFIHost, []byte{0x00, 0x00, 'l', 'i', 'b', 'n', 'f', 'c'})
	long := EncodeFrame(TFIHost, append([]byte{0x40, 0x01}, make([]byte, 300)...))
	badLCS := []byte{0x00, 0x00, 0xFF, 0x05, 0x05, 0xD4, 0x02, 0x2A, 0x00}
	badDCS := EncodeFrame(TFIHost, []byte{0x02})
	badDCS[len(badDCS)-2] ^= 0x55
	var stream []byte
	stream = append(stream, 0x55, 0x55, 0x00, 0x00, 0x00) // libnfc's HSU wake-up
	stream = append(stream, sam...)
	stream = append(stream, 0x13, 0xFF, 0x7A) // line noise
	stream = append(stream, badLCS...)
	stream = append(stream, diag...)
	stream = append(stream, badDCS...)
	stream = append(stream, ACKFrame...)
	stream = append(stream, long...)
	stream = append(stream, 0xFF, 0x00) // noise that looks like half a start code
	stream = append(stream, NACKFrame...)

	for _, step := range []int{1, 2, 3, 7, 64, len(stream)} {
		frames, errs := parseAll(stream, step)
		var kinds []FrameKind
		var cmds []byte
		for _, f := range frames {
			kinds = append(kinds, f.Kind)
			if f.Kind == KindInfo {
				cmds = append(cmds, f.Data[0])
			}
		}
		wantKinds := []FrameKind{KindInfo, KindInfo, KindACK, KindInfo, KindNACK}
		if len(kinds) != len(wantKinds) || !bytes.Equal(cmds, []byte{0x14, 0x00, 0x40}) {
			t.Fatalf("step %d: kinds %v cmds % X, want %v and 14 00 40", step, kinds, cmds, wantKinds)
		}
		for i := range kinds {
			if kinds[i] != wantKinds[i] {
				t.Fatalf("step %d: kinds %v, want %v", step, kinds, wantKinds)
			}
		}
		if !frames[3].Extended || len(frames[3].Data) != 302 {
			t.Errorf("step %d: long frame extended=%v len=%d", step, frames[3].Extended, len(frames[3].Data))
		}
		// With small steps the noise after the long frame's postamble
		// can also read as an empty frame; what matters is that nothing
		// valid is lost.
		if len(errs) < 2 || !errors.Is(errs[0], ErrLengthChecksum) || !errors.Is(errs[1], ErrDataChecksum) {
			t.Errorf("step %d: errors %v, want length then data checksum", step, errs)
		}
	}
}

func TestParseIncomplete(t *testing.T) {
	f := EncodeFrame(TFIHost, []byte{0x4A, 0x01, 0x00})
	for i := 0; i < len(f)-1; i++ { // the postamble is optional
		if _, n, err := ParseFrame(f[:i]); err != ErrIncomplete || n > 1 {
			t.Errorf("prefix %d: n=%d err=%v, want incomplete keeping the frame", i, n, err)
		}
	}
	// Garbage without a start code is dropped, except a trailing 00.
	if _, n, err := ParseFrame([]byte{1, 2, 3, 0}); err != ErrIncomplete || n != 3 {
		t.Errorf("garbage: n=%d err=%v", n, err)
	}
}

func TestParseRejectsAbsurdLength(t *testing.T) {
	// An extended header with a valid checksum but a length no PN532
	// handles must not make the reader wait for 65 kB.
	b := []byte{0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xF0, 0x00, 0x10}
	if _, n, err := ParseFrame(b); !errors.Is(err, ErrFrameTooLong) || n != 3 {
		t.Errorf("n=%d err=%v", n, err)
	}
}
