package cmd

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/station"
)

// runOptions describe one run of the station: its lanes, where results go
// and when to stop.
type runOptions struct {
	station *station.Station
	store   *batch.Store
	batch   batch.Batch
	readers *openedReaders
	// count stops the run after that many results in total (0: until
	// Ctrl-C or the operator quits the UI).
	count int
	json  bool
	tui   bool
	out   io.Writer // result lines or JSON
	info  io.Writer // waiting and reader messages
	// grace bounds how long a stop waits for tags in progress.
	grace time.Duration
}

// runStation runs one lane per reader until the count is reached, ctx is
// cancelled (Ctrl-C) or the operator quits the UI. A stop never cuts a tag
// in half: lanes are paused between tags, tags in progress finish (up to
// the grace period), and only then are the lanes cancelled.
func (e *env) runStation(ctx context.Context, o runOptions) (*tally, error) {
	if o.grace == 0 {
		o.grace = 20 * time.Second
	}
	// The lanes' context is cancelled only by the stop below, never
	// directly by Ctrl-C, so that a tag in progress is not torn.
	laneCtx, cancelLanes := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelLanes()

	r := &stationRun{
		e:           e,
		o:           o,
		gate:        &station.Gate{},
		events:      make(chan station.Event), // unbuffered: the dispatcher's view is exact
		cancelLanes: cancelLanes,
		feeders:     map[string]*simFeeder{},
		multi:       len(o.readers.lanes) > 1,
		uiQuit:      make(chan error, 1),
		uiStopped:   make(chan struct{}),
		uiCancel:    func() {},
		busy:        map[string]bool{},
		lost:        map[string]bool{},
	}
	r.startLanes(laneCtx)
	r.t = &tally{Start: e.now()}
	r.t.Last = r.t.Start
	if o.tui {
		r.startUI(ctx)
	}
	defer func() { r.uiCancel() }()
	return r.dispatch(ctx)
}

// stationRun is the state of one run that the dispatcher alone reads and
// writes, so it needs no lock.
type stationRun struct {
	e           *env
	o           runOptions
	gate        *station.Gate
	events      chan station.Event
	cancelLanes context.CancelFunc
	lanesDone   chan struct{}
	feeders     map[string]*simFeeder // simulated lanes, by reader name
	t           *tally
	multi       bool // result lines name their reader only when there are several

	// The UI, when there is one.
	uiEvents  chan station.Event
	uiQuit    chan error
	uiStopped chan struct{}
	uiCancel  context.CancelFunc
	uiErr     error
	uiDone    bool

	busy     map[string]bool // a tag is in progress on the reader
	lost     map[string]bool // the reader was lost and not yet back
	stopping bool
	graceC   <-chan time.Time
}

// startLanes starts one lane per reader, and a feeder beside each
// simulated one. lanesDone is closed once every lane has returned.
func (r *stationRun) startLanes(laneCtx context.Context) {
	var wg sync.WaitGroup
	limit := r.o.count
	for _, l := range r.o.readers.lanes {
		if l.feeder != nil {
			r.feeders[l.name] = l.feeder
			go l.feeder.run(laneCtx)
		}
		wg.Add(1)
		go func(l *lane) {
			defer wg.Done()
			_ = r.o.station.Lane(laneCtx, l.r, station.LaneOptions{Gate: r.gate, Limit: limit}, r.events)
		}(l)
	}
	r.lanesDone = make(chan struct{})
	go func() { wg.Wait(); close(r.lanesDone) }()
}

// startUI starts the operator's screen. It gets the events through a
// buffer so that a slow redraw does not hold the lanes back.
func (r *stationRun) startUI(ctx context.Context) {
	e, o := r.e, r.o
	r.uiEvents = make(chan station.Event, 64)
	var uiCtx context.Context
	uiCtx, r.uiCancel = context.WithCancel(ctx)
	stats, _ := o.store.Stats(o.batch.ID)
	cfg := uiConfig{
		Batch:   o.batch,
		Stats:   stats,
		Readers: o.readers.names(),
		Events:  r.uiEvents,
		Gate:    r.gate,
		Now:     e.now,
		In:      e.stdin,
		Out:     e.stdout,
		NoColor: e.noColor,
		LogPath: e.logFile,
		Logger:  e.log, // the --log file, never the screen
	}
	go func() {
		err := e.runUI(uiCtx, cfg)
		r.uiQuit <- err
		close(r.uiStopped)
	}()
}

// dispatch is the one loop that sees every lane event, Ctrl-C, the UI
// quitting and the grace timer, until every lane has returned.
func (r *stationRun) dispatch(ctx context.Context) (*tally, error) {
	sigC := ctx.Done()
	for {
		select {
		case ev := <-r.events:
			r.e.logEvent(ev)
			r.handleEvent(ev)
			r.forwardToUI(ev)
		case <-sigC:
			sigC = nil // a closed Done channel would fire on every turn
			if !r.o.tui {
				fmt.Fprintln(r.o.info, "stopping: finishing the tag in progress (Ctrl-C again to quit at once)")
			}
			r.stop("interrupted")
		case err := <-r.uiQuit:
			r.uiErr, r.uiDone = err, true
			r.stop("operator quit")
		case <-r.graceC:
			r.e.log.Warn("grace period over; cancelling tags in progress")
			r.cancelLanes()
		case <-r.lanesDone:
			r.waitForUI(ctx)
			return r.t, r.uiErr
		}
	}
}

