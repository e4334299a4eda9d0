package readerpaths

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tagline-station/tagline/encoder"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/reader/sim"
	"github.com/tagline-station/tagline/station"
)

// namedBench is a sub-benchmark that the cgo-only files register in init,
// so that this file builds without cgo.
type namedBench struct {
	name string
	fn   func(b *testing.B)
}

var (
	pathBenches []namedBench // BenchmarkPersonalisePath/<name>
	laneBenches []namedBench // BenchmarkLanes/<name>
)

// BenchmarkPersonalisePath personalises one fresh factory tag per iteration
// through each reader path, without the tag's timing model, so that the
// difference between paths is the stacks' own cost. Presenting the tag and
// waiting for the reader to see it are outside the timer.
func BenchmarkPersonalisePath(b *testing.B) {
	b.Run("inprocess", func(b *testing.B) {
		r := sim.NewReader("bench")
		benchPath(b, func(b *testing.B) (reader.Tag, *sim.Tag, func()) {
			tag := sim.New(sim.Options{})
			r.Present(tag)
			rt, err := r.WaitTag(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			return rt, tag, func() {
				rt.Close()
				r.Remove()
			}
		})
	})
	if len(pathBenches) == 0 {
		b.Log("built without cgo: no pcsc or libnfc path")
	}
	for _, p := range pathBenches {
		b.Run(p.name, p.fn)
	}
}

// benchPath runs b.N personalisations. next presents a fresh tag and
// returns it connected, with a function that takes it away; both run with
// the timer stopped. It reports ms/tag, µs/apdu (timed time over the
// encoder's exchanges, the stack's round trip plus the work on both ends)
// and apdus/tag.
func benchPath(b *testing.B, next func(b *testing.B) (rt reader.Tag, tag *sim.Tag, takeAway func())) {
	f := newFixture(b)
	ctx := context.Background()
	apdus := 0
	b.StopTimer()
	b.ResetTimer()
	for i := range b.N {
		rt, tag, takeAway := next(b)
		b.StartTimer()
		res, err := encoder.Personalise(ctx, rt, f.job(rt.UID()), encoder.Options{})
		b.StopTimer()
		if err != nil {
			b.Fatalf("tag %d: %v", i, err)
		}
		if i == 0 {
			f.verifyURL(b, res.URL, tag.UID())
			f.checkOurKeys(b, tag)
		}
		apdus += res.Exchanges
		takeAway()
	}
	reportPath(b, apdus)
}

func reportPath(b *testing.B, apdus int) {
	d := b.Elapsed()
	b.ReportMetric(float64(d.Microseconds())/1000/float64(b.N), "ms/tag")
	b.ReportMetric(float64(d.Microseconds())/float64(apdus), "µs/apdu")
	b.ReportMetric(float64(apdus)/float64(b.N), "apdus/tag")
}

// BenchmarkLanes measures station throughput with one lane and with eight,
// with the tag's timing model on (sim.Timing106: 85 µs per byte on air,
// 1 ms per EEPROM write), so that a lane spends its time waiting on the
// tag as with real hardware rather than racing the others for the CPU.
// Each iteration is one tag per lane; lanes=8 reports its speedup over
// lanes=1 of the same path.
func BenchmarkLanes(b *testing.B) {
	b.Run("sim", func(b *testing.B) { laneSizes(b, benchSimLanes) })
	for _, p := range laneBenches {
		b.Run(p.name, p.fn)
	}
}

// laneSizes runs lanes=1 and lanes=8 of one path. run returns the number
// of tags it personalised in the timed time and the sum of their
// station.Result.Duration, reported as ms/tag: the time one tag takes in
// its lane, which shows how much the lanes slow each other down.
func laneSizes(b *testing.B, run func(b *testing.B, lanes int) (int, time.Duration)) {
	var single float64
	for _, lanes := range []int{1, 8} {
		b.Run(fmt.Sprintf("lanes=%d", lanes), func(b *testing.B) {
			tags, busy := run(b, lanes)
			rate := float64(tags) / b.Elapsed().Seconds()
			b.ReportMetric(rate, "tags/s")
			b.ReportMetric(float64(busy.Microseconds())/1000/float64(tags), "ms/tag")
			switch {
			case lanes == 1:
				single = rate
			case single > 0:
				b.ReportMetric(rate/single, "speedup")
			}
		})
	}
}

// benchSimLanes runs station.Lane on in-process readers: each lane waits
// for a tag, encodes it with the journal, waits for it to leave; the tags
// are presented and taken away as soon as the lane asks, so everything a
// lane does is timed, journal commits included.
func benchSimLanes(b *testing.B, lanes int) (int, time.Duration) {
	f := newFixture(b)
	store, st := f.journal(b, "bench", 0)
	readers := make([]*sim.Reader, lanes)
	index := map[string]int{}
	tags := make([][]*sim.Tag, lanes)
	for i := range lanes {
		name := fmt.Sprintf("sim%d", i)
		readers[i], index[name] = sim.NewReader(name), i
		for range b.N {
			tags[i] = append(tags[i], sim.New(sim.Options{Timing: sim.Timing106()}))
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := make(chan station.Event, 16*lanes)
	b.ResetTimer()
	for i := range lanes {
		go st.Lane(ctx, readers[i], station.LaneOptions{Limit: b.N}, events)
	}
	next := make([]int, lanes)
	var busy time.Duration
	for stopped := 0; stopped < lanes; {
		e := <-events
		i := index[e.Reader]
		switch e.Kind {
		case station.EvWaiting:
			readers[i].Present(tags[i][next[i]])
			next[i]++
		case station.EvResult:
			if e.Result.Outcome != manifest.Encoded {
				b.Fatalf("lane %d: %+v", i, e.Result)
			}
			busy += e.Result.Duration
			readers[i].Remove()
		case station.EvReaderLost:
			b.Fatalf("lane %d: %v", i, e.Err)
		case station.EvStopped:
			stopped++
		}
	}
	b.StopTimer()
	if s, err := store.Stats("bench"); err != nil || s.Done != lanes*b.N {
		b.Fatalf("journal: %+v %v, want %d bindings", s, err, lanes*b.N)
	}
	return lanes * b.N, busy
}
