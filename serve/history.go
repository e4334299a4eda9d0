package serve

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/tagline-station/tagline/serve/store"
)

// HistoryConfig is the tap history (see doc.go, "Tap history").
type HistoryConfig struct {
	// Disabled keeps no history (the brand's view is then empty).
	Disabled bool
	// Retention is how long taps and alerts are kept (default 400 days;
	// pruned at start and hourly).
	Retention time.Duration
	// KeepIP stores each tap's client address. Off by default: an IP
	// address is personal data in many places.
	KeepIP bool
	// PlaceHeader names a request header a trusted proxy sets to a coarse
	// place (a country or region code). When set, its value (at most 64
	// bytes) is kept with the tap and used for two-place alerts; otherwise
	// two-place alerts compare the client's network (/24 or /48), held in
	// memory only.
	PlaceHeader string
	// CloneWindow is how close in time genuine taps of one tag from two
	// places raise an alert (default 10s).
	CloneWindow time.Duration
	// IdempotencyRetention is how long a store that can prune them keeps
	// sync idempotency records (PostgreSQL; default 30 days).
	IdempotencyRetention time.Duration
}

// idempotencyPruner is a store whose idempotency records can be pruned.
type idempotencyPruner interface {
	PruneIdempotency(ctx context.Context, before time.Time) (int64, error)
}

const (
	defaultRetention   = 400 * 24 * time.Hour
	defaultCloneWindow = 10 * time.Second
	historyBatch       = 4096
	historyFlush       = 200 * time.Millisecond
	// maxRecent bounds the in-memory map of recent genuine taps.
	maxRecent = 100000
)

// recorder writes taps and alerts to the history in batches, off the
// tap's path: the counter is durable before the answer (invariant 1), the
// history at most historyFlush later.
type recorder struct {
	h      store.History
	cfg    HistoryConfig
	now    func() time.Time
	taps   chan store.TapEvent
	alerts chan store.Alert
	done   chan struct{}
	flushc chan chan struct{}
	stop   context.CancelFunc
	log    interface{ Error(string, ...any) }

	mu     sync.Mutex
	recent map[string]seenAt // uid → last genuine tap's place
	idem   idempotencyPruner // nil: the store keeps them
}

type seenAt struct {
	place string
	at    time.Time
}

