//go:build cgo

package readerpaths

import (
	"errors"
	"testing"
	"time"

	"github.com/tagline-station/tagline/apdu"
	"github.com/tagline-station/tagline/encoder"
	"github.com/tagline-station/tagline/reader/sim"
	"github.com/tagline-station/tagline/reader/vpcd"
)

// TestPCSCHostileTags presents misbehaving cards through libpcsclite,
// pcscd and vpcd, one after the other, then a good tag: each bad card is
// refused with its own error class and within the exchange timeout, and
// the stack still personalises the good tag after them.
func TestPCSCHostileTags(t *testing.T) {
	f := newFixture(t)
	env := startPCSC(t, 2)
	garbage := []byte{0x3C, 0x8F, 0x01, 0xEE, 0x72, 0x19, 0xA0, 0x55, 0x42, 0x00, 0xFE, 0x13, 0x37, 0x08, 0xC1, 0x6D, 0x91, 0x00}
	// Encoder exchanges behind vpcd (no UID from the reader): 1 select,
	// 2 read ndef, 3 key version 0, 4-5 authenticate, 6 GetCardUID,
	// 7 write ndef, 8 settings, 9-13 keys, 14-15 read back. The tag also
	// sees pcsc's GET DATA at connection first, hence at(k) = k+1.
	at := func(k int) int { return k + 1 }
	cases := []struct {
		name string
		arm  func(*sim.Tag)
		want error
	}{
		{"garbage", func(tg *sim.Tag) { tg.Tamper(at(3), sim.Replace(garbage)) }, apdu.ErrMalformed},
		// pcscd does not deliver a 1-byte answer from vpcd: the exchange
		// never returns, and the exchange timeout ends it.
		{"too short", func(tg *sim.Tag) { tg.Tamper(at(2), sim.Truncate(1)) }, encoder.ErrTimeout},
		{"too long", func(tg *sim.Tag) { tg.Tamper(at(14), sim.Extend(300)) }, nil},
		{"wrong status word", func(tg *sim.Tag) { tg.Tamper(at(8), sim.WithStatus(apdu.SWCommandAborted)) }, apdu.ErrTag},
		{"bad response mac", func(tg *sim.Tag) { tg.Tamper(at(9), sim.FlipLastData) }, apdu.ErrIntegrity},
		{"no answer", func(tg *sim.Tag) { tg.Stall(at(4), 3*time.Second) }, encoder.ErrTimeout},
		{"uid changes", func(tg *sim.Tag) { tg.ChangeUID(at(7), uidN(5, 0xEE)) }, encoder.ErrUIDChanged},
		{"type 2 tag", func(tg *sim.Tag) { tg.Tamper(0, sim.Type2Tag) }, encoder.ErrNotNTAG424},
		{"other iso card", func(tg *sim.Tag) { tg.Tamper(0, sim.OtherISOCard) }, encoder.ErrNotNTAG424},
	}
	opts := encoder.Options{ExchangeTimeout: 500 * time.Millisecond}
	for i, c := range cases {
		slot := i % 2
		if err := env.readers[slot].WaitRemoved(testCtx(t)); err != nil {
			t.Fatalf("reader %d: WaitRemoved: %v", slot, err)
		}
		tag := sim.New(sim.Options{UID: uidN(5, byte(i))})
		c.arm(tag)
		card := env.insert(t, slot, tag, vpcd.Options{})
		rt := env.waitTag(t, slot)
		start := time.Now()
		_, err := encoder.Personalise(testCtx(t), rt, f.job(rt.UID()), opts)
		el := time.Since(start)
		t.Logf("%s: %v (%v)", c.name, err, el.Round(time.Millisecond))
		if err == nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
		if el > 5*time.Second {
			t.Errorf("%s: took %v", c.name, el)
		}
		rt.Close()
		card.Remove()
	}
	slot := len(cases) % 2
	if err := env.readers[slot].WaitRemoved(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	good := sim.New(sim.Options{UID: uidN(5, 0xFF)})
	env.insert(t, slot, good, vpcd.Options{})
	rt := env.waitTag(t, slot)
	if _, err := encoder.Personalise(testCtx(t), rt, f.job(rt.UID()), opts); err != nil {
		t.Fatalf("the good tag after the hostile ones: %v", err)
	}
	f.checkOurKeys(t, good)
}
