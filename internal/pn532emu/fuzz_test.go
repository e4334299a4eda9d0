package pn532emu

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/tagline-station/tagline/reader/sim"
)

// FuzzParseFrame parses arbitrary bytes from the serial line as the
// emulator's read loop does. ParseFrame must never panic, must always make
// progress on a corrupted frame (the loop would spin otherwise), must never
// consume more than it was given, and a frame it accepts must re-encode to
// a frame that parses back the same.
func FuzzParseFrame(f *testing.F) {
	f.Add(EncodeFrame(TFIHost, []byte{0x14, 0x01}))
	f.Add(ACKFrame)
	f.Add(NACKFrame)
	f.Add(ErrorFrame)
	f.Add(EncodeFrame(TFIHost, bytes.Repeat([]byte{0x40}, 300)))
	f.Fuzz(func(t *testing.T, b []byte) {
		rest := b
		for steps := 0; len(rest) > 0; steps++ {
			if steps > len(b)+1 {
				t.Fatalf("no progress parsing % X", b)
			}
			fr, n, err := ParseFrame(rest)
			if n < 0 || n > len(rest) {
				t.Fatalf("consumed %d of %d bytes", n, len(rest))
			}
			if errors.Is(err, ErrIncomplete) {
				if n == 0 {
					return // the read loop waits for more bytes
				}
				rest = rest[n:]
				continue
			}
			if n == 0 {
				t.Fatalf("%v without consuming anything: % X", err, rest)
			}
			rest = rest[n:]
			if err != nil || fr.Kind != KindInfo {
				continue
			}
			again, m, err := ParseFrame(EncodeFrame(fr.TFI, fr.Data))
			if err != nil || m == 0 || again.TFI != fr.TFI || !bytes.Equal(again.Data, fr.Data) {
				t.Fatalf("frame %+v does not survive re-encoding: %+v %v", fr, again, err)
			}
		}
	})
}

// FuzzHandleFrames feeds arbitrary host frames to the emulator's command
// handler, with a simulated tag in the field: no command, parameter list or
// sequence may panic or block (the frames channel is closed, so a blocking
// listing ends at once, as when the host goes away).
func FuzzHandleFrames(f *testing.F) {
	seq := func(cmds ...[]byte) []byte {
		var out []byte
		for _, c := range cmds {
			out = append(out, EncodeFrame(TFIHost, c)...)
		}
		return out
	}
	f.Add(seq([]byte{CmdSAMConfiguration, 0x01}, []byte{CmdInListPassiveTarget, 0x01, 0x00},
		[]byte{CmdInDataExchange, 0x01, 0x00, 0xA4, 0x04, 0x0C, 0x07, 0xD2, 0x76, 0x00, 0x00, 0x85, 0x01, 0x01, 0x00}))
	f.Add(seq([]byte{CmdInAutoPoll, 0xFF, 0x01, 0x20}, []byte{CmdInDataExchange, 0x41, 0x90}, []byte{CmdInDataExchange, 0x01, 0x60, 0x00, 0x00, 0x00}))
	f.Add(seq([]byte{CmdRFConfiguration, 0x05, 0x00, 0x01, 0x02}, []byte{CmdInListPassiveTarget, 0x01, 0x00, 0x04, 0x01}, []byte{CmdInSelect, 0x01}))
	f.Add(seq([]byte{CmdWriteRegister, 0x63, 0x02, 0x00}, []byte{CmdInCommunicateThru, 0xB2}, []byte{CmdInDeselect, 0x01}, []byte{CmdInRelease, 0x00}))
	f.Fuzz(func(t *testing.T, b []byte) {
		e := newOffline(t)
		e.SetTag(sim.New(sim.Options{UID: []byte{0x04, 1, 2, 3, 4, 5, 6}}))
		for len(b) > 0 {
			fr, n, err := ParseFrame(b)
			if n == 0 {
				return
			}
			b = b[n:]
			if err == nil {
				e.handle(fr)
			}
		}
	})
}

// newOffline is an emulator without a pseudo-terminal: answers go to
// /dev/null and no host frame ever arrives while a command blocks.
func newOffline(t *testing.T) *Emulator {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	e := &Emulator{
		opts:     Options{MaxExchangeData: DefaultMaxExchangeData},
		master:   null,
		frames:   make(chan Frame),
		done:     make(chan struct{}),
		tagEvent: make(chan struct{}),
	}
	close(e.frames)
	e.resetChip()
	t.Cleanup(func() {
		close(e.done)
		null.Close()
	})
	return e
}
