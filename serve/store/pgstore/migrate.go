package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Migration is one versioned step of the schema. Online migrations only
// add (tables, columns with defaults, indexes built concurrently-safe on
// small tables) and are run on start; the others wait for `tagline serve
// migrate`, run while no instance serves.
type Migration struct {
	Version int
	Name    string
	SQL     string
	Online  bool
}

// Migrations are the schema's versions in order. Version 1 is the schema
// before versioning (Schema, all CREATE IF NOT EXISTS), so that a
// database made by an older tagline is adopted in place, its data kept.
var Migrations = []Migration{
	{1, "bindings, records, stations, conflicts, idempotency", Schema, true},
	{2, "tap history and clone alerts", HistorySchema, true},
	{3, "indexes of the brand's view and of idempotency pruning", `
DROP INDEX IF EXISTS tagline_taps_at;
CREATE INDEX IF NOT EXISTS tagline_taps_at_cover ON tagline_taps (at) INCLUDE (result, sku, batch_id);
CREATE INDEX IF NOT EXISTS tagline_idempotency_created ON tagline_idempotency (created_at);
CREATE INDEX IF NOT EXISTS tagline_bindings_sku_batch ON tagline_bindings (sku, batch_id);`, true},
	{4, "daily tap counts for the brand's view", TapDaysSchema + `
INSERT INTO tagline_tap_days (day, sku, batch_id, result, n)
SELECT (at AT TIME ZONE 'UTC')::date, sku, batch_id, result, count(*) FROM tagline_taps GROUP BY 1, 2, 3, 4
ON CONFLICT (day, sku, batch_id, result) DO UPDATE SET n = EXCLUDED.n;`, true},
	{5, "the journal each station syncs from", StationJournalsSchema, true},
	{6, "tap history partitioned by month", PartitionSchema, true},
	{7, "daily alert counts for the brand's view", AlertDaysSchema + `
INSERT INTO tagline_alert_days (day, kind, n)
SELECT (at AT TIME ZONE 'UTC')::date, kind, count(*) FROM tagline_alerts GROUP BY 1, 2;`, true},
	// A tap rewrites its tag's row (last_ctr, last_tap_at, in no index);
	// with room left on the row's page the new version stays there (a HOT
	// update) and no index gains an entry. Pages written before keep no
	// room until their rows move once.
	{8, "room on binding pages for in-place tap updates", `ALTER TABLE tagline_bindings SET (fillfactor = 80);`, true},
	// The brand's view counts taps from the daily counts (4), not
	// bindings, so no query reads bindings by SKU and batch; the index
	// cost a fifth of a bulk ingest.
	{9, "drop the unread index of bindings by SKU and batch", `DROP INDEX IF EXISTS tagline_bindings_sku_batch;`, true},
}

const migrationsTable = `CREATE TABLE IF NOT EXISTS tagline_schema_migrations (
	version    int PRIMARY KEY,
	name       text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`

// Migrate applies the pending migrations in order, each in its own
// transaction under the schema's advisory lock, so that instances starting
// together apply each once. With onlineOnly it stops before the first
// migration that is not Online and says so. It returns the versions
// applied.
func Migrate(ctx context.Context, pool *pgxpool.Pool, onlineOnly bool) ([]int, error) {
	var applied []int
	for _, m := range Migrations {
		done := false
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7361626)`); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, migrationsTable); err != nil {
				return err
			}
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tagline_schema_migrations WHERE version = $1)`, m.Version).Scan(&done); err != nil || done {
				return err
			}
			if onlineOnly && !m.Online {
				return fmt.Errorf("migration %d (%s) must run while no instance serves: stop them and run tagline serve migrate", m.Version, m.Name)
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("migration %d (%s): %w", m.Version, m.Name, err)
			}
			_, err := tx.Exec(ctx, `INSERT INTO tagline_schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name)
			return err
		})
		if err != nil {
			return applied, err
		}
		if !done {
			applied = append(applied, m.Version)
		}
	}
	return applied, nil
}

// SchemaVersion is the newest migration applied (0: none).
func SchemaVersion(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	var v int
	err := pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM tagline_schema_migrations`).Scan(&v)
	return v, err
}

// PruneIdempotency deletes the idempotency records made before t. A
// station retries a chunk within minutes; a key older than the retention
// is only replayed by hand, and its records are then applied again by
// seq, which changes nothing already applied.
func (s *Store) PruneIdempotency(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM tagline_idempotency WHERE created_at < $1`, before)
	return tag.RowsAffected(), err
}
