package station

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/tagline-station/tagline/manifest"
)

const (
	// PaceTags is how many recent results the pace and the timings
	// cover.
	PaceTags = 20
	// PaceHorizon bounds the pace window in time: after a break the pace
	// falls to nothing instead of remembering the morning.
	PaceHorizon = 5 * time.Minute
)

// sample is one result's time and duration.
type sample struct {
	at   time.Time
	d    time.Duration
	pass bool
}

// Tally counts a run's results: the one count the screen, the closing
// summary and the exit code share. A tag can come back: one torn by its
// removal is presented again and finished, or fails again. The run is
// judged by each tag's last attempt, so a tag finished later counts as
// passed and its failed attempt only as retried. The last PaceTags
// results, whatever their outcome, give the pace and the timings.
//
// A Tally is a value: a copy is a snapshot, and adding to it leaves the
// original as it was (the screen's model relies on it).
type Tally struct {
	Total       int // results, every attempt
	Passed      int
	Failed      int // tags whose last attempt failed
	Duplicates  int
	Interrupted int // of Failed, cut short by the end of the run
	Retried     int // failed attempts followed by another attempt of the same tag
	Start, Last time.Time

	open map[manifest.UID]error // the last failure of tags that failed, by UID
	anon []error                // failures before the UID was read

	win  [PaceTags]sample
	n    int // samples held, at most PaceTags
	next int // ring position of the next sample
}

// Add counts one result, at the time it arrived.
func (t *Tally) Add(r *Result, at time.Time) {
	t.Total++
	t.Last = at
	if prev, seen := t.open[r.UID]; seen && r.UID != "" {
		t.open = maps.Clone(t.open)
		delete(t.open, r.UID)
		t.Retried++
		t.Failed--
		if interrupted(prev) {
			t.Interrupted--
		}
	}
	switch {
	case r.Outcome.Passed():
		t.Passed++
	case r.Outcome == manifest.Duplicate:
		t.Duplicates++
	default:
		t.fail(r)
	}
	t.win[t.next] = sample{at: at, d: r.Duration, pass: r.Outcome.Passed()}
	t.next = (t.next + 1) % PaceTags
	t.n = min(t.n+1, PaceTags)
}

func (t *Tally) fail(r *Result) {
	t.Failed++
	if interrupted(r.Err) {
		t.Interrupted++
	}
	if r.UID == "" {
		t.anon = append(slices.Clip(t.anon), r.Err)
		return
	}
	// Failures are rare and few are open at a time: copying the map on
	// each one keeps copies of the Tally apart.
	t.open = maps.Clone(t.open)
	if t.open == nil {
		t.open = map[manifest.UID]error{}
	}
	t.open[r.UID] = r.Err
}

// interrupted reports a tag cut short by the end of the run's context
// (the grace period after Ctrl-C ran out).
func interrupted(err error) bool { return errors.Is(err, context.Canceled) }

// Failures are the errors of the tags whose last attempt failed (nil for
// a failure that carried none).
func (t *Tally) Failures() []error {
	out := make([]error, 0, len(t.open)+len(t.anon))
	for _, err := range t.open {
		out = append(out, err)
	}
	return append(out, t.anon...)
}

// Tags is the number of tags the run saw: attempts less the retried ones.
func (t *Tally) Tags() int { return t.Total - t.Retried }

// Pace is tags per minute over the window: the results within
// PaceHorizon of now among the last PaceTags, k of them, the oldest at
// t0, give (k-1)/(now-t0). At a steady pace it is exact right after a tag
// and it decays while the station stands idle. ok is false with fewer
// than two results in the window.
func (t *Tally) Pace(now time.Time) (perMin float64, ok bool) { return t.pace(now, false) }

// PassPace is Pace counting only the results that passed.
func (t *Tally) PassPace(now time.Time) (perMin float64, ok bool) { return t.pace(now, true) }

func (t *Tally) pace(now time.Time, onlyPass bool) (float64, bool) {
	k := 0
	var oldest time.Time
	for _, s := range t.win[:t.n] {
		if now.Sub(s.at) > PaceHorizon || onlyPass && !s.pass {
			continue
		}
		if k == 0 || s.at.Before(oldest) {
			oldest = s.at
		}
		k++
	}
	span := now.Sub(oldest)
	if k < 2 || span <= 0 {
		return 0, false
	}
	return float64(k-1) / span.Minutes(), true
}

// Rate is tags per second from the start of the run to the last result.
func (t *Tally) Rate() float64 {
	d := t.Last.Sub(t.Start).Seconds()
	if t.Tags() == 0 || d <= 0 {
		return 0
	}
	return float64(t.Tags()) / d
}

// Timing is the mean and the longest duration of the last PaceTags
// results that carry a duration; n is how many did.
func (t *Tally) Timing() (avg, worst time.Duration, n int) {
	var sum time.Duration
	for _, s := range t.win[:t.n] {
		if s.d <= 0 {
			continue
		}
		sum += s.d
		worst = max(worst, s.d)
		n++
	}
	if n == 0 {
		return 0, 0, 0
	}
	return sum / time.Duration(n), worst, n
}
