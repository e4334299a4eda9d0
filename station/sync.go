package station

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/syncer"
)

// SyncConfig is the background sync of a run: bindings go to the backend
// as they are journaled, through package syncer, and the lanes never wait
// for it.
type SyncConfig struct {
	// Endpoint is the full URL chunks are POSTed to (…/v1/sync).
	Endpoint string
	// Shown is the endpoint as the operator may see it (no credentials);
	// default Endpoint.
	Shown string
	// Token is the bearer token; it is never shown or logged.
	Token string
	// Client sends the requests (default: a client of its own).
	Client *http.Client
	// RequestTimeout bounds one request (default 5s).
	RequestTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait after a failed round: it
	// doubles from MinBackoff up to MaxBackoff while the backend cannot be
	// reached (defaults 250ms and 15s), and new tags do not shorten it.
	MinBackoff, MaxBackoff time.Duration
	// Linger is how long a caught-up sync waits after a new binding before
	// it pushes (default 100ms), so that one request carries the tags of
	// all lanes that finished meanwhile instead of one request, and one
	// durable commit on each side, per tag.
	Linger time.Duration
	// Idle is how often a caught-up sync asks again without a new tag
	// (default 30s), so that a backlog left by an earlier run drains.
	Idle time.Duration
	// Final bounds the last push when the run stops (default 400ms, so a
	// quit stays under a second even with a stalled reader): a
	// reachable backend gets what is left; otherwise the next run, or
	// tagline sync, sends it.
	Final time.Duration
}

// syncLoop pushes the journal's pending bindings and publishes its state.
type syncLoop struct {
	cfg     SyncConfig
	journal *batch.Store
	now     func() time.Time
	log     *slog.Logger
	kickC   chan struct{}
	asked   bool           // the backend's position was asked since it last failed
	states  chan SyncState // latest state; one slot, replaced
	stopped chan struct{}
	final   atomic.Bool // the run is ending: push without lingering

	// owned by run's goroutine until stopped is closed
	st SyncState
}

func newSyncLoop(cfg SyncConfig, j *batch.Store, now func() time.Time, log *slog.Logger) (*syncLoop, error) {
	if cfg.Shown == "" {
		cfg.Shown = cfg.Endpoint
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 5 * time.Second
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 250 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(15*time.Second, cfg.MinBackoff)
	}
	if cfg.Linger <= 0 {
		cfg.Linger = 100 * time.Millisecond
	}
	if cfg.Idle <= 0 {
		cfg.Idle = 30 * time.Second
	}
	if cfg.Final <= 0 {
		cfg.Final = 400 * time.Millisecond
	}
	// The syncer checks the endpoint; a bad one is refused before any tag.
	if _, err := syncer.Run(canceledCtx(), nopJournal{}, syncer.Options{Endpoint: cfg.Endpoint}); err != nil && !errors.Is(err, context.Canceled) {
		return nil, err
	}
	return &syncLoop{
		cfg: cfg, journal: j, now: now, log: log,
		kickC:   make(chan struct{}, 1),
		states:  make(chan SyncState, 1),
		stopped: make(chan struct{}),
		st:      SyncState{Endpoint: cfg.Shown},
	}, nil
}

// kick says a binding was journaled. It never blocks.
func (s *syncLoop) kick() {
	select {
	case s.kickC <- struct{}{}:
	default:
	}
}

func (s *syncLoop) options() syncer.Options {
	return syncer.Options{
		Endpoint: s.cfg.Endpoint, Token: s.cfg.Token, Client: s.cfg.Client,
		RequestTimeout: s.cfg.RequestTimeout, MaxAttempts: 1, Logger: s.log,
		// Once at the start and after the backend was away (it may be
		// another, or restored, now), not on every push.
		AskPosition: !s.asked,
		Progress: func(p syncer.Progress) {
			if p.Kind == syncer.EvChunk {
				s.st.LastAck = s.now()
				s.st.Offline, s.st.Err = false, nil
				s.backlog(p.SyncedUpto, p.Last)
				s.publish()
			}
		},
	}
}

func (s *syncLoop) backlog(synced, last uint64) {
	s.st.Backlog = 0
	if last > synced {
		s.st.Backlog = int(last - synced)
	}
}

