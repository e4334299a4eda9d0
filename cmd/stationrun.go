package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
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
	// overTarget lets the run go past the batch's target.
	overTarget bool
	// sync, when set, sends bindings to the backend as they are journaled.
	sync *station.SyncConfig
}

// runStation runs one lane per reader, through the station's runtime,
// until the count or the batch's target is reached, ctx is cancelled
// (Ctrl-C, SIGTERM, SIGHUP) or the operator quits the UI. cmd only shows
// what the runtime reports: result lines, JSON or the screen.
func (e *env) runStation(ctx context.Context, o runOptions) (*tally, error) {
	r := &stationRun{
		e:        e,
		o:        o,
		gate:     &station.Gate{},
		multi:    len(o.readers.lanes) > 1,
		uiQuit:   make(chan error, 1),
		uiCancel: func() {},
		lost:     map[string]bool{},
		feeders:  map[string]bool{},
	}
	lanes := make([]station.RunLane, 0, len(o.readers.lanes))
	for _, l := range o.readers.lanes {
		rl := station.RunLane{Reader: l.r}
		if l.feeder != nil {
			rl.Feeder = l.feeder
			r.feeders[l.name] = true
		}
		lanes = append(lanes, rl)
	}
	cfg := station.RunConfig{
		Station: o.station, Lanes: lanes, Gate: r.gate, Count: o.count,
		OverTarget: o.overTarget, Grace: o.grace, Sync: o.sync,
		OnEvent: r.onEvent, Notice: r.notice, Logger: e.log,
	}
	if !o.tui {
		// No screen to resume from: the runtime re-probes the journal.
		cfg.HoldRetry = 5 * time.Second
	}
	rt, err := station.NewRuntime(cfg)
	if errors.Is(err, station.ErrTargetReached) {
		return nil, withHint(err, "encode --over-target goes on past the target; tagline batch new makes the next batch")
	}
	if err != nil {
		return nil, err
	}
	r.rt = rt
	r.t = &tally{Tally: station.Tally{Start: e.now()}}
	r.t.Last = r.t.Start
	if o.tui {
		r.startUI(ctx)
	}
	defer func() { r.uiCancel() }()
	sum, err := rt.Run(ctx)
	if err != nil {
		return nil, err
	}
	r.t.Sync = o.sync != nil
	r.t.SyncState = sum.Sync
	r.t.Held = sum.Held
	r.waitForUI(ctx)
	return r.t, r.uiErr
}

// stationRun is what cmd keeps of a run: the tally and the screen. Its
// methods run on the runtime's event goroutine, so it needs no lock.
type stationRun struct {
	e     *env
	o     runOptions
	rt    *station.Runtime
	gate  *station.Gate
	t     *tally
	multi bool // result lines name their reader only when there are several

	// The UI, when there is one.
	uiEvents  chan station.Event
	uiQuit    chan error
	uiStopped chan struct{}
	uiCancel  context.CancelFunc
	uiErr     error
	uiDone    bool

	lost    map[string]bool // the reader was lost and not yet back
	feeders map[string]bool // simulated lanes, by reader name
	stopped bool
	offline bool // the sync was last seen offline
}

// startUI starts the operator's screen. It gets the events through a
// buffer so that a slow redraw does not hold the lanes back.
func (r *stationRun) startUI(ctx context.Context) {
	e, o := r.e, r.o
	r.uiEvents = make(chan station.Event, 64)
	r.uiStopped = make(chan struct{})
	var uiCtx context.Context
	uiCtx, r.uiCancel = context.WithCancel(ctx)
	stats, _ := o.store.Stats(o.batch.ID)
	cfg := uiConfig{
		Batch:     o.batch,
		Simulated: o.batch.Simulated,
		Stats:     stats,
		Readers:   o.readers.names(),
		Events:    r.uiEvents,
		Gate:      r.gate,
		Now:       e.now,
		In:        e.stdin,
		Out:       e.stdout,
		NoColor:   e.noColor,
		LogPath:   e.logFile,
		Logger:    e.log, // the --log file, never the screen
	}
	go func() {
		err := e.runUI(uiCtx, cfg)
		r.uiQuit <- err
		close(r.uiStopped)
		r.rt.Stop("operator quit")
	}()
}

