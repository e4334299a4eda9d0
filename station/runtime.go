package station

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tagline-station/tagline/internal/errkind"
	"github.com/tagline-station/tagline/reader"
)

// Feeder presents tags to a simulated lane as an operator would, driven
// by that lane's events so that a tag is never swapped under the lane.
type Feeder interface {
	Run(ctx context.Context)
	ResultSeen()  // the tag in the field has its result
	RemovedSeen() // the lane saw the tag leave
}

// RunLane is one reader of a run and, for a simulated one, its feeder.
type RunLane struct {
	Reader reader.Reader
	Feeder Feeder // nil for real readers
}

// RunConfig is one run of the station: its lanes, when to stop, the sync
// and who is told what happens. Only Station and Lanes are required.
type RunConfig struct {
	Station *Station
	Lanes   []RunLane
	// Gate pauses and resumes the lanes (the screen's p key); the runtime
	// makes one when nil. Its hold and admission hooks are the runtime's.
	Gate *Gate
	// Count stops the run after that many results in total (0: until
	// Stop or ctx ends).
	Count int
	// OverTarget lets the run go past the batch's target; by default no
	// tag starts once the batch's done tags and those in progress reach
	// it, and the run stops.
	OverTarget bool
	// Grace bounds how long a stop waits for tags in progress (default
	// 20s); after it they are cancelled (their intents stay open).
	Grace time.Duration
	// StallAfter: see LaneOptions (default 500ms).
	StallAfter time.Duration
	// RetryAfter: see LaneOptions (default 1s).
	RetryAfter time.Duration
	// HoldRetry, when positive, re-probes a held journal that often and
	// lets the lanes go on once it takes writes (for a station without a
	// screen to resume from). Zero: only Gate.Resume re-probes.
	HoldRetry time.Duration
	// Sync, when set, sends bindings to a backend in the background.
	Sync *SyncConfig
	// OnEvent gets every event (the lanes', EvHold, EvSync) from one
	// goroutine, in the order the runtime saw them. It may block: the
	// lanes then wait, which keeps a screen's view exact.
	OnEvent func(Event)
	// Notice gets one plain sentence for each change an operator without a
	// screen should read: stopping, a hold ended, the target reached, the
	// sync going offline or catching up. Called from OnEvent's goroutine.
	Notice func(msg string)
	// Logger gets the runtime's own records (default: discard).
	Logger *slog.Logger
}

// Summary is how a run ended.
type Summary struct {
	Results int    // results reported
	Why     string // why it stopped: "interrupted", "count reached", ...
	// TargetReached: the run stopped because the batch reached its target.
	TargetReached bool
	// Held is the journal's refusal when the run ended on hold.
	Held error
	// Sync is the sync's state when the run ended (zero without sync).
	Sync SyncState
}

// Stop reasons.
const (
	WhyInterrupted = "interrupted"
	WhyCount       = "count reached"
	WhyTarget      = "batch target reached"
)

// ErrTargetReached: the batch has as many done tags as its target, and
// the run was not told to go past it.
var ErrTargetReached = errkind.New(errkind.Usage, "the batch has reached its target")

// Runtime owns one run of the station: the lanes, the gate they pass
// between tags, the journal's hold, the batch target and the background
// sync. Build it with NewRuntime and run it once.
type Runtime struct {
	cfg    RunConfig
	gate   *Gate
	log    *slog.Logger
	events chan Event
	stopC  chan string
	holdC  chan error
	sync   *syncLoop

	mu       sync.Mutex // admission counts, shared with the lanes
	done     int        // bindings of the batch (journal + this run)
	inflight int        // tags started and not yet reported
	target   int
	stopping bool // no tag starts, even if the operator resumes
}

// errStopping refuses a tag while the run stops.
var errStopping = errors.New("the station is stopping")

func (rt *Runtime) setStopping(v bool) {
	rt.mu.Lock()
	rt.stopping = v
	rt.mu.Unlock()
}

