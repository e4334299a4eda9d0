package station

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/tagline-station/tagline/encoder"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/reader"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

var t0 = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func TestPaceSteadyPace(t *testing.T) {
	var tl Tally
	for i := 0; i < 10; i++ {
		tl.Add(&Result{Outcome: manifest.Encoded, Duration: 400 * time.Millisecond}, at(time.Duration(i)*3*time.Second))
	}
	// Right after the tenth tag: nine intervals of 3 s.
	if r, ok := tl.Pace(at(27 * time.Second)); !ok || !near(r, 20) {
		t.Errorf("rate %v %v, want 20/min", r, ok)
	}
	// Idle for 30 s more: 9 intervals over 57 s.
	if r, ok := tl.Pace(at(57 * time.Second)); !ok || !near(r, 9/(57.0/60)) {
		t.Errorf("decayed rate %v %v, want %v", r, ok, 9/(57.0/60))
	}
}

func TestPaceNeedsTwoTags(t *testing.T) {
	var tl Tally
	if _, ok := tl.Pace(at(0)); ok {
		t.Error("rate with no tag")
	}
	tl.Add(&Result{Outcome: manifest.Encoded, Duration: time.Second}, at(0))
	if _, ok := tl.Pace(at(time.Minute)); ok {
		t.Error("rate with one tag")
	}
	tl.Add(&Result{Outcome: manifest.Encoded, Duration: time.Second}, at(0))
	if _, ok := tl.Pace(at(0)); ok {
		t.Error("rate over no time")
	}
}

func TestPaceHorizonForgetsBeforeABreak(t *testing.T) {
	var tl Tally
	for i := 0; i < 10; i++ {
		tl.Add(&Result{Outcome: manifest.Encoded, Duration: 0}, at(time.Duration(i)*time.Second))
	}
	// A 10-minute break, then two tags 6 s apart.
	tl.Add(&Result{Outcome: manifest.Encoded, Duration: 0}, at(10*time.Minute))
	tl.Add(&Result{Outcome: manifest.Encoded, Duration: 0}, at(10*time.Minute+6*time.Second))
	if r, ok := tl.Pace(at(10*time.Minute + 6*time.Second)); !ok || !near(r, 10) {
		t.Errorf("rate %v %v, want 10/min from the two tags after the break", r, ok)
	}
	// Long after the last tag the window is empty.
	if _, ok := tl.Pace(at(20 * time.Minute)); ok {
		t.Error("rate 10 minutes after the last tag")
	}
}

func TestWindowKeepsLastTwentyTags(t *testing.T) {
	var tl Tally
	// Five slow tags first, which fall out of the window.
	for i := 0; i < 5; i++ {
		tl.Add(&Result{Outcome: manifest.Encoded, Duration: 9 * time.Second}, at(time.Duration(i)*time.Second))
	}
	for i := 0; i < PaceTags; i++ {
		d := time.Duration(300+10*i) * time.Millisecond
		tl.Add(&Result{Outcome: manifest.Encoded, Duration: d}, at(time.Minute+time.Duration(i)*2*time.Second))
	}
	avg, worst, n := tl.Timing()
	if n != PaceTags {
		t.Fatalf("timing over %d tags, want %d", n, PaceTags)
	}
	if worst != 490*time.Millisecond {
		t.Errorf("worst %v, want 490ms (the 9 s tags left the window)", worst)
	}
	if avg != 395*time.Millisecond {
		t.Errorf("avg %v, want 395ms", avg)
	}
	last := at(time.Minute + 38*time.Second)
	if r, ok := tl.Pace(last); !ok || !near(r, 30) {
		t.Errorf("rate %v %v, want 30/min over the last 20 tags", r, ok)
	}
	if tl.Passed != 25 {
		t.Errorf("pass %d, want 25: counts are not windowed", tl.Passed)
	}
}

