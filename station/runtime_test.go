package station_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/reader/sim"
	"github.com/tagline-station/tagline/station"
)

// feeder presents a fresh tag as soon as the lane saw the last one leave,
// as the cmd's simulated reader does, with an optional timing model.
type feeder struct {
	r       *sim.Reader
	timing  *sim.Timing
	result  chan struct{}
	removed chan struct{}
	mu      sync.Mutex
	tags    []*sim.Tag
}

func newFeeder(r *sim.Reader, timing *sim.Timing) *feeder {
	return &feeder{r: r, timing: timing, result: make(chan struct{}, 1), removed: make(chan struct{}, 1)}
}

func poke(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (f *feeder) ResultSeen()  { poke(f.result) }
func (f *feeder) RemovedSeen() { poke(f.removed) }

func (f *feeder) Run(ctx context.Context) {
	for {
		tag := sim.New(sim.Options{Timing: f.timing})
		f.mu.Lock()
		f.tags = append(f.tags, tag)
		f.mu.Unlock()
		f.r.Present(tag)
		select {
		case <-ctx.Done():
			return
		case <-f.result:
		}
		f.r.Remove()
		select {
		case <-ctx.Done():
			return
		case <-f.removed:
		}
	}
}

// events collects a run's events for a test to wait on.
type events struct {
	mu  sync.Mutex
	all []station.Event
	ch  chan struct{} // closed and replaced on every event
}

func newEvents() *events { return &events{ch: make(chan struct{})} }

func (e *events) on(ev station.Event) {
	e.mu.Lock()
	e.all = append(e.all, ev)
	close(e.ch)
	e.ch = make(chan struct{})
	e.mu.Unlock()
}

// wait returns the index of the first event from index from on that
// matches, failing the test after d.
func (e *events) wait(t *testing.T, from int, d time.Duration, what string, match func(station.Event) bool) int {
	t.Helper()
	deadline := time.After(d)
	for {
		e.mu.Lock()
		for i := from; i < len(e.all); i++ {
			if match(e.all[i]) {
				e.mu.Unlock()
				return i
			}
		}
		ch := e.ch
		e.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("no %s within %s", what, d)
		}
	}
}

func (e *events) len() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.all)
}

func (e *events) snapshot() []station.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]station.Event(nil), e.all...)
}

func kind(k station.EventKind) func(station.Event) bool {
	return func(ev station.Event) bool { return ev.Kind == k }
}

func passed(ev station.Event) bool {
	return ev.Kind == station.EvResult && ev.Result != nil &&
		(ev.Result.Outcome == manifest.Encoded || ev.Result.Outcome == manifest.Finished)
}

type run struct {
	rt   *station.Runtime
	ev   *events
	done chan station.Summary
}

func startRun(t *testing.T, cfg station.RunConfig) *run {
	t.Helper()
	ev := newEvents()
	cfg.OnEvent = ev.on
	rt, err := station.NewRuntime(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := &run{rt: rt, ev: ev, done: make(chan station.Summary, 1)}
	go func() {
		sum, err := rt.Run(context.Background())
		if err != nil {
			t.Error(err)
		}
		r.done <- sum
	}()
	t.Cleanup(func() {
		rt.Stop("test over")
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			t.Error("run did not end")
		}
	})
	return r
}

func (r *run) wait(t *testing.T, d time.Duration) station.Summary {
	t.Helper()
	select {
	case s := <-r.done:
		r.done <- s // for the cleanup
		return s
	case <-time.After(d):
		t.Fatalf("run did not end within %s", d)
	}
	return station.Summary{}
}

