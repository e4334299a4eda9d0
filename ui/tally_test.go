package ui

import (
	"math"
	"testing"
	"time"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/station"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestRateSteadyPace(t *testing.T) {
	var tl Tally
	for i := 0; i < 10; i++ {
		tl.Add(manifest.Encoded, 400*time.Millisecond, at(time.Duration(i)*3*time.Second))
	}
	// Right after the tenth tag: nine intervals of 3 s.
	if r, ok := tl.Rate(at(27 * time.Second)); !ok || !near(r, 20) {
		t.Errorf("rate %v %v, want 20/min", r, ok)
	}
	// Idle for 30 s more: 9 intervals over 57 s.
	if r, ok := tl.Rate(at(57 * time.Second)); !ok || !near(r, 9/(57.0/60)) {
		t.Errorf("decayed rate %v %v, want %v", r, ok, 9/(57.0/60))
	}
}

func TestRateNeedsTwoTags(t *testing.T) {
	var tl Tally
	if _, ok := tl.Rate(at(0)); ok {
		t.Error("rate with no tag")
	}
	tl.Add(manifest.Encoded, time.Second, at(0))
	if _, ok := tl.Rate(at(time.Minute)); ok {
		t.Error("rate with one tag")
	}
	tl.Add(manifest.Encoded, time.Second, at(0))
	if _, ok := tl.Rate(at(0)); ok {
		t.Error("rate over no time")
	}
}

func TestRateHorizonForgetsBeforeABreak(t *testing.T) {
	var tl Tally
	for i := 0; i < 10; i++ {
		tl.Add(manifest.Encoded, 0, at(time.Duration(i)*time.Second))
	}
	// A 10-minute break, then two tags 6 s apart.
	tl.Add(manifest.Encoded, 0, at(10*time.Minute))
	tl.Add(manifest.Encoded, 0, at(10*time.Minute+6*time.Second))
	if r, ok := tl.Rate(at(10*time.Minute + 6*time.Second)); !ok || !near(r, 10) {
		t.Errorf("rate %v %v, want 10/min from the two tags after the break", r, ok)
	}
	// Long after the last tag the window is empty.
	if _, ok := tl.Rate(at(20 * time.Minute)); ok {
		t.Error("rate 10 minutes after the last tag")
	}
}

func TestWindowKeepsLastTwentyTags(t *testing.T) {
	var tl Tally
	// Five slow tags first, which fall out of the window.
	for i := 0; i < 5; i++ {
		tl.Add(manifest.Encoded, 9*time.Second, at(time.Duration(i)*time.Second))
	}
	for i := 0; i < windowTags; i++ {
		d := time.Duration(300+10*i) * time.Millisecond
		tl.Add(manifest.Encoded, d, at(time.Minute+time.Duration(i)*2*time.Second))
	}
	avg, worst, n := tl.Timing()
	if n != windowTags {
		t.Fatalf("timing over %d tags, want %d", n, windowTags)
	}
	if worst != 490*time.Millisecond {
		t.Errorf("worst %v, want 490ms (the 9 s tags left the window)", worst)
	}
	if avg != 395*time.Millisecond {
		t.Errorf("avg %v, want 395ms", avg)
	}
	last := at(time.Minute + 38*time.Second)
	if r, ok := tl.Rate(last); !ok || !near(r, 30) {
		t.Errorf("rate %v %v, want 30/min over the last 20 tags", r, ok)
	}
	if tl.Pass != 25 {
		t.Errorf("pass %d, want 25: counts are not windowed", tl.Pass)
	}
}

func TestTimingSkipsUnknownDurations(t *testing.T) {
	var tl Tally
	if _, _, n := tl.Timing(); n != 0 {
		t.Errorf("timing of nothing over %d tags", n)
	}
	tl.Add(manifest.Failed, 0, at(0))
	tl.Add(manifest.Failed, 2*time.Second, at(time.Second))
	tl.Add(manifest.Encoded, time.Second, at(2*time.Second))
	avg, worst, n := tl.Timing()
	if n != 2 || avg != 1500*time.Millisecond || worst != 2*time.Second {
		t.Errorf("timing %v %v %d, want 1.5s 2s 2", avg, worst, n)
	}
}

