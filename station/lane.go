package station

import (
	"context"
	"errors"
	"time"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/reader"
)

// EventKind is what happened at a lane.
type EventKind int

const (
	EvWaiting    EventKind = iota // lane waits for a tag
	EvArrived                     // a tag entered the field; encoding starts
	EvResult                      // a tag's result (Event.Result)
	EvRemoved                     // the tag left the field
	EvReaderLost                  // the reader failed; the lane retries
	EvStopped                     // the lane ended (context cancelled)
	EvStalled                     // the reader has not answered for a while (Event.Err says what)
	EvHold                        // the journal refused a write: every lane holds (Event.Err)
	EvSync                        // the background sync's state changed (Event.Sync)
)

// Event is sent by a lane to whoever shows the station (UI, log lines).
type Event struct {
	Kind   EventKind
	Reader string
	UID    manifest.UID
	Result *Result
	Err    error
	At     time.Time
	// Sync is set on EvSync only.
	Sync *SyncState
}

// SyncState is what the operator sees of the background sync: how many
// bindings the backend has not acknowledged yet and since when it has not
// answered.
type SyncState struct {
	Endpoint string    // the backend's URL, without credentials
	Backlog  int       // bindings journaled but not acknowledged
	LastAck  time.Time // the last acknowledgement (zero: none this run)
	Offline  bool      // the last attempt could not reach the backend
	Err      error     // the last attempt's error, if any (never key bytes)
}

// LaneOptions tune a lane.
type LaneOptions struct {
	Gate *Gate
	// Limit stops the lane after this many results (0: no limit).
	Limit int
	// RetryAfter is the pause after a reader error (default 1s).
	RetryAfter time.Duration
	// StallAfter is how long a reader may take to give up a wait it was
	// told to end (a pause, a stop) before the lane reports it stalled
	// (EvStalled) and, when stopping, leaves it behind (default 500ms).
	StallAfter time.Duration
}

// Lane runs one reader until ctx ends or Limit results were produced:
// wait for a tag, encode it, report, wait for it to leave. A reader error
// is reported and retried; it never ends the lane. A journal that refuses
// a write closes the gate for every lane (EvHold) before the result is
// reported.
func (s *Station) Lane(ctx context.Context, r reader.Reader, opts LaneOptions, events chan<- Event) error {
	name := r.Info().Name
	emit := func(e Event) {
		e.Reader, e.At = name, s.cfg.Now()
		select {
		case events <- e:
		case <-ctx.Done():
		}
	}
	defer emit(Event{Kind: EvStopped})
	retry := opts.RetryAfter
	if retry == 0 {
		retry = time.Second
	}
	w := &laneWaiter{r: r, gate: opts.Gate, stallAfter: opts.StallAfter, emit: emit}
	if w.stallAfter <= 0 {
		w.stallAfter = 500 * time.Millisecond
	}
	for n := 0; opts.Limit == 0 || n < opts.Limit; {
		if err := opts.Gate.wait(ctx); err != nil {
			return nil
		}
		emit(Event{Kind: EvWaiting})
		tag, err := w.waitTag(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if opts.Gate.Paused() || errors.Is(err, context.Canceled) {
				continue // a pause ended the wait
			}
			emit(Event{Kind: EvReaderLost, Err: err})
			select {
			case <-time.After(retry):
			case <-ctx.Done():
				return nil
			}
			continue
		}
		if !opts.Gate.enter(name) {
			// Paused, held or refused since the wait began: the tag
			// stays as it is, and is taken up after the gate opens.
			_ = tag.Close()
			continue
		}
		emit(Event{Kind: EvArrived, UID: manifest.UIDOf(tag.UID())})
		res := s.Encode(ctx, tag, name)
		_ = tag.Close()
		opts.Gate.leave()
		n++
		if batch.IsWriteFailure(res.Err) {
			opts.Gate.hold(res.Err)
		}
		emit(Event{Kind: EvResult, UID: res.UID, Result: &res})
		w.indicate(ctx, res.Outcome.Passed())
		if err := w.waitRemoved(ctx); err == nil {
			emit(Event{Kind: EvRemoved, UID: res.UID})
		}
	}
	return nil
}