// refresh reads the backlog from the journal and publishes a change.
func (s *syncLoop) refresh() {
	synced, last, err := s.journal.SyncState()
	if err != nil {
		return
	}
	before := s.st.Backlog
	s.backlog(synced, last)
	if s.st.Backlog != before {
		s.publish()
	}
}

// publish leaves the latest state for the dispatcher, replacing one it
// has not taken yet.
func (s *syncLoop) publish() {
	st := s.st
	for {
		select {
		case s.states <- st:
			return
		default:
		}
		select {
		case <-s.states:
		default:
		}
	}
}

// run pushes after every kick while the backend answers, and with a
// bounded, doubling backoff while it does not, until ctx ends.
func (s *syncLoop) run(ctx context.Context) {
	defer close(s.stopped)
	s.refresh()
	s.publish()
	wait := time.Duration(0)
	for ctx.Err() == nil {
		_, err := syncer.Run(ctx, s.journal, s.options())
		if ctx.Err() != nil {
			return
		}
		s.round(err)
		s.asked = err == nil
		if err == nil {
			wait = 0
			if !s.sleep(ctx, s.cfg.Idle, true) {
				return
			}
			continue
		}
		wait = min(max(2*wait, s.cfg.MinBackoff), s.cfg.MaxBackoff)
		if !s.sleep(ctx, wait, false) {
			return
		}
	}
}

// round records the outcome of one push.
func (s *syncLoop) round(err error) {
	offline := err != nil
	changed := offline != s.st.Offline || (err != nil) != (s.st.Err != nil)
	s.st.Offline, s.st.Err = offline, err
	if err != nil {
		s.log.Warn("sync offline", "endpoint", s.cfg.Shown, "err", err)
	}
	before := s.st.Backlog
	if synced, last, jerr := s.journal.SyncState(); jerr == nil {
		s.backlog(synced, last)
	}
	if changed || before != s.st.Backlog {
		s.publish()
	}
}

// sleep waits d; a kick ends the wait early only when wake is set (caught
// up), and otherwise only updates the backlog shown.
func (s *syncLoop) sleep(ctx context.Context, d time.Duration, wake bool) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		case <-s.kickC:
			s.refresh()
			if wake {
				return s.linger(ctx)
			}
		}
	}
}

// linger waits Linger for more bindings to join the next push, unless
// the run is ending.
func (s *syncLoop) linger(ctx context.Context) bool {
	if s.final.Load() {
		return true
	}
	t := time.NewTimer(s.cfg.Linger)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// finish ends the loop: a reachable backend gets one last push, until
// Final after the stop began (the lanes wind down meanwhile), and every
// state until then is told to onEvent. last is the last state the
// dispatcher saw; it runs on the dispatcher's goroutine.
func (s *syncLoop) finish(last SyncState, stopAt time.Time, cancel context.CancelFunc, onEvent func(Event)) SyncState {
	s.final.Store(true)
	if synced, end, err := s.journal.SyncState(); err == nil && end > synced && !last.Offline {
		s.kick()
		deadline := time.NewTimer(max(0, time.Until(stopAt.Add(s.cfg.Final))))
		defer deadline.Stop()
	wait:
		for {
			select {
			case st := <-s.states:
				onEvent(Event{Kind: EvSync, Sync: &st, At: s.now()})
				if st.Backlog == 0 || st.Offline {
					break wait
				}
			case <-deadline.C:
				break wait
			}
		}
	}
	cancel()
	<-s.stopped
	select {
	case <-s.states:
	default:
	}
	// A push cut short by the stop may not have counted the last tags.
	if synced, end, err := s.journal.SyncState(); err == nil {
		s.backlog(synced, end)
	}
	st := s.st
	onEvent(Event{Kind: EvSync, Sync: &st, At: s.now()})
	return s.st
}

func canceledCtx() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// nopJournal lets NewRuntime check the endpoint with the syncer's own
// rule without touching the journal.
type nopJournal struct{}

func (nopJournal) StationID() string                       { return "" }
func (nopJournal) Pending(int) ([]manifest.Binding, error) { return nil, nil }
func (nopJournal) Ack(uint64) error                        { return nil }
func (nopJournal) SyncState() (uint64, uint64, error)      { return 0, 0, nil }