// NewRuntime checks the run's configuration.
func NewRuntime(cfg RunConfig) (*Runtime, error) {
	if cfg.Station == nil || len(cfg.Lanes) == 0 {
		return nil, errors.New("a run needs a station and at least one lane")
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 20 * time.Second
	}
	if cfg.OnEvent == nil {
		cfg.OnEvent = func(Event) {}
	}
	if cfg.Notice == nil {
		cfg.Notice = func(string) {}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g := cfg.Gate
	if g == nil {
		g = &Gate{}
	}
	rt := &Runtime{
		cfg: cfg, gate: g, log: log,
		events: make(chan Event), // unbuffered: the dispatcher's view is exact
		stopC:  make(chan string, 1),
		holdC:  make(chan error, 16),
	}
	journal := cfg.Station.cfg.Journal
	stats, err := journal.Stats(cfg.Station.cfg.Batch.ID)
	if err != nil {
		return nil, err
	}
	rt.done, rt.target = stats.Done, stats.Target
	if cfg.Station.cfg.Reencode {
		rt.target = 0 // re-encoding redoes tags, it makes none
	}
	if rt.target > 0 && !cfg.OverTarget && rt.done >= rt.target {
		return nil, fmt.Errorf("%w: batch %s has %d of %d tags done", ErrTargetReached, cfg.Station.cfg.Batch.ID, rt.done, rt.target)
	}
	g.mu.Lock()
	g.probe = journal.Probe
	g.onHold = rt.holdChanged
	g.admit = rt.admit
	g.mu.Unlock()
	if cfg.Sync != nil {
		s, err := newSyncLoop(*cfg.Sync, journal, cfg.Station.cfg.Now, log)
		if err != nil {
			return nil, err
		}
		rt.sync = s
	}
	return rt, nil
}

// Gate is the run's gate, for the screen's pause key.
func (rt *Runtime) Gate() *Gate { return rt.gate }

// Stop asks the run to stop cleanly: no new tag starts and tags in
// progress finish. It returns at once and may be called from anywhere,
// any number of times.
func (rt *Runtime) Stop(why string) {
	select {
	case rt.stopC <- why:
	default:
	}
}

// holdChanged is the gate telling that a hold began (err) or ended (nil).
// It is called from a lane or the screen and must not block.
func (rt *Runtime) holdChanged(err error) {
	select {
	case rt.holdC <- err:
	default:
	}
}

// admit decides, under the gate's lock, whether a tag may start: not
// once the batch's target is reached by done tags and those in progress.
func (rt *Runtime) admit(string) error {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.stopping {
		return errStopping
	}
	if rt.target > 0 && !rt.cfg.OverTarget && rt.done+rt.inflight >= rt.target {
		rt.Stop(WhyTarget)
		return ErrTargetReached
	}
	rt.inflight++
	return nil
}

// settle records a reported result in the admission counts.
func (rt *Runtime) settle(res *Result) (done, inflight int) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.inflight > 0 {
		rt.inflight--
	}
	if res != nil && res.Outcome.Passed() {
		rt.done++
	}
	return rt.done, rt.inflight
}

// Run runs the lanes until the count or the target is reached, Stop is
// called or ctx ends (Ctrl-C, SIGTERM, SIGHUP). A stop never cuts a tag in
// half: the gate closes, tags in progress finish (up to Grace), and only
// then are the lanes cancelled. A reader that does not let go is left
// behind after StallAfter, so Run returns promptly when no tag is in
// progress.
func (rt *Runtime) Run(ctx context.Context) (Summary, error) {
	// The lanes' context is cancelled only by the stop below, never
	// directly by ctx, so that a tag in progress is not torn.
	laneCtx, cancelLanes := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelLanes()
	d := &dispatcher{rt: rt, cancelLanes: cancelLanes, feeders: map[string]Feeder{}, busy: map[string]bool{}}
	var stopSync context.CancelFunc
	if rt.sync != nil {
		var syncCtx context.Context
		syncCtx, stopSync = context.WithCancel(context.WithoutCancel(ctx))
		defer stopSync()
		go rt.sync.run(syncCtx)
		d.syncC = rt.sync.states
	}
	d.startLanes(laneCtx)
	sum := d.loop(ctx)
	if rt.sync != nil {
		stopAt := d.stopAt
		if stopAt.IsZero() {
			stopAt = time.Now()
		}
		sum.Sync = rt.sync.finish(d.lastSync, stopAt, stopSync, rt.cfg.OnEvent)
	}
	sum.Held = rt.gate.Held()
	return sum, nil
}

// dispatcher is the state of one run that its loop alone reads and
// writes.
type dispatcher struct {
	rt          *Runtime
	cancelLanes context.CancelFunc
	lanesDone   chan struct{}
	feeders     map[string]Feeder
	busy        map[string]bool
	syncC       <-chan SyncState
	lastSync    SyncState
	stopAt      time.Time // when the stop began (wall clock, for bounds)
	results     int
	stopping    bool
	why         string
	graceC      <-chan time.Time
	holdTick    *time.Ticker
	holdTickC   <-chan time.Time
}

func (d *dispatcher) startLanes(laneCtx context.Context) {
	rt := d.rt
	var wg sync.WaitGroup
	for _, l := range rt.cfg.Lanes {
		name := l.Reader.Info().Name
		if l.Feeder != nil {
			d.feeders[name] = l.Feeder
			go l.Feeder.Run(laneCtx)
		}
		wg.Add(1)
		go func(r reader.Reader) {
			defer wg.Done()
			_ = rt.cfg.Station.Lane(laneCtx, r, LaneOptions{
				Gate: rt.gate, Limit: rt.cfg.Count, StallAfter: rt.cfg.StallAfter, RetryAfter: rt.cfg.RetryAfter,
			}, rt.events)
		}(l.Reader)
	}
	d.lanesDone = make(chan struct{})
	go func() { wg.Wait(); close(d.lanesDone) }()
}