// onEvent logs, counts and shows one event of the run.
func (r *stationRun) onEvent(ev station.Event) {
	r.e.logEvent(ev)
	r.showEvent(ev)
	r.forwardToUI(ev)
}

// showEvent prints what the operator without a screen should see.
func (r *stationRun) showEvent(ev station.Event) {
	switch ev.Kind {
	case station.EvWaiting:
		if !r.o.tui && !r.lost[ev.Reader] && !r.feeders[ev.Reader] && !r.stopped {
			fmt.Fprintf(r.o.info, "waiting for a tag on %s (Ctrl-C to stop)\n", ev.Reader)
		}
		r.lost[ev.Reader] = false
	case station.EvResult:
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
	case station.EvReaderLost:
		// Said once per loss, so a reader that stays away does not flood
		// the terminal.
		if !r.lost[ev.Reader] && !r.o.tui {
			fmt.Fprintf(r.o.info, "tagline: reader %s: %v (retrying)\n", ev.Reader, ev.Err)
		}
		r.lost[ev.Reader] = true
	case station.EvStalled:
		if !r.o.tui {
			fmt.Fprintf(r.o.info, "tagline: reader %s: %v\n", ev.Reader, ev.Err)
		}
	case station.EvSync:
		r.showSync(ev.Sync)
	}
}

// showSync prints the sync's changes between online and offline; the
// screen shows its backlog all the time.
func (r *stationRun) showSync(s *station.SyncState) {
	if s == nil || r.o.tui || s.Offline == r.offline {
		return
	}
	r.offline = s.Offline
	if s.Offline {
		fmt.Fprintf(r.o.info, "sync: %s unreachable (%d pending; encoding goes on, sending resumes when it answers): %s\n",
			s.Endpoint, s.Backlog, oneLine(fmt.Sprint(s.Err)))
		return
	}
	fmt.Fprintf(r.o.info, "sync: %s answers again (%d pending)\n", s.Endpoint, s.Backlog)
}

// notice prints the runtime's sentences when there is no screen.
func (r *stationRun) notice(msg string) {
	if strings.HasPrefix(msg, "stopping") {
		r.stopped = true
	}
	if !r.o.tui {
		fmt.Fprintln(r.o.info, msg)
	}
}

// forwardToUI hands an event to the UI, unless the operator quit it.
func (r *stationRun) forwardToUI(ev station.Event) {
	if r.uiEvents == nil || r.uiDone {
		return
	}
	select {
	case r.uiEvents <- ev:
	case r.uiErr = <-r.uiQuit:
		r.uiDone = true
	}
}

// waitForUI lets the UI end after the lanes have.
func (r *stationRun) waitForUI(ctx context.Context) {
	if r.uiEvents == nil {
		return
	}
	close(r.uiEvents)
	if !r.uiDone {
		// The run ended on its own (count reached) or the UI quit:
		// the UI shows the final state until the operator quits it.
		select {
		case r.uiErr = <-r.uiQuit:
		case <-ctx.Done():
			r.uiCancel()
			r.uiErr = <-r.uiQuit
		}
	}
	<-r.uiStopped
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
	case station.EvStalled:
		e.log.Warn("reader stalled", "reader", ev.Reader, "err", ev.Err)
	case station.EvHold:
		e.log.Error("every lane holds", "err", ev.Err)
	case station.EvSync:
		if s := ev.Sync; s != nil {
			e.log.Debug("sync state", "endpoint", s.Endpoint, "backlog", s.Backlog, "last_ack", s.LastAck, "offline", s.Offline, "err", s.Err)
		}
	}
}

// syncSummary is the sync's part of a run's closing line.
func (t *tally) syncSummary() string {
	if !t.Sync {
		return ""
	}
	s := t.SyncState
	if s.Backlog == 0 {
		return fmt.Sprintf("; sync: all sent to %s", s.Endpoint)
	}
	return fmt.Sprintf("; sync: %d not yet acknowledged by %s (the next encode --sync or tagline sync sends them)", s.Backlog, s.Endpoint)
}
