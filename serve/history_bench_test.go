package serve_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/tagline-station/tagline/internal/pgtest"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/serve"
	"github.com/tagline-station/tagline/serve/store"
)

// BenchmarkTapsHistory is BenchmarkTaps with the history on and off, and
// checks that every tap of the run reached the history.
//
//	go test -run '^$' -bench BenchmarkTapsHistory -benchtime 3s ./serve/
func BenchmarkTapsHistory(b *testing.B) {
	for _, on := range []bool{true, false} {
		b.Run(fmt.Sprintf("store=bolt/history=%v", on), func(b *testing.B) {
			cfg := baseConfig(b)
			cfg.DBPath = filepath.Join(b.TempDir(), "serve.db")
			cfg.History.Disabled = !on
			benchHistory(b, cfg, "raw32")
		})
	}
	// On PostgreSQL also with 24 connections: at the same rate, fewer
	// requests in flight wait less (Little's law).
	for _, run := range []struct {
		on     bool
		client string
	}{{true, "raw32"}, {true, "raw24"}, {false, "raw32"}} {
		name := fmt.Sprintf("store=postgres/history=%v", run.on)
		if run.client != "raw32" {
			name += "/client=" + run.client
		}
		b.Run(name, func(b *testing.B) {
			pg := pgtest.Start(b)
			cfg := baseConfig(b)
			cfg.PostgresURL = pg.CreateDB(b, "benchhist")
			cfg.PGMaxConns = 32
			cfg.History.Disabled = !run.on
			pg0 := pg.CPUTime()
			benchHistory(b, cfg, run.client)
			// PostgreSQL's own CPU per tap, beside cpu-µs/tap (this
			// process: server and client); it includes the setup's sync.
			b.ReportMetric(float64((pg.CPUTime()-pg0).Microseconds())/float64(b.N), "pg-cpu-µs/tap")
		})
	}
}

func benchHistory(b *testing.B, cfg serve.Config, client string) {
	base, srv := benchServer(b, cfg)
	h := srv.History()
	var before int
	if h != nil {
		sum, _ := h.Summary(context.Background(), time.Time{})
		before = sum.Taps
	}
	runTaps(b, base, srv, client)
	if h == nil {
		return
	}
	srv.Flush()
	sum, err := h.Summary(context.Background(), time.Time{})
	if err != nil {
		b.Fatal(err)
	}
	if sum.Taps-before != b.N {
		b.Fatalf("history holds %d taps of the run, want %d", sum.Taps-before, b.N)
	}
}

// BenchmarkAdminSummary times the brand's view's queries over a history
// of 100,000 taps on bbolt and 1,000,000 and 10,000,000 on PostgreSQL,
// all spread over the same year, with an alert for each replayed tap.
//
//	go test -run '^$' -bench BenchmarkAdminSummary -benchtime 10x -timeout 30m ./serve/
func BenchmarkAdminSummary(b *testing.B) {
	b.Run("store=bolt/taps=100000", func(b *testing.B) {
		cfg := baseConfig(b)
		cfg.DBPath = filepath.Join(b.TempDir(), "serve.db")
		benchSummary(b, cfg, 100000)
	})
	b.Run("store=postgres/taps=1000000", func(b *testing.B) {
		pg := pgtest.Start(b)
		cfg := baseConfig(b)
		cfg.PostgresURL = pg.CreateDB(b, "benchsum")
		benchSummary(b, cfg, 1000000)
	})
	b.Run("store=postgres/taps=10000000", func(b *testing.B) {
		pg := pgtest.Start(b)
		cfg := baseConfig(b)
		cfg.PostgresURL = pg.CreateDB(b, "benchsum10m")
		benchSummary(b, cfg, 10000000)
	})
}

func benchSummary(b *testing.B, cfg serve.Config, n int) {
	s, err := serve.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	h := s.History()
	ctx := context.Background()
	// A year after the fresh database's first partition (p0, up to the
	// month after today), so that on PostgreSQL the taps fill month
	// partitions as a history kept over a year does.
	t0 := time.Date(time.Now().Year()+2, 1, 1, 0, 0, 0, 0, time.UTC)
	step := 30 * time.Second * time.Duration(1000000) / time.Duration(n) // a year, whatever n
	results := []string{"genuine", "genuine", "genuine", "replayed", "bad_mac"}
	batchBuf := make([]store.TapEvent, 0, 10000)
	// Every replayed tap raises an alert, as serve does: a fifth of the
	// taps.
	var alerts []store.Alert
	var appends []time.Duration // each batch's AppendTaps
	for i := 0; i < n; i++ {
		ev := store.TapEvent{At: t0.Add(time.Duration(i) * step), UID: manifest.UID(fmt.Sprintf("04%012X", i%50000)),
			SKU: fmt.Sprintf("SKU-%d", i%20), Batch: fmt.Sprintf("b%d", i%200), Result: results[i%len(results)], Ctr: uint32(i), KeyVersion: 1}
		batchBuf = append(batchBuf, ev)
		if ev.Result == "replayed" {
			alerts = append(alerts, store.Alert{At: ev.At, Kind: store.AlertCounterTwice, UID: ev.UID, SKU: ev.SKU, Ctr: ev.Ctr, Detail: "a counter at or below the last accepted one"})
		}
		if len(batchBuf) == cap(batchBuf) || i == n-1 {
			t := time.Now()
			if err := h.AppendTaps(ctx, batchBuf); err != nil {
				b.Fatal(err)
			}
			appends = append(appends, time.Since(t))
			if err := h.AppendAlerts(ctx, alerts); err != nil {
				b.Fatal(err)
			}
			batchBuf, alerts = batchBuf[:0], alerts[:0]
		}
	}
	// Writing the history costs the same per tap whether it is empty or
	// holds all the others: the first and the last tenth of the batches.
	tenth := max(len(appends)/10, 1)
	perTap := func(ds []time.Duration) float64 {
		var sum time.Duration
		for _, d := range ds {
			sum += d
		}
		return float64(sum.Microseconds()) / float64(len(ds)*cap(batchBuf))
	}
	first, last := perTap(appends[:tenth]), perTap(appends[len(appends)-tenth:])
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sum, err := h.Summary(ctx, t0)
		if err != nil || sum.Taps != n || sum.ByResult["replayed"] != n/len(results) || len(sum.Alerts) != store.MaxSummaryAlerts {
			b.Fatalf("%d taps, %d replayed, %d alerts listed, %v", sum.Taps, sum.ByResult["replayed"], len(sum.Alerts), err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/summary")
	b.ReportMetric(first, "first-append-µs/tap")
	b.ReportMetric(last, "last-append-µs/tap")
}
