package station_test

import (
	"context"
	"encoding/hex"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tagline-station/tagline/apdu"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/reader/sim"
	"github.com/tagline-station/tagline/station"
)

// TestLaneGoesOnPastHostileTags runs one lane over a row of misbehaving
// cards and then a good tag: each bad card is refused with its own reason
// and a hint, none ends or hangs the lane (a card that stops answering
// costs one exchange timeout), nothing is bound for them, and the good tag
// after them is encoded.
func TestLaneGoesOnPastHostileTags(t *testing.T) {
	f := newFixture(t, filepath.Join(t.TempDir(), "j.db"))
	cfg := f.cfg
	cfg.ExchangeTimeout = 200 * time.Millisecond
	st, err := station.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	garbage := []byte{0x3C, 0x8F, 0x01, 0xEE, 0x72, 0x19, 0xA0, 0x55, 0x42, 0x00, 0xFE, 0x13, 0x37, 0x08, 0xC1, 0x6D, 0x91, 0x00}
	// Exchanges of this flow: 1 select, 2 read ndef, 3 key version 0,
	// 4-5 authenticate, 6-7 write ndef, 8 settings, 9-13 keys 1-4 and 0,
	// 14-15 read back.
	cases := []struct {
		name   string
		arm    func(*sim.Tag)
		reason string // the reason starts with it
		hint   string // the hint contains it
	}{
		{"garbage", func(t *sim.Tag) { t.Tamper(3, sim.Replace(garbage)) }, "the tag gave a malformed answer during read key versions", "present the tag again"},
		{"too short", func(t *sim.Tag) { t.Tamper(2, sim.Truncate(1)) }, "the tag gave a malformed answer during read existing ndef", "may not be an NTAG 424 DNA"},
		{"too long", func(t *sim.Tag) { t.Tamper(14, sim.Extend(300)) }, "the tag gave a malformed answer during read back", "present the tag again"},
		{"wrong status word", func(t *sim.Tag) { t.Tamper(8, sim.WithStatus(apdu.SWCommandAborted)) }, "tag answered with an error during change file settings", "present the tag again"},
		{"bad response mac", func(t *sim.Tag) { t.Tamper(9, sim.FlipLastData) }, "communication error during change keys", "present the tag again"},
		{"no answer", func(t *sim.Tag) { t.Stall(4, time.Hour) }, "tag stopped answering during authenticate", "remove the tag and present it again"},
		{"uid changes", func(t *sim.Tag) { t.ChangeUID(2, []byte{0x04, 0x66, 0x66, 0x66, 0x66, 0x66, 0x80}) }, "the tag's UID changed during encoding", "do not present it again"},
		{"type 2 tag", func(t *sim.Tag) { t.Tamper(0, sim.Type2Tag) }, "not an NTAG 424 DNA", "NTAG 424 DNA tags only"},
		{"other iso card", func(t *sim.Tag) { t.Tamper(0, sim.OtherISOCard) }, "not an NTAG 424 DNA", "NTAG 424 DNA tags only"},
	}
	r := sim.NewReader("sim0")
	events := make(chan station.Event, 64)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- st.Lane(ctx, r, station.LaneOptions{Limit: len(cases) + 1}, events) }()
	var results []*station.Result
	next := 0
	for len(results) < len(cases)+1 {
		var e station.Event
		select {
		case e = <-events:
		case <-ctx.Done():
			t.Fatalf("the lane hung after %d results", len(results))
		}
		switch e.Kind {
		case station.EvWaiting:
			tag := sim.New(sim.Options{UID: uid(byte(next + 1))})
			if next < len(cases) {
				cases[next].arm(tag)
			}
			next++
			r.Present(tag)
		case station.EvResult:
			results = append(results, e.Result)
			r.Remove()
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		res := results[i]
		if res.Outcome != manifest.Failed || !strings.HasPrefix(res.Reason, c.reason) || !strings.Contains(res.Hint, c.hint) {
			t.Errorf("%s: %s %q %q (%v)", c.name, res.Outcome, res.Reason, res.Hint, res.Err)
		}
		if _, ok, _ := f.store.Lookup(manifest.UID(upper(uid(byte(i + 1))))); ok {
			t.Errorf("%s: bound", c.name)
		}
	}
	if last := results[len(cases)]; last.Outcome != manifest.Encoded {
		t.Fatalf("the good tag after them: %+v", last)
	}
	if errors.Is(results[5].Err, context.DeadlineExceeded) {
		t.Error("the timeout is reported as the caller's deadline")
	}
}

func upper(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }
