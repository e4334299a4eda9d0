//go:build cgo

package pcsc

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/reader/sim"
	"github.com/tagline-station/tagline/reader/vpcd"
)

// The ACR122U API's LEDs and buzzer control, as the manual writes it:
// FF 00 40 P2 04 T1 T2 N L.
var (
	acsRedBuzzer = []byte{0xFF, 0x00, 0x40, 0x50, 0x04, 0x03, 0x02, 0x02, 0x01} // red blinks (bits 4, 6), buzzer during T1
	acsGreen     = []byte{0xFF, 0x00, 0x40, 0xA0, 0x04, 0x02, 0x01, 0x01, 0x00} // green blinks (bits 5, 7), silent
)

// recording is an emulated tag that keeps every command it is sent; with
// lights it answers the LED pseudo-APDU 90 00, as a reader that takes it
// for itself would.
type recording struct {
	reader.Emulated
	lights bool
	mu     sync.Mutex
	got    [][]byte
}

func (r *recording) Process(c []byte) []byte {
	r.mu.Lock()
	r.got = append(r.got, slices.Clone(c))
	r.mu.Unlock()
	if r.lights && len(c) >= 3 && c[0] == 0xFF && c[1] == 0x00 && c[2] == 0x40 {
		return []byte{0x90, 0x00}
	}
	return r.Emulated.Process(c)
}

func (r *recording) commands() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

func indicator(t *testing.T, r reader.Reader) reader.Indicator {
	t.Helper()
	ind, ok := r.(reader.Indicator)
	if !ok {
		t.Fatal("a PC/SC reader is not a reader.Indicator")
	}
	return ind
}

// vpcd passes the pseudo-APDU to the tag, which refuses it with an error
// status word, as a real tag would. Indicate says the reader has no
// lights, leaves the tag as it was, and never sends it again this run.
func TestIndicateRefusedByTheTagIsHarmless(t *testing.T) {
	d, st := setup(t, 2)
	tag := sim.New(sim.Options{})
	rec := &recording{Emulated: tag}
	d.Insert(t, 0, rec, vpcd.Options{})
	r := openReader(t, st, d.ReaderName(0))
	tg := waitTag(t, r)
	tg.Close()
	before := len(rec.commands())

	err := indicator(t, r).Indicate(testCtx(t), false)
	if !errors.Is(err, ErrNoIndicator) {
		t.Fatalf("Indicate on a reader that passes the command to the tag: %v, want ErrNoIndicator", err)
	}
	t.Logf("refused: %v", err)
	cmds := rec.commands()[before:]
	if len(cmds) != 1 || !bytes.Equal(cmds[0], acsRedBuzzer) {
		t.Fatalf("sent % X, want the ACS red-and-buzzer command % X", cmds, acsRedBuzzer)
	}
	if !tag.IsFactoryFresh() {
		t.Error("the refused command changed the tag")
	}
	if err := indicator(t, r).Indicate(testCtx(t), true); !errors.Is(err, ErrNoIndicator) {
		t.Errorf("second Indicate: %v, want ErrNoIndicator", err)
	}
	if n := len(rec.commands()) - before; n != 1 {
		t.Errorf("%d commands after the refusal, want it left alone", n-1)
	}
	// The tag still works as before.
	tg = waitTag(t, r)
	transmit(t, tg, selectNDEF, ok)
}

// A reader that takes the command (90 00) keeps being driven: red and
// buzzer after a failure, green after a pass, byte for byte the ACS API.
func TestIndicateOnAReaderWithLights(t *testing.T) {
	d, st := setup(t, 2)
	rec := &recording{Emulated: fakeTag{}, lights: true}
	d.Insert(t, 0, rec, vpcd.Options{})
	r := openReader(t, st, d.ReaderName(0))
	waitTag(t, r).Close()
	before := len(rec.commands())
	ind := indicator(t, r)
	for _, passed := range []bool{false, true, false} {
		if err := ind.Indicate(testCtx(t), passed); err != nil {
			t.Fatalf("Indicate(%v): %v", passed, err)
		}
	}
	want := [][]byte{acsRedBuzzer, acsGreen, acsRedBuzzer}
	if got := rec.commands()[before:]; !slices.EqualFunc(got, want, bytes.Equal) {
		t.Errorf("sent % X, want % X", got, want)
	}
}

// Without a card the command needs the reader's escape ioctl, which vpcd
// (and Debian's libccid by default) refuses: the reader is left alone.
func TestIndicateWithoutACardIsRefusedOnce(t *testing.T) {
	d, st := setup(t, 2)
	r := openReader(t, st, d.ReaderName(1))
	err := indicator(t, r).Indicate(testCtx(t), false)
	if !errors.Is(err, ErrNoIndicator) {
		t.Fatalf("Indicate without a card on vpcd: %v, want ErrNoIndicator", err)
	}
	t.Logf("refused: %v", err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a second call must not even need the context
	if err := indicator(t, r).Indicate(ctx, true); !errors.Is(err, ErrNoIndicator) {
		t.Errorf("second Indicate: %v", err)
	}
	// The reader still takes tags.
	insert(t, d, 1, vpcd.Options{})
	tg := waitTag(t, r)
	transmit(t, tg, selectNDEF, ok)
}