func (s *Server) initHistory() error {
	cfg := s.cfg.History
	hs, ok := s.store.(store.Historian)
	if cfg.Disabled || !ok {
		return nil
	}
	if cfg.Retention <= 0 {
		cfg.Retention = defaultRetention
	}
	if cfg.CloneWindow <= 0 {
		cfg.CloneWindow = defaultCloneWindow
	}
	if cfg.IdempotencyRetention <= 0 {
		cfg.IdempotencyRetention = 30 * 24 * time.Hour
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h, err := hs.History(ctx)
	if err != nil {
		return err
	}
	rctx, stop := context.WithCancel(context.Background())
	s.hist = &recorder{h: h, cfg: cfg, now: s.now, taps: make(chan store.TapEvent, 4*historyBatch),
		alerts: make(chan store.Alert, historyBatch), done: make(chan struct{}), flushc: make(chan chan struct{}), stop: stop, log: s.log,
		recent: map[string]seenAt{}}
	s.hist.idem, _ = s.store.(idempotencyPruner)
	go s.hist.run(rctx)
	return nil
}

// History is the tap history, nil when none is kept.
func (s *Server) History() store.History {
	if s.hist == nil {
		return nil
	}
	return s.hist.h
}

// record keeps a tap and raises its clone alerts.
func (s *Server) record(r *http.Request, ans TapAnswer) {
	if s.hist == nil {
		return
	}
	rc := s.hist
	now := s.now().UTC()
	ev := store.TapEvent{At: now, UID: ans.UID, SKU: ans.SKU, Batch: ans.Batch, Result: ans.Result,
		Ctr: ans.ReadCtr, KeyVersion: byte(ans.KeyVersion)}
	place := ""
	if rc.cfg.PlaceHeader != "" {
		place = bounded(r.Header.Get(rc.cfg.PlaceHeader), 64)
		ev.Place = place
	} else {
		place = network(r.RemoteAddr)
	}
	if rc.cfg.KeepIP {
		ev.IP, _, _ = net.SplitHostPort(r.RemoteAddr)
	}
	rc.taps <- ev
	switch ans.Result {
	case ResultReplayed:
		rc.alerts <- store.Alert{At: now, Kind: store.AlertCounterTwice, UID: ans.UID, SKU: ans.SKU, Ctr: ans.ReadCtr,
			Detail: "a counter at or below the last accepted one: a reused or copied URL, or a cloned tag"}
	case ResultGenuine:
		if a, ok := rc.twoPlaces(ans, place, now); ok {
			rc.alerts <- a
		}
	}
}

func (rc *recorder) twoPlaces(ans TapAnswer, place string, now time.Time) (store.Alert, bool) {
	if place == "" {
		return store.Alert{}, false
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	prev, ok := rc.recent[string(ans.UID)]
	if len(rc.recent) >= maxRecent {
		for k, v := range rc.recent {
			if now.Sub(v.at) > rc.cfg.CloneWindow {
				delete(rc.recent, k)
			}
		}
		if len(rc.recent) >= maxRecent {
			clear(rc.recent)
		}
	}
	rc.recent[string(ans.UID)] = seenAt{place: place, at: now}
	if !ok || prev.place == place || now.Sub(prev.at) > rc.cfg.CloneWindow {
		return store.Alert{}, false
	}
	return store.Alert{At: now, Kind: store.AlertTwoPlaces, UID: ans.UID, SKU: ans.SKU, Ctr: ans.ReadCtr,
		Detail: "genuine taps from two places within " + rc.cfg.CloneWindow.String()}, true
}

func bounded(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// network is the client's /24 (IPv4) or /48 (IPv6): coarse enough to tell
// two places apart without keeping an address.
func network(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return ""
	}
	if v4 := ip.To4(); v4 != nil {
		return v4.Mask(net.CIDRMask(24, 32)).String()
	}
	return ip.Mask(net.CIDRMask(48, 128)).String()
}

func (rc *recorder) run(ctx context.Context) {
	defer close(rc.done)
	tick := time.NewTicker(historyFlush)
	defer tick.Stop()
	prune := time.NewTicker(time.Hour)
	defer prune.Stop()
	rc.prune()
	var taps []store.TapEvent
	var alerts []store.Alert
	flush := func() {
		wctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if len(taps) > 0 {
			if err := rc.h.AppendTaps(wctx, taps); err != nil {
				rc.log.Error("tap history write failed", "taps", len(taps), "err", err)
			}
			taps = taps[:0]
		}
		if len(alerts) > 0 {
			if err := rc.h.AppendAlerts(wctx, alerts); err != nil {
				rc.log.Error("clone alert write failed", "alerts", len(alerts), "err", err)
			}
			alerts = alerts[:0]
		}
	}
	for {
		select {
		case t := <-rc.taps:
			taps = append(taps, t)
			if len(taps) >= historyBatch {
				flush()
			}
		case a := <-rc.alerts:
			alerts = append(alerts, a)
		case <-tick.C:
			flush()
		case <-prune.C:
			rc.prune()
		case ack := <-rc.flushc:
			taps, alerts = rc.drain(taps, alerts)
			flush()
			close(ack)
		case <-ctx.Done():
			taps, alerts = rc.drain(taps, alerts)
			flush()
			return
		}
	}
}

// drain takes what is queued without waiting.
func (rc *recorder) drain(taps []store.TapEvent, alerts []store.Alert) ([]store.TapEvent, []store.Alert) {
	for {
		select {
		case t := <-rc.taps:
			taps = append(taps, t)
		case a := <-rc.alerts:
			alerts = append(alerts, a)
		default:
			return taps, alerts
		}
	}
}

func (rc *recorder) prune() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := rc.h.Prune(ctx, rc.now().Add(-rc.cfg.Retention)); err != nil {
		rc.log.Error("tap history prune failed", "err", err)
	}
	if rc.idem != nil {
		if _, err := rc.idem.PruneIdempotency(ctx, rc.now().Add(-rc.cfg.IdempotencyRetention)); err != nil {
			rc.log.Error("idempotency prune failed", "err", err)
		}
	}
}

// Flush waits until every tap recorded so far is in the history (tests,
// shutdown).
func (s *Server) Flush() {
	if s.hist == nil {
		return
	}
	ack := make(chan struct{})
	s.hist.flushc <- ack
	<-ack
}

func (s *Server) closeHistory() {
	if s.hist != nil {
		s.hist.stop()
		<-s.hist.done
		s.hist = nil
	}
}