// A pause stops a lane that is already waiting for a tag: a tag presented
// after Pause returned is not touched until Resume.
func TestPauseStopsALaneWaitingForATag(t *testing.T) {
	f := newFixture(t, filepath.Join(t.TempDir(), "j.db"))
	r := sim.NewReader("sim0")
	run := startRun(t, station.RunConfig{Station: f.st, Lanes: []station.RunLane{{Reader: r}}})
	run.ev.wait(t, 0, 5*time.Second, "waiting", kind(station.EvWaiting))

	run.rt.Gate().Pause()
	tag := sim.New(sim.Options{UID: uid(1)})
	r.Present(tag)
	time.Sleep(300 * time.Millisecond)
	if n := run.rt.Gate().Started(); n != 0 {
		t.Fatalf("%d tags started after the pause", n)
	}
	for _, ev := range run.ev.snapshot() {
		if ev.Kind == station.EvArrived || ev.Kind == station.EvResult {
			t.Fatalf("event %v after the pause", ev.Kind)
		}
	}
	if s := tag.Snapshot(); !s.FactoryFresh || s.Exchanges != 0 {
		t.Fatalf("the tag was touched while paused: %+v", s)
	}

	run.rt.Gate().Resume()
	run.ev.wait(t, 0, 5*time.Second, "a pass after resume", passed)
	if _, ok, err := f.store.Lookup(manifest.UID(upper(uid(1)))); err != nil || !ok {
		t.Fatalf("tag not bound after resume: %v %v", ok, err)
	}
}

// stuckReader never gives up a wait: a driver stuck in a call.
type stuckReader struct {
	name    string
	release chan struct{}
}

func (s *stuckReader) Info() reader.Info { return reader.Info{Name: s.name, Kind: reader.KindPCSC} }
func (s *stuckReader) WaitTag(context.Context) (reader.Tag, error) {
	<-s.release
	return nil, reader.ErrNoReader
}
func (s *stuckReader) WaitRemoved(context.Context) error { <-s.release; return nil }
func (s *stuckReader) Close() error                      { return nil }

// A reader that stops answering is reported on pause and never blocks
// quit: the run returns within 1 s with no tag in progress.
func TestQuitReturnsWithinASecondWithAStalledReader(t *testing.T) {
	f := newFixture(t, filepath.Join(t.TempDir(), "j.db"))
	stuck := &stuckReader{name: "stuck", release: make(chan struct{})}
	t.Cleanup(func() { close(stuck.release) })
	good := sim.NewReader("good")
	// A backend that takes the connection and never answers: the binding
	// below stays pending, and the stop does not wait for it.
	run := startRun(t, station.RunConfig{Station: f.st, Lanes: []station.RunLane{{Reader: stuck}, {Reader: good}},
		Sync: &station.SyncConfig{Endpoint: silent(t)}})
	run.ev.wait(t, 0, 5*time.Second, "stuck lane waiting", func(ev station.Event) bool { return ev.Kind == station.EvWaiting && ev.Reader == "stuck" })
	good.Present(sim.New(sim.Options{UID: uid(3)}))
	run.ev.wait(t, 0, 5*time.Second, "a pass on the good lane", passed)

	run.rt.Gate().Pause()
	i := run.ev.wait(t, 0, 3*time.Second, "stalled report", kind(station.EvStalled))
	if ev := run.ev.snapshot()[i]; ev.Reader != "stuck" || ev.Err == nil {
		t.Errorf("stalled event: %+v", ev)
	}

	start := time.Now()
	run.rt.Stop("operator quit")
	sum := run.wait(t, 2*time.Second)
	d := time.Since(start)
	t.Logf("quit took %s", d)
	if d > time.Second {
		t.Fatalf("quit took %s with a stalled reader", d)
	}
	if sum.Why != "operator quit" || sum.Sync.Backlog != 1 {
		t.Errorf("why %q, sync %+v", sum.Why, sum.Sync)
	}
}

// diskFull fails every commit from the n-th on, as a full disk does,
// until it is cleared.
type diskFull struct {
	mu      sync.Mutex
	commits int
	from    int
	full    bool
}

func (d *diskFull) fault() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.commits++
	if d.commits >= d.from {
		d.full = true
	}
	if d.full {
		return fmt.Errorf("write journal: %w", syscall.ENOSPC)
	}
	return nil
}

func (d *diskFull) free() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.full, d.from = false, 1<<30
}