func TestTallyCountsAndPassRate(t *testing.T) {
	var tl Tally
	outcomes := []manifest.Outcome{manifest.Encoded, manifest.Finished, manifest.Failed, manifest.Duplicate, manifest.Encoded, "something new"}
	for i, o := range outcomes {
		tl.Add(o, time.Second, at(time.Duration(i)*10*time.Second))
	}
	if tl.Pass != 3 || tl.Fail != 2 || tl.Duplicate != 1 || tl.Total() != 6 {
		t.Errorf("counts pass %d fail %d dup %d total %d, want 3 2 1 6", tl.Pass, tl.Fail, tl.Duplicate, tl.Total())
	}
	// Passes at 0, 10, 40 s: two intervals over 40 s.
	if r, ok := tl.PassRate(at(40 * time.Second)); !ok || !near(r, 3) {
		t.Errorf("pass rate %v %v, want 3/min", r, ok)
	}
	if r, ok := tl.Rate(at(50 * time.Second)); !ok || !near(r, 6) {
		t.Errorf("rate %v %v, want 6/min", r, ok)
	}
}

func TestProgress(t *testing.T) {
	cases := []struct {
		p          Progress
		done, left int
		frac       float64
	}{
		{Progress{Before: 400, Run: 20, Target: 1000}, 420, 580, 0.42},
		{Progress{Before: 990, Run: 20, Target: 1000}, 1010, 0, 1},
		{Progress{Before: 5, Run: 1}, 6, 0, 0},
		{Progress{}, 0, 0, 0},
	}
	for _, c := range cases {
		if c.p.Done() != c.done || c.p.Left() != c.left || !near(c.p.Fraction(), c.frac) {
			t.Errorf("%+v: done %d left %d fraction %v, want %d %d %v", c.p, c.p.Done(), c.p.Left(), c.p.Fraction(), c.done, c.left, c.frac)
		}
	}
}

// The model's counts: the journal's done count plus this run's passes;
// duplicates and failures do not advance the batch.
func TestModelProgressCounts(t *testing.T) {
	now := at(time.Minute)
	m := NewModel(Config{
		Batch: batch.Batch{ID: "B1", SKU: "S"}, Stats: batch.BatchStats{Done: 10, Failed: 3, Target: 50},
		Now: func() time.Time { return now }, NoColor: true,
	})
	evs := with(cycle("r", pass(uid(0), time.Second), 0),
		cycle("r", station.Result{UID: manifest.UID(uid(1)), Outcome: manifest.Finished, Duration: time.Second}, 5*time.Second)...)
	evs = append(evs, cycle("r", failed(uid(2), time.Second, batch.ErrBatchClosed), 10*time.Second)...)
	evs = append(evs, cycle("r", duplicate(uid(0)), 15*time.Second)...)
	m = drive(m, events(evs)...)
	p := m.Progress()
	if p.Before != 10 || p.Run != 2 || p.Target != 50 || p.Done() != 12 {
		t.Errorf("progress %+v, want 10 before, 2 this run, target 50 (from the stats)", p)
	}
	tl := m.Tally()
	if tl.Pass != 2 || tl.Fail != 1 || tl.Duplicate != 1 {
		t.Errorf("tally pass %d fail %d dup %d, want 2 1 1", tl.Pass, tl.Fail, tl.Duplicate)
	}
	if m.nrecent != 4 || m.recent[0].outcome != manifest.Duplicate || m.recent[3].uid != uid(0) {
		t.Errorf("recent list %d entries, newest %v, oldest %s", m.nrecent, m.recent[0].outcome, m.recent[3].uid)
	}
}