// handleEvent tracks which readers are busy or lost, and reports each
// result; the screen is left to the UI when there is one.
func (r *stationRun) handleEvent(ev station.Event) {
	switch ev.Kind {
	case station.EvWaiting:
		if !r.o.tui && !r.lost[ev.Reader] && r.feeders[ev.Reader] == nil && !r.stopping {
			fmt.Fprintf(r.o.info, "waiting for a tag on %s (Ctrl-C to stop)\n", ev.Reader)
		}
		r.lost[ev.Reader] = false
	case station.EvArrived:
		r.busy[ev.Reader] = true
	case station.EvResult:
		r.handleResult(ev)
	case station.EvRemoved:
		if f := r.feeders[ev.Reader]; f != nil {
			f.removedSeen()
		}
	case station.EvReaderLost:
		// Said once per loss, so a reader that stays away does not flood
		// the terminal.
		if !r.lost[ev.Reader] && !r.o.tui {
			fmt.Fprintf(r.o.info, "tagline: reader %s: %v (retrying)\n", ev.Reader, ev.Err)
		}
		r.lost[ev.Reader] = true
	case station.EvStopped:
		r.busy[ev.Reader] = false
	}
}

// handleResult counts and prints one tag's result, and stops the run once
// the count is reached or, when stopping, once no tag is in progress.
func (r *stationRun) handleResult(ev station.Event) {
	r.busy[ev.Reader] = false
	if f := r.feeders[ev.Reader]; f != nil {
		f.resultSeen()
	}
	if ev.Result != nil {
		r.t.add(ev.Result, r.e.now())
		if !r.o.tui {
			if r.o.json {
				_ = writeJSON(r.o.out, toTagJSON(ev.Result))
			} else {
				writeResultLine(r.o.out, ev.Result, r.multi)
			}
		}
	}
	if r.o.count > 0 && r.t.Total >= r.o.count {
		r.stop("count reached")
	}
	if r.stopping && !r.anyBusy() {
		r.cancelLanes()
	}
}

// forwardToUI hands an event to the UI, or notices that the operator quit
// it while the event waited.
func (r *stationRun) forwardToUI(ev station.Event) {
	if r.uiEvents == nil || r.uiDone {
		return
	}
	select {
	case r.uiEvents <- ev:
	case r.uiErr = <-r.uiQuit:
		r.uiDone = true
		r.stop("operator quit")
	}
}

// waitForUI lets the UI end after the lanes have.
func (r *stationRun) waitForUI(ctx context.Context) {
	if r.uiEvents == nil {
		return
	}
	close(r.uiEvents)
	if !r.uiDone {
		// The run ended on its own (count reached): the UI
		// shows the final state until the operator quits it.
		select {
		case r.uiErr = <-r.uiQuit:
		case <-ctx.Done():
			r.uiCancel()
			r.uiErr = <-r.uiQuit
		}
	}
	<-r.uiStopped
}

func (r *stationRun) anyBusy() bool {
	for _, b := range r.busy {
		if b {
			return true
		}
	}
	return false
}

// stop pauses the lanes between tags and starts the grace period; the
// lanes are cancelled at once only when no tag is in progress.
func (r *stationRun) stop(why string) {
	if !r.stopping {
		r.stopping = true
		r.e.log.Info("station stopping", "why", why)
		r.gate.Pause()
		r.graceC = time.After(r.o.grace)
	}
	if !r.anyBusy() {
		r.cancelLanes()
	}
}

// logEvent writes a lane event to the --log file; never to the screen.
func (e *env) logEvent(ev station.Event) {
	switch ev.Kind {
	case station.EvWaiting:
		e.log.Debug("waiting for tag", "reader", ev.Reader)
	case station.EvArrived:
		e.log.Info("tag arrived", "reader", ev.Reader, "uid", ev.UID)
	case station.EvResult:
		if r := ev.Result; r != nil {
			e.log.Info("tag result", "reader", r.Reader, "uid", r.UID, "batch", r.Batch, "outcome", string(r.Outcome),
				"read_ctr", r.ReadCtr, "exchanges", r.Exchanges, "duration", r.Duration, "reason", r.Reason, "err", r.Err)
		}
	case station.EvRemoved:
		e.log.Debug("tag removed", "reader", ev.Reader, "uid", ev.UID)
	case station.EvReaderLost:
		e.log.Warn("reader lost", "reader", ev.Reader, "err", ev.Err)
	case station.EvStopped:
		e.log.Info("lane stopped", "reader", ev.Reader)
	}
}
