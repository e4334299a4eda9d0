package pgstore_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tagline-station/tagline/serve/store/pgstore"
)

// A database made by today's release (the unversioned schema, with data)
// is upgraded in place: every migration applies once, the data stay, the
// admin view's indexes exist, and old idempotency records can be pruned.
func TestMigrateInPlace(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t, "old")
	// Today's release: NewFromPool creates the unversioned schema.
	if _, err := pool.Exec(ctx, pgstore.Schema); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := pool.Exec(ctx, `INSERT INTO tagline_bindings (uid, sku, batch_id, station_id, seq, key_version, master_kcv, template_hash, outcome, read_ctr, completed_at, last_ctr)
		VALUES ('04A1B2C3D4E5F6', 'SKU-A', 'b1', 'line-1', 1, 1, 'A1B2C3', '', 'verified', 1, $1, 9)`, old); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO tagline_idempotency (key, body_sha256, created_at) VALUES ('old', 'x', $1), ('new', 'y', now())`, old); err != nil {
		t.Fatal(err)
	}

	applied, err := pgstore.Migrate(ctx, pool, true)
	if err != nil || !slices.Equal(applied, []int{1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Fatalf("applied %v, %v", applied, err)
	}
	if v, err := pgstore.SchemaVersion(ctx, pool); err != nil || v != 9 {
		t.Fatalf("version %d, %v", v, err)
	}
	st, err := pgstore.NewFromPool(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	b, last, ok, err := st.Lookup(ctx, "04A1B2C3D4E5F6")
	if err != nil || !ok || b.SKU != "SKU-A" || b.BatchID != "b1" || last != 9 {
		t.Fatalf("binding after migration: %+v %d %v %v", b, last, ok, err)
	}
	for _, idx := range []string{"tagline_taps_at_brin", "tagline_idempotency_created", "tagline_alerts_at"} {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_indexes WHERE indexname = $1`, idx).Scan(&n); err != nil || n != 1 {
			t.Errorf("index %s: %d %v", idx, n, err)
		}
	}
	var unread int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_indexes WHERE indexname = 'tagline_bindings_sku_batch'`).Scan(&unread); err != nil || unread != 0 {
		t.Errorf("the unread index of bindings by SKU and batch: %d %v", unread, err)
	}
	if applied, err := pgstore.Migrate(ctx, pool, true); err != nil || len(applied) != 0 {
		t.Fatalf("second run applied %v, %v", applied, err)
	}

	n, err := st.PruneIdempotency(ctx, time.Now().Add(-24*time.Hour))
	var left []string
	rows, _ := pool.Query(ctx, `SELECT key FROM tagline_idempotency ORDER BY key`)
	for rows.Next() {
		var k string
		rows.Scan(&k)
		left = append(left, k)
	}
	if err != nil || n != 1 || !slices.Equal(left, []string{"new"}) {
		t.Fatalf("pruned %d (%v), left %v", n, err, left)
	}
}

// A migration that is not online is not run on start: the message says to
// run tagline serve migrate, which runs it.
func TestMigrateOfflineWaits(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t, "offline")
	saved := pgstore.Migrations
	t.Cleanup(func() { pgstore.Migrations = saved })
	pgstore.Migrations = append(slices.Clone(saved), pgstore.Migration{Version: 99, Name: "rewrite", SQL: `ALTER TABLE tagline_taps ADD COLUMN agent text`})
	applied, err := pgstore.Migrate(ctx, pool, true)
	if err == nil || !strings.Contains(err.Error(), "tagline serve migrate") || len(applied) != 9 {
		t.Fatalf("online only: %v %v", applied, err)
	}
	if applied, err := pgstore.Migrate(ctx, pool, false); err != nil || !slices.Equal(applied, []int{99}) {
		t.Fatalf("full: %v %v", applied, err)
	}
}

// A database at version 3 with a tap history gets its daily counts from
// migrations 4 and 7, so the brand's view still shows the taps and alerts
// kept before.
func TestMigrateBackfillsDailyCounts(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t, "v3")
	saved := pgstore.Migrations
	pgstore.Migrations = saved[:3]
	_, err := pgstore.Migrate(ctx, pool, true)
	pgstore.Migrations = saved
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO tagline_taps (at, uid, sku, batch_id, result, ctr, key_version) VALUES
		('2026-03-01T10:00:00Z', '04A1', 'SKU-A', 'b1', 'genuine', 2, 1),
		('2026-03-01T11:00:00Z', '04A1', 'SKU-A', 'b1', 'genuine', 3, 1),
		('2026-03-02T11:00:00Z', '04A1', 'SKU-A', 'b1', 'replayed', 3, 1)`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO tagline_alerts (at, kind, uid, sku, ctr, detail) VALUES
		('2026-03-02T11:00:00Z', 'counter_seen_twice', '04A1', 'SKU-A', 3, '')`); err != nil {
		t.Fatal(err)
	}
	if applied, err := pgstore.Migrate(ctx, pool, true); err != nil || !slices.Equal(applied, []int{4, 5, 6, 7, 8, 9}) {
		t.Fatalf("applied %v, %v", applied, err)
	}
	// Migration 6 kept the taps, now in the partition of the history from
	// before partitioning.
	var kind string
	var kept int
	if err := pool.QueryRow(ctx, `SELECT c.relkind::text, (SELECT count(*) FROM tagline_taps_p0) FROM pg_class c WHERE c.relname = 'tagline_taps'`).Scan(&kind, &kept); err != nil || kind != "p" || kept != 3 {
		t.Fatalf("tagline_taps kind %q with %d taps in p0, %v", kind, kept, err)
	}
	st, err := pgstore.NewFromPool(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	h, err := st.History(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := h.Summary(ctx, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	if err != nil || sum.Taps != 3 || sum.BySKU["SKU-A"] != 2 || sum.ByDay["2026-03-01"] != 2 || sum.ByResult["replayed"] != 1 || sum.AlertsByDay["2026-03-02"] != 1 || len(sum.Alerts) != 1 {
		t.Fatalf("summary after backfill: %+v %v", sum, err)
	}
}