func TestTimingSkipsUnknownDurations(t *testing.T) {
	var tl Tally
	if _, _, n := tl.Timing(); n != 0 {
		t.Errorf("timing of nothing over %d tags", n)
	}
	tl.Add(&Result{Outcome: manifest.Failed, Duration: 0}, at(0))
	tl.Add(&Result{Outcome: manifest.Failed, Duration: 2 * time.Second}, at(time.Second))
	tl.Add(&Result{Outcome: manifest.Encoded, Duration: time.Second}, at(2*time.Second))
	avg, worst, n := tl.Timing()
	if n != 2 || avg != 1500*time.Millisecond || worst != 2*time.Second {
		t.Errorf("timing %v %v %d, want 1.5s 2s 2", avg, worst, n)
	}
}

func TestTallyCountsAndPassPace(t *testing.T) {
	var tl Tally
	outcomes := []manifest.Outcome{manifest.Encoded, manifest.Finished, manifest.Failed, manifest.Duplicate, manifest.Encoded, "something new"}
	for i, o := range outcomes {
		tl.Add(&Result{Outcome: o, Duration: time.Second}, at(time.Duration(i)*10*time.Second))
	}
	if tl.Passed != 3 || tl.Failed != 2 || tl.Duplicates != 1 || tl.Total != 6 {
		t.Errorf("counts pass %d fail %d dup %d total %d, want 3 2 1 6", tl.Passed, tl.Failed, tl.Duplicates, tl.Total)
	}
	// Passes at 0, 10, 40 s: two intervals over 40 s.
	if r, ok := tl.PassPace(at(40 * time.Second)); !ok || !near(r, 3) {
		t.Errorf("pass rate %v %v, want 3/min", r, ok)
	}
	if r, ok := tl.Pace(at(50 * time.Second)); !ok || !near(r, 6) {
		t.Errorf("rate %v %v, want 6/min", r, ok)
	}
}

// A tag is judged by its last attempt: a torn tag finished later counts
// as passed, its failure as retried; a copy taken before is unchanged.
func TestTallyJudgesEachTagByItsLastAttempt(t *testing.T) {
	var tl Tally
	tl.Add(&Result{UID: "04000000000001", Outcome: manifest.Failed, Err: context.Canceled}, at(0))
	tl.Add(&Result{Outcome: manifest.Failed}, at(time.Second)) // before the UID was read
	before := tl
	tl.Add(&Result{UID: "04000000000001", Outcome: manifest.Finished}, at(2*time.Second))
	if tl.Total != 3 || tl.Passed != 1 || tl.Failed != 1 || tl.Retried != 1 || tl.Interrupted != 0 || tl.Tags() != 2 || len(tl.Failures()) != 1 {
		t.Errorf("after the retry: %+v, %d failures", tl, len(tl.Failures()))
	}
	if before.Failed != 2 || before.Interrupted != 1 || len(before.Failures()) != 2 {
		t.Errorf("the copy changed: %+v, %d failures", before, len(before.Failures()))
	}
	before.Add(&Result{UID: "04000000000002", Outcome: manifest.Failed}, at(3*time.Second))
	if len(tl.Failures()) != 1 {
		t.Errorf("adding to a copy changed the original: %d failures", len(tl.Failures()))
	}
}

// A tag cut short by the end of the run is told from other failures by
// the error chain, not by words that any message may contain.
func TestInterrupted(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"canceled", context.Canceled, true},
		{"canceled in a step", &encoder.StepError{Step: encoder.StepAuth, Err: fmt.Errorf("x: %w", context.Canceled)}, true},
		{"reader saw the cancel as a removal", reader.RemovedError(fmt.Errorf("libnfc transceive: %w", context.Canceled)), true},
		{"removed", reader.RemovedError(errors.New("card gone")), false},
		{"the words only", errors.New("remote answered 502: upstream: context canceled"), false},
		{"deadline", context.DeadlineExceeded, false},
	} {
		if got := interrupted(tc.err); got != tc.want {
			t.Errorf("%s: interrupted(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
