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
	if tl.Passed != 2 || tl.Failed != 1 || tl.Duplicates != 1 {
		t.Errorf("tally pass %d fail %d dup %d, want 2 1 1", tl.Passed, tl.Failed, tl.Duplicates)
	}
	if m.nrecent != 4 || m.recent[0].outcome != manifest.Duplicate || m.recent[3].uid != uid(0) {
		t.Errorf("recent list %d entries, newest %v, oldest %s", m.nrecent, m.recent[0].outcome, m.recent[3].uid)
	}
}
