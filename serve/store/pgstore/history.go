package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tagline-station/tagline/serve/store"
)

// HistorySchema is the tap history: append-only, indexed by time for the
// brand's view and for pruning. Migration 6 (PartitionSchema) partitions
// its taps by month.
const HistorySchema = `
CREATE TABLE IF NOT EXISTS tagline_taps ` + tapColumns + `;
CREATE INDEX IF NOT EXISTS tagline_taps_at ON tagline_taps (at);
CREATE TABLE IF NOT EXISTS tagline_alerts (
	at     timestamptz NOT NULL,
	kind   text NOT NULL,
	uid    text NOT NULL,
	sku    text NOT NULL,
	ctr    bigint NOT NULL,
	detail text NOT NULL
);
CREATE INDEX IF NOT EXISTS tagline_alerts_at ON tagline_alerts (at);
`

// tapColumns are a tap's columns, the same before and after partitioning.
const tapColumns = `(
	at          timestamptz NOT NULL,
	uid         text NOT NULL,
	sku         text NOT NULL,
	batch_id    text NOT NULL,
	result      text NOT NULL,
	ctr         bigint NOT NULL,
	key_version smallint NOT NULL,
	place       text NOT NULL DEFAULT '',
	ip          text NOT NULL DEFAULT ''
)`

// TapDaysSchema is the rollup the brand's view reads: taps per UTC day,
// SKU, batch and result, kept by AppendTaps in the transaction that adds
// the taps, so that the view's cost follows days × SKUs, not taps.
const TapDaysSchema = `
CREATE TABLE IF NOT EXISTS tagline_tap_days (
	day      date NOT NULL,
	sku      text NOT NULL,
	batch_id text NOT NULL,
	result   text NOT NULL,
	n        bigint NOT NULL,
	PRIMARY KEY (day, sku, batch_id, result)
);`

// AlertDaysSchema is the rollup of alerts the brand's view reads: alerts
// per UTC day and kind, kept by AppendAlerts in the transaction that adds
// them (a replayed URL raises one, so alerts can be as many as taps).
const AlertDaysSchema = `
CREATE TABLE IF NOT EXISTS tagline_alert_days (
	day  date NOT NULL,
	kind text NOT NULL,
	n    bigint NOT NULL,
	PRIMARY KEY (day, kind)
);`

type history struct {
	pool   *pgxpool.Pool
	months months
}

type dayKey struct {
	day                time.Time
	sku, batch, result string
}

// History runs the online migrations (the history tables and the indexes
// of the brand's view among them) and returns the history.
func (s *Store) History(ctx context.Context) (store.History, error) {
	if _, err := Migrate(ctx, s.pool, true); err != nil {
		return nil, fmt.Errorf("postgres migrations: %w", err)
	}
	h := &history{pool: s.pool, months: months{have: map[time.Time]bool{}}}
	// This month's and the next month's partitions exist before the first
	// tap, so that no batch at a month's turn waits for a DDL statement.
	now := s.now()
	if err := h.months.ensure(ctx, h.pool, now, monthOf(now).AddDate(0, 1, 0)); err != nil {
		return nil, err
	}
	return h, nil
}

// AppendTaps writes a batch with COPY and adds it to the daily counts,
// in one transaction, after making the partitions of its months.
func (h *history) AppendTaps(ctx context.Context, taps []store.TapEvent) error {
	counts := map[dayKey]int64{}
	var months []time.Time
	for i := range taps {
		t := taps[i].At.UTC()
		if m := monthOf(t); i == 0 || !m.Equal(months[len(months)-1]) {
			months = append(months, m)
		}
		counts[dayKey{dayOf(t), taps[i].SKU, taps[i].Batch, taps[i].Result}]++
	}
	if err := h.months.ensure(ctx, h.pool, months...); err != nil {
		return err
	}
	var days []time.Time
	var skus, batches, results []string
	var ns []int64
	for k, n := range counts {
		days, skus, batches, results, ns = append(days, k.day), append(skus, k.sku), append(batches, k.batch), append(results, k.result), append(ns, n)
	}
	return pgx.BeginFunc(ctx, h.pool, func(tx pgx.Tx) error {
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"tagline_taps"},
			[]string{"at", "uid", "sku", "batch_id", "result", "ctr", "key_version", "place", "ip"},
			pgx.CopyFromSlice(len(taps), func(i int) ([]any, error) {
				t := &taps[i]
				return []any{t.At, t.UID, t.SKU, t.Batch, t.Result, int64(t.Ctr), int16(t.KeyVersion), t.Place, t.IP}, nil
			}))
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO tagline_tap_days AS d (day, sku, batch_id, result, n)
SELECT * FROM unnest($1::date[], $2::text[], $3::text[], $4::text[], $5::bigint[])
ON CONFLICT (day, sku, batch_id, result) DO UPDATE SET n = d.n + EXCLUDED.n`, days, skus, batches, results, ns)
		return err
	})
}

// AppendAlerts writes a batch with COPY and adds it to the daily alert
// counts, in one transaction.
func (h *history) AppendAlerts(ctx context.Context, alerts []store.Alert) error {
	type key struct {
		day  time.Time
		kind string
	}
	counts := map[key]int64{}
	for i := range alerts {
		counts[key{dayOf(alerts[i].At), alerts[i].Kind}]++
	}
	var days []time.Time
	var kinds []string
	var ns []int64
	for k, n := range counts {
		days, kinds, ns = append(days, k.day), append(kinds, k.kind), append(ns, n)
	}
	return pgx.BeginFunc(ctx, h.pool, func(tx pgx.Tx) error {
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"tagline_alerts"},
			[]string{"at", "kind", "uid", "sku", "ctr", "detail"},
			pgx.CopyFromSlice(len(alerts), func(i int) ([]any, error) {
				a := &alerts[i]
				return []any{a.At, a.Kind, a.UID, a.SKU, int64(a.Ctr), a.Detail}, nil
			}))
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO tagline_alert_days AS d (day, kind, n)
SELECT * FROM unnest($1::date[], $2::text[], $3::bigint[])
ON CONFLICT (day, kind) DO UPDATE SET n = d.n + EXCLUDED.n`, days, kinds, ns)
		return err
	})
}

