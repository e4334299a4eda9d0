package ui

import (
	"time"

	"github.com/tagline-station/tagline/manifest"
)

const (
	// windowTags is how many recent tags the rate and the timings cover.
	windowTags = 20
	// rateHorizon bounds the rate window in time: after a break the rate
	// falls to nothing instead of remembering the morning.
	rateHorizon = 5 * time.Minute
)

// sample is one tag's result time and duration.
type sample struct {
	at   time.Time
	d    time.Duration
	pass bool
}

// Tally counts this run's results and keeps the last windowTags of them
// for the rate and timings. Every result counts, whatever its outcome: the
// rate is the pace of tags through the station. It is a value; copying it
// copies the window.
type Tally struct {
	Pass      int // encoded or finished
	Fail      int
	Duplicate int

	win  [windowTags]sample
	n    int // samples held, at most windowTags
	next int // ring position of the next sample
}

// Add counts one result.
func (t *Tally) Add(o manifest.Outcome, d time.Duration, at time.Time) {
	switch {
	case o.Passed():
		t.Pass++
	case o == manifest.Duplicate:
		t.Duplicate++
	default:
		t.Fail++
	}
	t.win[t.next] = sample{at: at, d: d, pass: o.Passed()}
	t.next = (t.next + 1) % windowTags
	if t.n < windowTags {
		t.n++
	}
}

// Total is the number of results counted.
func (t Tally) Total() int { return t.Pass + t.Fail + t.Duplicate }

// Rate is tags per minute over the window: the tags within rateHorizon of
// now among the last windowTags, k of them, the oldest at t0, give
// (k-1)/(now-t0). At a steady pace it is exact right after a tag and it
// decays while the station stands idle. ok is false with fewer than two
// tags in the window.
func (t Tally) Rate(now time.Time) (perMin float64, ok bool) {
	return t.rate(now, false)
}

// PassRate is Rate counting only the tags that passed.
func (t Tally) PassRate(now time.Time) (perMin float64, ok bool) {
	return t.rate(now, true)
}

func (t Tally) rate(now time.Time, onlyPass bool) (float64, bool) {
	k := 0
	var oldest time.Time
	for i := 0; i < t.n; i++ {
		s := t.win[i]
		if now.Sub(s.at) > rateHorizon || onlyPass && !s.pass {
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

// Timing is the mean and the longest duration of the last windowTags
// results that carry a duration; n is how many did.
func (t Tally) Timing() (avg, worst time.Duration, n int) {
	var sum time.Duration
	for i := 0; i < t.n; i++ {
		d := t.win[i].d
		if d <= 0 {
			continue
		}
		sum += d
		if d > worst {
			worst = d
		}
		n++
	}
	if n == 0 {
		return 0, 0, 0
	}
	return sum / time.Duration(n), worst, n
}

// Progress is the batch's count of done tags against its target.
type Progress struct {
	Before int // done when the station started (journal)
	Run    int // passed in this run
	Target int // 0: no target
}

// Done is the batch's done count now.
func (p Progress) Done() int { return p.Before + p.Run }

// Fraction of the target done, in [0, 1]; 0 without a target.
func (p Progress) Fraction() float64 {
	if p.Target <= 0 {
		return 0
	}
	f := float64(p.Done()) / float64(p.Target)
	return min(max(f, 0), 1)
}

// Left is how many tags remain to the target (never negative).
func (p Progress) Left() int {
	if p.Target <= 0 {
		return 0
	}
	return max(p.Target-p.Done(), 0)
}