// loop is the one place that sees every lane event, stop request, hold
// and sync state until every lane has returned.
func (d *dispatcher) loop(ctx context.Context) Summary {
	rt := d.rt
	sigC := ctx.Done()
	defer func() {
		if d.holdTick != nil {
			d.holdTick.Stop()
		}
	}()
	for {
		select {
		case ev := <-rt.events:
			d.handle(ev)
			rt.cfg.OnEvent(ev)
		case <-sigC:
			sigC = nil // a closed Done channel would fire on every turn
			d.stop(WhyInterrupted)
		case why := <-rt.stopC:
			d.stop(why)
		case err := <-rt.holdC:
			d.holdChanged(err)
		case <-d.holdTickC:
			if rt.gate.Held() != nil {
				rt.gate.Resume()
			}
		case st := <-d.syncC:
			d.lastSync = st
			rt.cfg.OnEvent(Event{Kind: EvSync, Sync: &st, At: rt.cfg.Station.cfg.Now()})
		case <-d.graceC:
			rt.log.Warn("grace period over; cancelling tags in progress")
			d.cancelLanes()
		case <-d.lanesDone:
			return Summary{Results: d.results, Why: d.why, TargetReached: d.why == WhyTarget}
		}
	}
}

func (d *dispatcher) handle(ev Event) {
	switch ev.Kind {
	case EvArrived:
		d.busy[ev.Reader] = true
	case EvResult:
		d.result(ev)
	case EvRemoved:
		if f := d.feeders[ev.Reader]; f != nil {
			f.RemovedSeen()
		}
	case EvStopped:
		d.busy[ev.Reader] = false
	}
}

// result counts one tag's result, and stops the run once the count is
// reached or, when stopping, once no tag is in progress.
func (d *dispatcher) result(ev Event) {
	rt := d.rt
	d.busy[ev.Reader] = false
	if f := d.feeders[ev.Reader]; f != nil {
		f.ResultSeen()
	}
	done, inflight := rt.settle(ev.Result)
	d.results++
	if ev.Result != nil && ev.Result.Outcome.Passed() && rt.sync != nil {
		rt.sync.kick()
	}
	if rt.cfg.Count > 0 && d.results >= rt.cfg.Count {
		d.stop(WhyCount)
	}
	if d.stopping && d.why == WhyTarget && inflight == 0 && done < rt.target && !d.anyBusy() {
		// Tags in progress failed: the batch is short of its target
		// again, so the lanes go on.
		d.stopping, d.why, d.graceC = false, "", nil
		rt.setStopping(false)
		rt.gate.Resume()
		return
	}
	if d.stopping && !d.anyBusy() {
		d.cancelLanes()
	}
}

// holdChanged tells the lanes' consumer about a hold and arms the
// re-probe; a hold that ended is told in words only (the lanes' next
// EvWaiting shows it).
func (d *dispatcher) holdChanged(err error) {
	rt := d.rt
	if err == nil {
		rt.log.Info("journal writable again; lanes go on")
		rt.cfg.Notice("the journal takes writes again: the lanes go on")
		if d.holdTick != nil {
			d.holdTick.Stop()
			d.holdTick, d.holdTickC = nil, nil
		}
		return
	}
	herr := &HoldError{Err: err}
	rt.log.Error("journal refused a write; every lane holds", "err", err)
	rt.cfg.OnEvent(Event{Kind: EvHold, Err: herr, At: rt.cfg.Station.cfg.Now()})
	rt.cfg.Notice("HOLD: " + herr.Error())
	if rt.cfg.HoldRetry > 0 && d.holdTick == nil {
		d.holdTick = time.NewTicker(rt.cfg.HoldRetry)
		d.holdTickC = d.holdTick.C
	}
}

func (d *dispatcher) anyBusy() bool {
	if d.rt.gate.inProgress() > 0 {
		return true
	}
	for _, b := range d.busy {
		if b {
			return true
		}
	}
	return false
}

// stop closes the gate and starts the grace period; the lanes are
// cancelled at once only when no tag is in progress.
func (d *dispatcher) stop(why string) {
	rt := d.rt
	if !d.stopping {
		d.stopping, d.why = true, why
		rt.log.Info("station stopping", "why", why)
		switch why {
		case WhyInterrupted:
			rt.cfg.Notice("stopping: finishing the tag in progress (Ctrl-C again to quit at once)")
		case WhyTarget:
			rt.cfg.Notice(fmt.Sprintf("batch %s reached its target of %d tags: stopping (encode --over-target goes on past it)",
				rt.cfg.Station.cfg.Batch.ID, rt.target))
		}
		rt.setStopping(true)
		d.stopAt = time.Now()
		rt.gate.Pause()
		d.graceC = time.After(rt.cfg.Grace)
	} else if why != WhyTarget && d.why == WhyTarget {
		d.why = why // a stop asked for overrides going on after failures
	}
	if !d.anyBusy() {
		d.cancelLanes()
	}
}

// HoldError is why every lane holds: the journal refused a write. Its
// words say what to do.
type HoldError struct{ Err error }

func (e *HoldError) Error() string {
	return fmt.Sprintf("the journal cannot be written (%v): no tag starts until it can; free space on its disk (or fix the disk), then resume (p): the station checks the journal first; a tag that failed is finished when presented again",
		e.Err)
}

func (e *HoldError) Unwrap() error { return e.Err }
