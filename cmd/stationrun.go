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

	gate := &station.Gate{}
	events := make(chan station.Event) // unbuffered: the dispatcher's view is exact
	limit := o.count
	var wg sync.WaitGroup
	feeders := map[string]*simFeeder{}
	sims := 0
	for _, l := range o.readers.lanes {
		if l.feeder != nil {
			feeders[l.name] = l.feeder
			sims++
			go l.feeder.run(laneCtx)
		}
		wg.Add(1)
		go func(l *lane) {
			defer wg.Done()
			_ = o.station.Lane(laneCtx, l.r, station.LaneOptions{Gate: gate, Limit: limit}, events)
		}(l)
	}
	lanesDone := make(chan struct{})
	go func() { wg.Wait(); close(lanesDone) }()

	t := &tally{Start: e.now()}
	t.Last = t.Start
	multi := len(o.readers.lanes) > 1

	var uiEvents chan station.Event
	uiQuit := make(chan error, 1)
	uiStopped := make(chan struct{})
	var uiCancel context.CancelFunc = func() {}
	if o.tui {
		uiEvents = make(chan station.Event, 64)
		var uiCtx context.Context
		uiCtx, uiCancel = context.WithCancel(ctx)
		stats, _ := o.store.Stats(o.batch.ID)
		cfg := uiConfig{
			Batch:   o.batch,
			Stats:   stats,
			Readers: o.readers.names(),
			Events:  uiEvents,
			Gate:    gate,
			Now:     e.now,
			In:      e.stdin,
			Out:     e.stdout,
			NoColor: e.noColor,
			LogPath: e.logFile,
			Logger:  e.log, // the --log file, never the screen
		}
		go func() {
			err := e.runUI(uiCtx, cfg)
			uiQuit <- err
			close(uiStopped)
		}()
	}
	defer uiCancel()

	busy := map[string]bool{}
	lost := map[string]bool{}
	stopping := false
	var graceC <-chan time.Time
	var uiErr error
	uiDone := false
	sigC := ctx.Done()

	anyBusy := func() bool {
		for _, b := range busy {
			if b {
				return true
			}
		}
		return false
	}
	stop := func(why string) {
		if !stopping {
			stopping = true
			e.log.Info("station stopping", "why", why)
			gate.Pause()
			graceC = time.After(o.grace)
		}
		if !anyBusy() {
			cancelLanes()
		}
	}

	for {
		select {
		case ev := <-events:
			e.logEvent(ev)
			switch ev.Kind {
			case station.EvWaiting:
				if !o.tui && !lost[ev.Reader] && feeders[ev.Reader] == nil && !stopping {
					fmt.Fprintf(o.info, "waiting for a tag on %s (Ctrl-C to stop)\n", ev.Reader)
				}
				lost[ev.Reader] = false
			case station.EvArrived:
				busy[ev.Reader] = true
			case station.EvResult:
				busy[ev.Reader] = false
				if f := feeders[ev.Reader]; f != nil {
					f.resultSeen()
				}
				if ev.Result != nil {
					t.add(ev.Result, e.now())
					if !o.tui {
						if o.json {
							_ = writeJSON(o.out, toTagJSON(ev.Result))
						} else {
							writeResultLine(o.out, ev.Result, multi)
						}
					}
				}
				if o.count > 0 && t.Total >= o.count {
					stop("count reached")
				}
				if stopping && !anyBusy() {
					cancelLanes()
				}
			case station.EvRemoved:
				if f := feeders[ev.Reader]; f != nil {
					f.removedSeen()
				}
			case station.EvReaderLost:
				if !lost[ev.Reader] && !o.tui {
					fmt.Fprintf(o.info, "tagline: reader %s: %v (retrying)\n", ev.Reader, ev.Err)
				}
				lost[ev.Reader] = true
			case station.EvStopped:
				busy[ev.Reader] = false
			}
			if uiEvents != nil && !uiDone {
				select {
				case uiEvents <- ev:
				case uiErr = <-uiQuit:
					uiDone = true
					stop("operator quit")
				}
			}
		case <-sigC:
			sigC = nil
			if !o.tui {
				fmt.Fprintln(o.info, "stopping: finishing the tag in progress (Ctrl-C again to quit at once)")
			}
			stop("interrupted")
		case err := <-uiQuit:
			uiErr, uiDone = err, true
			stop("operator quit")
		case <-graceC:
			e.log.Warn("grace period over; cancelling tags in progress")
			cancelLanes()
		case <-lanesDone:
			if uiEvents != nil {
				close(uiEvents)
				if !uiDone {
					// The run ended on its own (count reached): the UI
					// shows the final state until the operator quits it.
					select {
					case uiErr = <-uiQuit:
					case <-ctx.Done():
						uiCancel()
						uiErr = <-uiQuit
					}
				}
				<-uiStopped
			}
			return t, uiErr
		}
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