// Prune drops the month partitions wholly before before, then deletes
// what is left before it from the others.
func (h *history) Prune(ctx context.Context, before time.Time) (int64, error) {
	// The daily counts lose whole days only: the days before before's.
	for _, q := range []string{`DELETE FROM tagline_tap_days WHERE day < ($1::timestamptz AT TIME ZONE 'UTC')::date`,
		`DELETE FROM tagline_alert_days WHERE day < ($1::timestamptz AT TIME ZONE 'UTC')::date`} {
		if _, err := h.pool.Exec(ctx, q, before); err != nil {
			return 0, err
		}
	}
	n, err := dropMonthsBefore(ctx, h.pool, &h.months, before)
	if err != nil {
		return n, err
	}
	for _, q := range []string{`DELETE FROM tagline_taps WHERE at < $1`, `DELETE FROM tagline_alerts WHERE at < $1`} {
		tag, err := h.pool.Exec(ctx, q, before)
		if err != nil {
			return n, err
		}
		n += tag.RowsAffected()
	}
	return n, nil
}

func (h *history) Summary(ctx context.Context, since time.Time) (store.Summary, error) {
	sum := store.NewSummary(since)
	sinceDay := dayOf(since)
	// One scan of the daily counts for the four breakdowns; GROUPING()
	// says which breakdown a row belongs to.
	rows, err := h.pool.Query(ctx, `
SELECT GROUPING(sku, batch_id, day, result), coalesce(sku, ''), coalesce(batch_id, ''), coalesce(to_char(day, 'YYYY-MM-DD'), ''), coalesce(result, ''), sum(n)::bigint
FROM tagline_tap_days WHERE day >= $1
GROUP BY GROUPING SETS ((sku, result), (batch_id, result), (day), (result))`, sinceDay)
	if err != nil {
		return sum, err
	}
	var g, n int
	var sku, batch, day, result string
	_, err = pgx.ForEachRow(rows, []any{&g, &sku, &batch, &day, &result, &n}, func() error {
		// GROUPING bits, high to low: sku, batch_id, day, result (1: not grouped by).
		switch g {
		case 0b0110:
			if result == "genuine" {
				sum.BySKU[sku] += n
			}
		case 0b1010:
			if result == "genuine" {
				sum.ByBatch[batch] += n
			}
		case 0b1101:
			sum.ByDay[day] += n
		case 0b1110:
			sum.ByResult[result] += n
		}
		return nil
	})
	if err != nil {
		return sum, err
	}
	rows, err = h.pool.Query(ctx, `SELECT to_char(day, 'YYYY-MM-DD'), sum(n)::bigint FROM tagline_alert_days WHERE day >= $1 GROUP BY 1`, sinceDay)
	if err != nil {
		return sum, err
	}
	_, err = pgx.ForEachRow(rows, []any{&day, &n}, func() error { sum.AlertsByDay[day] = n; return nil })
	if err != nil {
		return sum, err
	}
	for _, n := range sum.ByResult {
		sum.Taps += n
	}
	rows, err = h.pool.Query(ctx, `SELECT at, kind, uid, sku, ctr, detail FROM tagline_alerts WHERE at >= $1 ORDER BY at DESC LIMIT $2`, since, store.MaxSummaryAlerts)
	if err != nil {
		return sum, err
	}
	var a store.Alert
	var ctr int64
	_, err = pgx.ForEachRow(rows, []any{&a.At, &a.Kind, &a.UID, &a.SKU, &ctr, &a.Detail}, func() error {
		a.Ctr = uint32(ctr)
		a.At = a.At.UTC()
		sum.Alerts = append(sum.Alerts, a)
		return nil
	})
	return sum, err
}