// A journal that refuses a write holds every lane at once: no tag starts
// after the first failure, resuming while the disk is still full keeps the
// hold, and after space is freed the lanes go on; every PASS is in the
// journal.
func TestFullJournalHoldsEveryLane(t *testing.T) {
	f := newFixture(t, filepath.Join(t.TempDir(), "j.db"))
	full := &diskFull{from: 13} // a few tags in, on 4 lanes
	f.store.InjectWriteFault(full.fault)
	var lanes []station.RunLane
	for i := range 4 {
		r := sim.NewReader(fmt.Sprintf("sim%d", i))
		lanes = append(lanes, station.RunLane{Reader: r, Feeder: newFeeder(r, nil)})
	}
	run := startRun(t, station.RunConfig{Station: f.st, Lanes: lanes, OverTarget: true})

	hold := run.ev.wait(t, 0, 10*time.Second, "hold", kind(station.EvHold))
	started := run.rt.Gate().Started()
	herr := run.ev.snapshot()[hold].Err
	if !errors.Is(herr, batch.ErrWriteFailed) || !errors.Is(herr, syscall.ENOSPC) || !strings.Contains(herr.Error(), "free space") {
		t.Fatalf("hold error: %v", herr)
	}
	time.Sleep(400 * time.Millisecond)
	if n := run.rt.Gate().Started(); n != started {
		t.Fatalf("%d tags started after the hold", n-started)
	}
	if !run.rt.Gate().Paused() || run.rt.Gate().Held() == nil {
		t.Fatal("gate not holding")
	}
	// Every lane is quiet: nothing arrives after the lanes in flight
	// at the hold reported.
	evs := run.ev.snapshot()
	lastArrived := -1
	for i, ev := range evs {
		if ev.Kind == station.EvArrived {
			lastArrived = i
		}
	}
	if lastArrived > hold+2*len(lanes) {
		t.Fatalf("a tag arrived long after the hold (event %d, hold %d)", lastArrived, hold)
	}

	// Resuming while the disk is still full keeps the hold.
	before := run.ev.len()
	run.rt.Gate().Resume()
	if !run.rt.Gate().Paused() {
		t.Fatal("resume released the lanes while the journal is full")
	}
	run.ev.wait(t, before, 3*time.Second, "hold repeated", kind(station.EvHold))
	if n := run.rt.Gate().Started(); n != started {
		t.Fatalf("%d tags started after resume on a full disk", n-started)
	}

	// Space freed: resume lets the lanes go on.
	full.free()
	before = run.ev.len()
	run.rt.Gate().Resume()
	run.ev.wait(t, before, 5*time.Second, "a pass after the disk was freed", passed)
	run.rt.Stop("test over")
	run.wait(t, 10*time.Second)

	// No PASS lost: every PASS reported is bound, and nothing else is.
	pass := map[string]bool{}
	for _, ev := range run.ev.snapshot() {
		if passed(ev) {
			pass[string(ev.Result.UID)] = true
		}
	}
	st, err := f.store.Stats("b1")
	if err != nil {
		t.Fatal(err)
	}
	if st.Done != len(pass) {
		t.Fatalf("journal has %d bindings, the station reported %d PASS", st.Done, len(pass))
	}
	for u := range pass {
		if _, ok, err := f.store.Lookup(manifest.UID(u)); err != nil || !ok {
			t.Errorf("PASS %s not in the journal: %v", u, err)
		}
	}
}

// The station stops at the batch's target, counting tags in progress,
// unless told to go over it; a batch already at its target is refused.
func TestTargetIsEnforced(t *testing.T) {
	dir := t.TempDir()
	f := newFixture(t, filepath.Join(dir, "j.db")) // target 10
	var lanes []station.RunLane
	for i := range 3 {
		r := sim.NewReader(fmt.Sprintf("sim%d", i))
		lanes = append(lanes, station.RunLane{Reader: r, Feeder: newFeeder(r, nil)})
	}
	run := startRun(t, station.RunConfig{Station: f.st, Lanes: lanes})
	sum := run.wait(t, 20*time.Second)
	st, err := f.store.Stats("b1")
	if err != nil {
		t.Fatal(err)
	}
	if !sum.TargetReached || st.Done != 10 {
		t.Fatalf("target 10: done %d, summary %+v", st.Done, sum)
	}
	if _, err := station.NewRuntime(station.RunConfig{Station: f.st, Lanes: lanes[:1]}); !errors.Is(err, station.ErrTargetReached) {
		t.Fatalf("a full batch: %v", err)
	}

	// --over-target: the count decides.
	r := sim.NewReader("over")
	run = startRun(t, station.RunConfig{Station: f.st, Lanes: []station.RunLane{{Reader: r, Feeder: newFeeder(r, nil)}}, OverTarget: true, Count: 2})
	sum = run.wait(t, 20*time.Second)
	if st, _ = f.store.Stats("b1"); st.Done != 12 || sum.TargetReached {
		t.Fatalf("over target: done %d, %+v", st.Done, sum)
	}
}

