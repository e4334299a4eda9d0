package encoder_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tagline-station/tagline/apdu"
	"github.com/tagline-station/tagline/encoder"
	"github.com/tagline-station/tagline/reader/sim"
)

// flowLen is the number of exchanges of a factory tag's personalisation
// with the reader's UID (TestPersonaliseFactoryTag).
const flowLen = 14

// hostile is one way a card misbehaves at one exchange.
type hostile struct {
	name string
	arm  func(tag *sim.Tag, k int)
	// want, when set, is the error the flow must report.
	want error
	// recovers: the same tag, presented again without the fault, is
	// finished by a second attempt.
	recovers bool
}

var otherUID = []byte{0x04, 0x66, 0x66, 0x66, 0x66, 0x66, 0x80}

func hostiles() []hostile {
	tamper := func(f sim.Fault) func(*sim.Tag, int) { return func(t *sim.Tag, k int) { t.Tamper(k, f) } }
	garbage := []byte{0x3C, 0x8F, 0x01, 0xEE, 0x72, 0x19, 0xA0, 0x55, 0x42, 0x00, 0xFE, 0x13, 0x37, 0x08, 0xC1, 0x6D, 0x91, 0x00}
	return []hostile{
		{name: "garbage", arm: tamper(sim.Replace(garbage)), recovers: true},
		{name: "empty answer", arm: tamper(sim.Replace(nil)), want: apdu.ErrMalformed, recovers: true},
		{name: "one byte", arm: tamper(sim.Truncate(1)), want: apdu.ErrMalformed, recovers: true},
		{name: "too long", arm: tamper(sim.Extend(300)), want: apdu.ErrMalformed, recovers: true},
		{name: "a few bytes more", arm: tamper(sim.Extend(3)), recovers: true},
		{name: "status 91CA", arm: tamper(sim.WithStatus(apdu.SWCommandAborted)), recovers: true},
		{name: "status 6A82", arm: tamper(sim.WithStatus(apdu.SWISOFileNotFound)), recovers: true},
		{name: "bad mac", arm: tamper(sim.FlipLastData), recovers: true},
		{name: "no answer", arm: func(t *sim.Tag, k int) { t.Stall(k, time.Hour) }, want: encoder.ErrTimeout, recovers: true},
		{name: "uid changes", arm: func(t *sim.Tag, k int) { t.ChangeUID(k, otherUID) }, want: encoder.ErrUIDChanged},
	}
}

// TestHostileTagAtEveryExchange arms each misbehaviour at each exchange
// of the flow. Whatever the card does, Personalise returns (no panic, no
// hang: an exchange has 100 ms here), reports success only for a tag that
// carries our keys and reads back, names the step of any failure, and a
// tag that merely misbehaved once is finished when presented again.
func TestHostileTagAtEveryExchange(t *testing.T) {
	d := deriver(t, masterHex, 1)
	ks, _ := d.Tag(testUID)
	for _, h := range hostiles() {
		for k := 1; k <= flowLen; k++ {
			t.Run(fmt.Sprintf("%s/at=%d", h.name, k), func(t *testing.T) {
				tag := sim.New(sim.Options{UID: testUID})
				r := sim.NewReader("sim0")
				r.Present(tag)
				card, _ := r.WaitTag(context.Background())
				h.arm(tag, k)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				start := time.Now()
				_, err := encoder.Personalise(ctx, card, job(t, d, tag, true), encoder.Options{ExchangeTimeout: 100 * time.Millisecond})
				if el := time.Since(start); el > 3*time.Second {
					t.Fatalf("took %v", el)
				}
				if err == nil {
					if h.want != nil || !tag.IsPersonalisedWith(ks.Keys) {
						t.Fatalf("success although %s", h.name)
					}
					return
				}
				if testing.Verbose() {
					t.Log(err)
				}
				var se *encoder.StepError
				if !errors.As(err, &se) || se.Err == nil || err.Error() == "" {
					t.Fatalf("error %v names no step", err)
				}
				if h.want != nil && !errors.Is(err, h.want) {
					t.Fatalf("%v, want %v", err, h.want)
				}
				if !h.recovers {
					return
				}
				r.Present(tag)
				card, _ = r.WaitTag(context.Background())
				if _, err := encoder.Personalise(context.Background(), card, job(t, d, tag, true), encoder.Options{}); err != nil && !errors.Is(err, encoder.ErrAlreadyOurs) {
					t.Fatalf("presented again after %q: %v", se.Step, err)
				}
				if !tag.IsPersonalisedWith(ks.Keys) {
					t.Fatal("not finished when presented again")
				}
				// A lie about key 0's version may cost the lying tag one
				// attempt; nothing else may.
				if s := sum(tag.Snapshot().TotFailCtr); s > 1 {
					t.Fatalf("%d failed authentications", s)
				}
			})
		}
	}
}

// TestCardsThatAreNotNTAG424 are refused at the SELECT, after one
// exchange, untouched.
func TestCardsThatAreNotNTAG424(t *testing.T) {
	for name, f := range map[string]sim.Fault{"type 2 tag": sim.Type2Tag, "other iso 14443-4 card": sim.OtherISOCard} {
		tag := sim.New(sim.Options{UID: testUID})
		tag.Tamper(0, f)
		res, err := encoder.Personalise(context.Background(), present(t, tag), job(t, deriver(t, masterHex, 1), tag, true), encoder.Options{})
		var se *encoder.StepError
		if !errors.Is(err, encoder.ErrNotNTAG424) || !errors.As(err, &se) || se.Step != encoder.StepSelect {
			t.Fatalf("%s: %v", name, err)
		}
		if res.Exchanges != 1 || !tag.IsFactoryFresh() {
			t.Fatalf("%s: %d exchanges, factory fresh %v", name, res.Exchanges, tag.IsFactoryFresh())
		}
	}
}

// TestUIDChangeIsNamed: the UID the SUN message read back names is not the
// one the keys were derived from.
func TestUIDChangeIsNamed(t *testing.T) {
	tag := sim.New(sim.Options{UID: testUID})
	tag.ChangeUID(3, otherUID)
	_, err := encoder.Personalise(context.Background(), present(t, tag), job(t, deriver(t, masterHex, 1), tag, true), encoder.Options{})
	want := fmt.Sprintf("it was %X, the sun message read back names %X", testUID, otherUID)
	if !errors.Is(err, encoder.ErrUIDChanged) || !strings.Contains(err.Error(), want) {
		t.Fatalf("%v", err)
	}
}
