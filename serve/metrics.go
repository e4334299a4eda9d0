package serve

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Tap results, as in the JSON answer and the metrics.
const (
	ResultGenuine   = "genuine"
	ResultReplayed  = "replayed"
	ResultUnknown   = "unknown_tag"
	ResultBadMAC    = "bad_mac"
	ResultMalformed = "malformed"
	ResultError     = "error" // the store failed; nothing was decided
)

var tapResults = []string{ResultGenuine, ResultReplayed, ResultUnknown, ResultBadMAC, ResultMalformed, ResultError}

// Sync upload outcomes in the metrics.
var syncOutcomes = []string{"applied", "replayed", "rejected", "failed"}

// latencyBounds are the histogram's upper bounds in seconds.
var latencyBounds = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10}

type histogram struct {
	buckets []atomic.Uint64 // len(latencyBounds)+1, the last is +Inf
	count   atomic.Uint64
	sumNS   atomic.Uint64
}

func newHistogram() *histogram {
	return &histogram{buckets: make([]atomic.Uint64, len(latencyBounds)+1)}
}

func (h *histogram) observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(latencyBounds) && s > latencyBounds[i] {
		i++
	}
	h.buckets[i].Add(1)
	h.count.Add(1)
	h.sumNS.Add(uint64(d))
}

func (h *histogram) write(b *bytes.Buffer, name, help string) {
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name)
	var cum uint64
	for i, le := range latencyBounds {
		cum += h.buckets[i].Load()
		fmt.Fprintf(b, "%s_bucket{le=\"%s\"} %d\n", name, strconv.FormatFloat(le, 'g', -1, 64), cum)
	}
	cum += h.buckets[len(latencyBounds)].Load()
	fmt.Fprintf(b, "%s_bucket{le=\"+Inf\"} %d\n", name, cum)
	fmt.Fprintf(b, "%s_sum %s\n", name, strconv.FormatFloat(float64(h.sumNS.Load())/1e9, 'g', -1, 64))
	fmt.Fprintf(b, "%s_count %d\n", name, h.count.Load())
}

type metrics struct {
	// conflicts counts the records this instance held as conflicts;
	// conflictsHeld asks the store how many it holds in all.
	conflicts     atomic.Uint64
	conflictsHeld func(context.Context) (int, error)
	taps          map[string]*atomic.Uint64
	syncs         map[string]*atomic.Uint64
	syncRecords   atomic.Uint64
	tapLatency    *histogram
	syncLatency   *histogram
	start         time.Time
}

func newMetrics() *metrics {
	m := &metrics{taps: map[string]*atomic.Uint64{}, syncs: map[string]*atomic.Uint64{},
		tapLatency: newHistogram(), syncLatency: newHistogram(), start: time.Now()}
	for _, r := range tapResults {
		m.taps[r] = new(atomic.Uint64)
	}
	for _, o := range syncOutcomes {
		m.syncs[o] = new(atomic.Uint64)
	}
	return m
}

func (m *metrics) tap(result string, d time.Duration) {
	m.taps[result].Add(1)
	m.tapLatency.observe(d)
}

func (m *metrics) sync(outcome string, records int, d time.Duration) {
	m.syncs[outcome].Add(1)
	m.syncRecords.Add(uint64(records))
	m.syncLatency.observe(d)
}

// ServeHTTP writes the Prometheus text exposition format (version 0.0.4).
func (m *metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var b bytes.Buffer
	b.WriteString("# HELP tagline_taps_total Tap verifications, by result.\n# TYPE tagline_taps_total counter\n")
	for _, r := range tapResults {
		fmt.Fprintf(&b, "tagline_taps_total{result=%q} %d\n", r, m.taps[r].Load())
	}
	b.WriteString("# HELP tagline_sync_uploads_total Sync uploads, by outcome.\n# TYPE tagline_sync_uploads_total counter\n")
	for _, o := range syncOutcomes {
		fmt.Fprintf(&b, "tagline_sync_uploads_total{outcome=%q} %d\n", o, m.syncs[o].Load())
	}
	b.WriteString("# HELP tagline_sync_records_total Records in sync uploads that were applied.\n# TYPE tagline_sync_records_total counter\n")
	fmt.Fprintf(&b, "tagline_sync_records_total %d\n", m.syncRecords.Load())
	b.WriteString("# HELP tagline_sync_conflicts_total Synced records not applied because another station's binding holds their UID.\n# TYPE tagline_sync_conflicts_total counter\n")
	fmt.Fprintf(&b, "tagline_sync_conflicts_total %d\n", m.conflicts.Load())
	if m.conflictsHeld != nil {
		// A failing store leaves the gauge out rather than report 0.
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		n, err := m.conflictsHeld(ctx)
		cancel()
		if err == nil {
			b.WriteString("# HELP tagline_binding_conflicts Conflicts held in the store for a person to resolve.\n# TYPE tagline_binding_conflicts gauge\n")
			fmt.Fprintf(&b, "tagline_binding_conflicts %d\n", n)
		}
	}
	m.tapLatency.write(&b, "tagline_tap_duration_seconds", "Time to verify and answer a tap, including the durable counter update.")
	m.syncLatency.write(&b, "tagline_sync_duration_seconds", "Time to validate, apply and answer a sync upload.")
	b.WriteString("# HELP tagline_uptime_seconds Seconds since the server started.\n# TYPE tagline_uptime_seconds gauge\n")
	fmt.Fprintf(&b, "tagline_uptime_seconds %s\n", strconv.FormatFloat(time.Since(m.start).Seconds(), 'f', 3, 64))
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Write(b.Bytes())
}
