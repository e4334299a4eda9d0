package pgstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PartitionSchema turns tagline_taps into a table partitioned by month of
// tap time (migration 6). The history kept before it stays, as the
// partition tagline_taps_p0 of everything before the first month after
// both its newest tap and now. Attaching it reads it once to check the
// bound and once to build its BRIN index, under a lock that holds history
// writes for that long: 4 s for 10,000,000 taps on a two-core machine.
// An instance migrates on start, before it serves; other instances
// serving meanwhile buffer their history (16,384 taps), then their taps
// wait too.
//
// The taps' only index is a BRIN index of tap time: the brand's view
// reads the daily counts, so the taps are read only by pruning, and taps
// arrive in time order, which is what BRIN needs; it costs an insert
// almost nothing, where the B-tree (at) INCLUDE (result, sku, batch_id)
// of migration 3 grew by an entry per tap.
const PartitionSchema = `
ALTER TABLE tagline_taps RENAME TO tagline_taps_p0;
DROP INDEX tagline_taps_at_cover;
CREATE TABLE tagline_taps ` + tapColumns + ` PARTITION BY RANGE (at);
CREATE INDEX tagline_taps_at_brin ON tagline_taps USING brin (at);
DO $$
DECLARE upto timestamptz;
BEGIN
	SELECT (date_trunc('month', greatest(coalesce(max(at), now()), now()) AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC'
	INTO upto FROM tagline_taps_p0;
	EXECUTE format('ALTER TABLE tagline_taps ATTACH PARTITION tagline_taps_p0 FOR VALUES FROM (MINVALUE) TO (%L)', upto);
END $$;`

// partitionLock serialises the creation of month partitions between
// instances (CREATE TABLE IF NOT EXISTS is not safe against a concurrent
// create of the same name).
const partitionLock = 7361627

// months knows which months of tap time have a partition, so that a batch
// of taps costs a DDL statement only on its month's first batch.
type months struct {
	mu   sync.Mutex
	have map[time.Time]bool
}

// dayOf is t's UTC day, the key of the daily counts.
func dayOf(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

func monthOf(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

func partitionName(month time.Time) string {
	return fmt.Sprintf("tagline_taps_p%04d%02d", month.Year(), int(month.Month()))
}

// ensure makes the partitions of the months of ts that do not have one.
// A month inside the range of tagline_taps_p0 (the history from before
// partitioning) is covered by it: its create fails as an overlap and is
// remembered as covered.
func (m *months) ensure(ctx context.Context, pool *pgxpool.Pool, ts ...time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range ts {
		month := monthOf(t)
		if m.have[month] {
			continue
		}
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, partitionLock); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s PARTITION OF tagline_taps FOR VALUES FROM ('%s') TO ('%s')`,
				partitionName(month), month.Format(time.RFC3339), month.AddDate(0, 1, 0).Format(time.RFC3339)))
			return err
		})
		var pe *pgconn.PgError
		if err != nil && !(errors.As(err, &pe) && pe.Code == "42P17") {
			return fmt.Errorf("tap history partition for %s: %w", month.Format("2006-01"), err)
		}
		m.have[month] = true
	}
	return nil
}

// dropMonthsBefore drops the month partitions that end at or before
// before and says how many taps they held. The partition of the history
// from before partitioning is pruned by DELETE like the month that
// straddles before.
func dropMonthsBefore(ctx context.Context, pool *pgxpool.Pool, m *months, before time.Time) (int64, error) {
	rows, err := pool.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'tagline_taps'::regclass ORDER BY 1`)
	if err != nil {
		return 0, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, err
	}
	var n int64
	for _, name := range names {
		var y, mo int
		if _, err := fmt.Sscanf(name, "tagline_taps_p%04d%02d", &y, &mo); err != nil {
			continue
		}
		month := time.Date(y, time.Month(mo), 1, 0, 0, 0, 0, time.UTC)
		if month.AddDate(0, 1, 0).After(before) {
			continue
		}
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			var k int64
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{name}.Sanitize()).Scan(&k); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DROP TABLE `+pgx.Identifier{name}.Sanitize()); err != nil {
				return err
			}
			n += k
			return nil
		})
		if err != nil {
			return n, fmt.Errorf("dropping tap history partition %s: %w", name, err)
		}
		m.mu.Lock()
		delete(m.have, month)
		m.mu.Unlock()
	}
	return n, nil
}
