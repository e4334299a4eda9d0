package pgstore_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/serve/store"
	"github.com/tagline-station/tagline/serve/store/pgstore"
)

// Taps land in the partition of their month, made on the first batch of
// a month; the history from before partitioning keeps its months; pruning
// drops the months wholly before the retention and deletes what is left
// before it, and says how many taps went.
func TestTapHistoryPartitionedByMonth(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t, "parts")
	// A history kept before partitioning, in an old month.
	saved := pgstore.Migrations
	pgstore.Migrations = saved[:5]
	_, err := pgstore.Migrate(ctx, pool, true)
	pgstore.Migrations = saved
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO tagline_taps (at, uid, sku, batch_id, result, ctr, key_version)
		VALUES ('2025-01-10T10:00:00Z', '04A1', 'SKU-A', 'b1', 'genuine', 2, 1)`); err != nil {
		t.Fatal(err)
	}
	st, err := pgstore.NewFromPool(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h, err := st.History(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The months after the old history: three, ten days apart around a
	// month's turn, far enough in the future to be after p0's bound.
	base := time.Date(2031, 3, 25, 12, 0, 0, 0, time.UTC)
	var taps []store.TapEvent
	for i := 0; i < 9; i++ {
		taps = append(taps, store.TapEvent{At: base.Add(time.Duration(i) * 5 * 24 * time.Hour), UID: manifest.UID("04A1"), SKU: "SKU-A", Batch: "b1", Result: "genuine", Ctr: uint32(10 + i), KeyVersion: 1})
	}
	// 2031-03-25, 03-30 | 04-04 … 04-29 (6) | 05-04.
	if err := h.AppendTaps(ctx, taps); err != nil {
		t.Fatal(err)
	}
	// Old taps, as a test or a restored journal brings, go to p0.
	if err := h.AppendTaps(ctx, []store.TapEvent{{At: time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC), UID: "04A1", SKU: "SKU-A", Batch: "b1", Result: "replayed", Ctr: 2, KeyVersion: 1}}); err != nil {
		t.Fatal(err)
	}
	counts := partitionCounts(t, pool)
	want := map[string]int{"tagline_taps_p0": 2, "tagline_taps_p203103": 2, "tagline_taps_p203104": 6, "tagline_taps_p203105": 1}
	for name, n := range want {
		if counts[name] != n {
			t.Errorf("partition %s holds %d taps, want %d (all: %v)", name, counts[name], n, counts)
		}
	}

	// Keep from 2031-04-20: March goes whole, April loses its first
	// four taps (04-04 to 04-19), p0 its two.
	n, err := h.Prune(ctx, time.Date(2031, 4, 20, 0, 0, 0, 0, time.UTC))
	if err != nil || n != 2+4+2 {
		t.Fatalf("pruned %d, %v", n, err)
	}
	counts = partitionCounts(t, pool)
	if _, ok := counts["tagline_taps_p203103"]; ok {
		t.Errorf("March's partition is still there: %v", counts)
	}
	if counts["tagline_taps_p203104"] != 2 || counts["tagline_taps_p203105"] != 1 || counts["tagline_taps_p0"] != 0 {
		t.Errorf("after pruning: %v", counts)
	}
	// A late tap of a dropped month gets its partition again.
	if err := h.AppendTaps(ctx, taps[:1]); err != nil {
		t.Fatal(err)
	}
	if counts = partitionCounts(t, pool); counts["tagline_taps_p203103"] != 1 {
		t.Errorf("late March tap: %v", counts)
	}
}

func partitionCounts(t *testing.T, pool *pgxpool.Pool) map[string]int {
	t.Helper()
	ctx := context.Background()
	rows, err := pool.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'tagline_taps'::regclass`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	out := map[string]int{}
	for _, name := range names {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{name}.Sanitize()).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[name] = n
	}
	return out
}