// Ctrl-C, SIGTERM and SIGHUP all cancel the run's context (cmd maps them
// so); a tag in flight then is finished and bound, not torn.
func TestStopFinishesTheTagInFlight(t *testing.T) {
	f := newFixture(t, filepath.Join(t.TempDir(), "j.db"))
	r := sim.NewReader("sim0")
	// About 90 ms on the tag: long enough to stop in the middle.
	tag := sim.New(sim.Options{UID: uid(7), Timing: sim.Timing106()})
	ev := newEvents()
	rt, err := station.NewRuntime(station.RunConfig{Station: f.st, Lanes: []station.RunLane{{Reader: r}}, OnEvent: ev.on})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan station.Summary, 1)
	go func() {
		s, _ := rt.Run(ctx)
		done <- s
	}()
	r.Present(tag)
	ev.wait(t, 0, 5*time.Second, "arrival", kind(station.EvArrived))
	cancel() // the signal
	select {
	case s := <-done:
		if s.Why != station.WhyInterrupted {
			t.Errorf("why %q", s.Why)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not end")
	}
	i := ev.wait(t, 0, time.Second, "result", kind(station.EvResult))
	if res := ev.snapshot()[i].Result; res.Outcome != manifest.Encoded {
		t.Fatalf("tag in flight: %s %v", res.Outcome, res.Err)
	}
	if _, ok, err := f.store.Lookup(manifest.UID(upper(uid(7)))); err != nil || !ok {
		t.Fatalf("tag in flight not bound: %v", err)
	}
}

// indicating is a reader with lights: it is told each result.
type indicating struct {
	*sim.Reader
	mu     sync.Mutex
	passed []bool
}

func (r *indicating) Indicate(_ context.Context, passed bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.passed = append(r.passed, passed)
	return errors.New("this reader refuses LED commands") // ignored
}

// A reader with lights is told of every result, PASS or not, and its
// refusal changes nothing.
func TestReaderIndicatorIsDrivenAfterEachResult(t *testing.T) {
	f := newFixture(t, filepath.Join(t.TempDir(), "j.db"))
	r := &indicating{Reader: sim.NewReader("lit")}
	run := startRun(t, station.RunConfig{Station: f.st, Lanes: []station.RunLane{{Reader: r, Feeder: newFeeder(r.Reader, nil)}}, Count: 2})
	run.wait(t, 10*time.Second)
	// A tag with a UID of our choosing, then a blank tag claiming that
	// UID: a FAIL.
	run2 := startRun(t, station.RunConfig{Station: f.st, Lanes: []station.RunLane{{Reader: r}}, Count: 1})
	r.Present(sim.New(sim.Options{UID: uid(9)}))
	run2.ev.wait(t, 0, 5*time.Second, "result", kind(station.EvResult))
	r.Remove()
	run2.wait(t, 5*time.Second)
	run3 := startRun(t, station.RunConfig{Station: f.st, Lanes: []station.RunLane{{Reader: r}}, Count: 1, OverTarget: true})
	r.Present(sim.New(sim.Options{UID: uid(9)}))
	run3.ev.wait(t, 0, 5*time.Second, "result", kind(station.EvResult))
	run3.wait(t, 5*time.Second)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.passed) != 4 || !r.passed[0] || !r.passed[1] || !r.passed[2] || r.passed[3] {
		t.Fatalf("indications: %v", r.passed)
	}
}
