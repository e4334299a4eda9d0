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
// brand's view and for pruning.
const HistorySchema = `
CREATE TABLE IF NOT EXISTS tagline_taps (
	at          timestamptz NOT NULL,
	uid         text NOT NULL,
	sku         text NOT NULL,
	batch_id    text NOT NULL,
	result      text NOT NULL,
	ctr         bigint NOT NULL,
	key_version smallint NOT NULL,
	place       text NOT NULL DEFAULT '',
	ip          text NOT NULL DEFAULT ''
);
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

type history struct{ pool *pgxpool.Pool }

// History runs the online migrations (the history tables and the indexes
// of the brand's view among them) and returns the history.
func (s *Store) History(ctx context.Context) (store.History, error) {
	if _, err := Migrate(ctx, s.pool, true); err != nil {
		return nil, fmt.Errorf("postgres migrations: %w", err)
	}
	return &history{pool: s.pool}, nil
}

// AppendTaps writes a batch with COPY: one round trip for the batch.
func (h *history) AppendTaps(ctx context.Context, taps []store.TapEvent) error {
	_, err := h.pool.CopyFrom(ctx, pgx.Identifier{"tagline_taps"},
		[]string{"at", "uid", "sku", "batch_id", "result", "ctr", "key_version", "place", "ip"},
		pgx.CopyFromSlice(len(taps), func(i int) ([]any, error) {
			t := &taps[i]
			return []any{t.At, t.UID, t.SKU, t.Batch, t.Result, int64(t.Ctr), int16(t.KeyVersion), t.Place, t.IP}, nil
		}))
	return err
}

func (h *history) AppendAlerts(ctx context.Context, alerts []store.Alert) error {
	_, err := h.pool.CopyFrom(ctx, pgx.Identifier{"tagline_alerts"},
		[]string{"at", "kind", "uid", "sku", "ctr", "detail"},
		pgx.CopyFromSlice(len(alerts), func(i int) ([]any, error) {
			a := &alerts[i]
			return []any{a.At, a.Kind, a.UID, a.SKU, int64(a.Ctr), a.Detail}, nil
		}))
	return err
}

func (h *history) Prune(ctx context.Context, before time.Time) (int64, error) {
	var n int64
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
	counts := []struct {
		q   string
		dst map[string]int
	}{
		{`SELECT sku, count(*) FROM tagline_taps WHERE at >= $1 AND result = 'genuine' GROUP BY 1`, sum.BySKU},
		{`SELECT batch_id, count(*) FROM tagline_taps WHERE at >= $1 AND result = 'genuine' GROUP BY 1`, sum.ByBatch},
		{`SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), count(*) FROM tagline_taps WHERE at >= $1 GROUP BY 1`, sum.ByDay},
		{`SELECT result, count(*) FROM tagline_taps WHERE at >= $1 GROUP BY 1`, sum.ByResult},
		{`SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), count(*) FROM tagline_alerts WHERE at >= $1 GROUP BY 1`, sum.AlertsByDay},
	}
	for _, c := range counts {
		rows, err := h.pool.Query(ctx, c.q, since)
		if err != nil {
			return sum, err
		}
		var k string
		var n int
		_, err = pgx.ForEachRow(rows, []any{&k, &n}, func() error { c.dst[k] = n; return nil })
		if err != nil {
			return sum, err
		}
	}
	for _, n := range sum.ByResult {
		sum.Taps += n
	}
	rows, err := h.pool.Query(ctx, `SELECT at, kind, uid, sku, ctr, detail FROM tagline_alerts WHERE at >= $1 ORDER BY at DESC LIMIT $2`, since, store.MaxSummaryAlerts)
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
