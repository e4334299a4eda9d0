package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/serve/store"
)

// Schema is the DDL New runs (idempotent).
const Schema = `
CREATE TABLE IF NOT EXISTS tagline_bindings (
	uid           text PRIMARY KEY,
	sku           text NOT NULL,
	batch_id      text NOT NULL,
	station_id    text NOT NULL,
	seq           bigint NOT NULL,
	key_version   smallint NOT NULL,
	master_kcv    text NOT NULL,
	template_hash text NOT NULL,
	outcome       text NOT NULL,
	read_ctr      bigint NOT NULL,
	completed_at  timestamptz NOT NULL,
	-- highest SDM read counter accepted; starts at read_ctr, never decreases
	last_ctr      bigint NOT NULL,
	last_tap_at   timestamptz
);
CREATE TABLE IF NOT EXISTS tagline_records (
	station_id  text NOT NULL,
	seq         bigint NOT NULL,
	uid         text NOT NULL,
	line        text NOT NULL,
	received_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (station_id, seq)
);
CREATE TABLE IF NOT EXISTS tagline_stations (
	station_id     text PRIMARY KEY,
	acked_upto     bigint NOT NULL,
	last_upload_at timestamptz NOT NULL
);
-- records not applied because another station's binding holds their UID
-- (store invariants 4 and 6), for a person to resolve
CREATE TABLE IF NOT EXISTS tagline_conflicts (
	station_id       text NOT NULL,
	seq              bigint NOT NULL,
	uid              text NOT NULL,
	bound_station_id text NOT NULL,
	record           jsonb NOT NULL,
	bound            jsonb NOT NULL,
	detected_at      timestamptz NOT NULL,
	PRIMARY KEY (station_id, seq)
);
CREATE TABLE IF NOT EXISTS tagline_idempotency (
	key         text PRIMARY KEY,
	body_sha256 text NOT NULL,
	answer      jsonb,
	created_at  timestamptz NOT NULL DEFAULT now()
);
`

// The WHERE clause is the Bind verdict of store.Classify on an existing
// row (the same station, a higher seq); GREATEST keeps invariant 4 of
// store. A row the WHERE clause leaves alone is still locked, so the
// bindings read after it in the transaction are the ones decided against.
const upsertSQL = `
INSERT INTO tagline_bindings AS b (uid, sku, batch_id, station_id, seq, key_version, master_kcv, template_hash, outcome, read_ctr, completed_at, last_ctr)
SELECT u.uid, u.sku, u.batch_id, $1, u.seq, u.key_version, u.master_kcv, u.template_hash, u.outcome, u.read_ctr, u.completed_at, u.read_ctr
FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::smallint[], $7::text[], $8::text[], $9::text[], $10::bigint[], $11::timestamptz[])
	AS u(uid, sku, batch_id, seq, key_version, master_kcv, template_hash, outcome, read_ctr, completed_at)
ON CONFLICT (uid) DO UPDATE SET
	sku = EXCLUDED.sku, batch_id = EXCLUDED.batch_id, station_id = EXCLUDED.station_id, seq = EXCLUDED.seq,
	key_version = EXCLUDED.key_version, master_kcv = EXCLUDED.master_kcv, template_hash = EXCLUDED.template_hash,
	outcome = EXCLUDED.outcome, read_ctr = EXCLUDED.read_ctr, completed_at = EXCLUDED.completed_at,
	last_ctr = GREATEST(b.last_ctr, EXCLUDED.read_ctr)
WHERE b.station_id = EXCLUDED.station_id AND b.seq < EXCLUDED.seq
RETURNING uid`

const bindingCols = `uid, sku, batch_id, station_id, seq, key_version, master_kcv, template_hash, outcome, read_ctr, completed_at`

const conflictsSQL = `
INSERT INTO tagline_conflicts (station_id, seq, uid, bound_station_id, record, bound, detected_at)
SELECT $1, u.seq, u.uid, u.bound_station_id, u.record, u.bound, $7
FROM unnest($2::bigint[], $3::text[], $4::text[], $5::jsonb[], $6::jsonb[]) AS u(seq, uid, bound_station_id, record, bound)
ON CONFLICT (station_id, seq) DO NOTHING`

const recordsSQL = `
INSERT INTO tagline_records (station_id, seq, uid, line)
SELECT $1, u.seq, u.uid, u.line FROM unnest($2::bigint[], $3::text[], $4::text[]) AS u(seq, uid, line)
ON CONFLICT (station_id, seq) DO NOTHING`

// Store is a store.Store over a PostgreSQL database.
type Store struct {
	pool *pgxpool.Pool
	own  bool
	now  func() time.Time
	taps *tapGroups // taps.go
}

// Options tune New.
type Options struct {
	// MaxConns of the pool (default: pgxpool's, max(4, cores)).
	MaxConns int32
	// Now stamps conflicts (default time.Now).
	Now func() time.Time
}

// New connects to the database named by dsn (a postgres:// URL or a
// key=value string) and creates the schema if needed.
func New(ctx context.Context, dsn string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres dsn: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s, err := NewFromPool(ctx, pool)
	if err != nil {
		pool.Close()
		return nil, err
	}
	s.own = true
	if opts.Now != nil {
		s.now = opts.Now
	}
	return s, nil
}

// StationJournalsSchema holds the journal each station syncs from. It is
// migration 5, and also made with the base schema, so that a backend that
// keeps no tap history (where the migrations run) can check journals too.
const StationJournalsSchema = `
CREATE TABLE IF NOT EXISTS tagline_station_journals (
	station_id text PRIMARY KEY,
	journal_id text NOT NULL,
	first_seen timestamptz NOT NULL DEFAULT now()
);`

// NewFromPool uses a pool the caller owns (Close leaves it open).
func NewFromPool(ctx context.Context, pool *pgxpool.Pool) (*Store, error) {
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7361626)`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, Schema); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, StationJournalsSchema)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres schema: %w", err)
	}
	s := &Store{pool: pool, now: time.Now}
	s.taps = startTapGroups(s)
	return s, nil
}

// Pool is the store's connection pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close closes the pool if New opened it.
func (s *Store) Close() error {
	s.taps.close()
	if s.own {
		s.pool.Close()
	}
	return nil
}

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Tap implements store.Store with one statement (invariant 1).
func (s *Store) Tap(ctx context.Context, uid string, ctr uint32, kv byte) (store.Tap, error) {
	return s.taps.tap(ctx, uid, ctr, kv)
}

// Lookup implements store.Store.
func (s *Store) Lookup(ctx context.Context, uid string) (manifest.Binding, uint32, bool, error) {
	var b manifest.Binding
	var seq, readCtr, last int64
	var kv int16
	err := s.pool.QueryRow(ctx, `SELECT sku, batch_id, station_id, seq, key_version, master_kcv, template_hash, outcome, read_ctr, completed_at, last_ctr
		FROM tagline_bindings WHERE uid = $1`, uid).Scan(&b.SKU, &b.BatchID, &b.StationID, &seq, &kv, &b.MasterKCV, &b.TemplateHash, &b.Outcome, &readCtr, &b.CompletedAt, &last)
	if errors.Is(err, pgx.ErrNoRows) {
		return b, 0, false, nil
	}
	if err != nil {
		return b, 0, false, err
	}
	b.UID, b.Seq, b.KeyVersion, b.ReadCtr, b.CompletedAt = manifest.UID(uid), uint64(seq), byte(kv), uint32(readCtr), b.CompletedAt.UTC()
	return b, uint32(last), true, nil
}

// ApplySync implements store.Store in one transaction (invariant 3).
// ClaimJournal implements store.Store: the first journal of a station is
// kept, whichever of two instances records it.
func (s *Store) ClaimJournal(ctx context.Context, station, journal string) (string, error) {
	var owner string
	err := s.pool.QueryRow(ctx, `WITH ins AS (
		INSERT INTO tagline_station_journals (station_id, journal_id) VALUES ($1, $2)
		ON CONFLICT (station_id) DO NOTHING RETURNING journal_id)
		SELECT journal_id FROM ins UNION ALL
		SELECT journal_id FROM tagline_station_journals WHERE station_id = $1 LIMIT 1`, station, journal).Scan(&owner)
	if err != nil {
		return "", fmt.Errorf("pgstore: journal of station %s: %w", station, err)
	}
	if owner != journal {
		return owner, store.ErrOtherJournal
	}
	return owner, nil
}

// Position is the highest seq acknowledged to a station (0 when unknown).
func (s *Store) Position(ctx context.Context, station string) (uint64, error) {
	var pos int64
	err := s.pool.QueryRow(ctx, `SELECT acked_upto FROM tagline_stations WHERE station_id = $1`, station).Scan(&pos)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("pgstore: position of station %s: %w", station, err)
	}
	return uint64(pos), nil
}

func (s *Store) ApplySync(ctx context.Context, up store.Upload) (store.Applied, error) {
	var res store.Applied
	now := s.now().UTC()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		res = store.Applied{}
		tag, err := tx.Exec(ctx, `INSERT INTO tagline_idempotency (key, body_sha256) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`, up.Key, up.BodySHA256)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			// Delivered before; the other transaction has committed (we
			// waited on its row) and this statement sees it.
			var sum string
			var answer []byte
			if err := tx.QueryRow(ctx, `SELECT body_sha256, answer FROM tagline_idempotency WHERE key = $1`, up.Key).Scan(&sum, &answer); err != nil {
				return err
			}
			if sum != up.BodySHA256 {
				return store.ErrIdempotencyConflict
			}
			res.Replayed = true
			return json.Unmarshal(answer, &res.Ack)
		}
		return s.apply(ctx, tx, up, now, &res)
	})
	if err != nil && !errors.Is(err, store.ErrIdempotencyConflict) {
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			return store.Applied{}, fmt.Errorf("sync upload: postgres %s: %s", pe.Code, pe.Message)
		}
		return store.Applied{}, fmt.Errorf("sync upload: %w", err)
	}
	if err != nil {
		return store.Applied{}, err
	}
	return res, nil
}

// apply stores a chunk's records, bindings and conflicts and its answer,
// inside the transaction that claimed its idempotency key.
func (s *Store) apply(ctx context.Context, tx pgx.Tx, up store.Upload, now time.Time, res *store.Applied) error {
	c, ack := up.Chunk, &res.Ack
	*ack = store.SyncAck{Station: c.Station, AckedSeq: c.NextSince, Count: len(c.Records)}
	latest := latestOf(c.Records)
	fresh, err := copyFresh(ctx, tx, c, latest)
	if err != nil {
		return err
	}
	if fresh {
		ack.New, ack.Bindings = len(c.Records), len(latest)
	} else if err := s.merge(ctx, tx, c, latest, now, res); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO tagline_stations (station_id, acked_upto, last_upload_at) VALUES ($1, $2, now())
		ON CONFLICT (station_id) DO UPDATE SET acked_upto = GREATEST(tagline_stations.acked_upto, EXCLUDED.acked_upto), last_upload_at = now()`,
		c.Station, int64(c.NextSince)); err != nil {
		return err
	}
	js, err := json.Marshal(ack)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE tagline_idempotency SET answer = $2 WHERE key = $1`, up.Key, js)
	return err
}

// latestOf returns the index of each UID's latest record, in UID order:
// ON CONFLICT cannot touch a row twice in one statement, nor COPY add it
// twice, so each UID is offered once, and within a chunk, all of one
// station, the highest seq is the one to offer. In UID order, two chunks
// binding the same UIDs lock their rows in the same order, so one waits
// for the other instead of both deadlocking.
func latestOf(recs []manifest.Record) []int {
	at := make(map[manifest.UID]int, len(recs))
	order := make([]int, 0, len(recs))
	for i := range recs {
		if j, ok := at[recs[i].UID]; ok {
			order[j] = i
			continue
		}
		at[recs[i].UID] = len(order)
		order = append(order, i)
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(string(recs[a].UID), string(recs[b].UID)) })
	return order
}

// heldSQL says whether the database holds a record in the chunk's seq
// range or a binding of one of its UIDs: only then can a row of the chunk
// meet an existing one.
const heldSQL = `SELECT EXISTS (SELECT 1 FROM tagline_records WHERE station_id = $1 AND seq BETWEEN $2 AND $3)
	OR EXISTS (SELECT 1 FROM tagline_bindings WHERE uid = ANY($4::text[]))`

// copyFresh stores a chunk that meets nothing held with COPY, which
// PostgreSQL writes in batches rather than as one speculative insertion
// per row, and says whether it did. Every record is then new and every
// UID's latest record becomes its binding (store.Classify: no binding
// yet), so there are no conflicts. A row committed by another transaction
// since the check (two stations binding one new UID at once) fails the
// COPY on its unique index; the savepoint is then rolled back and merge
// decides, which waits for and sees that row.
func copyFresh(ctx context.Context, tx pgx.Tx, c *manifest.Chunk, latest []int) (bool, error) {
	if len(c.Records) == 0 {
		return true, nil
	}
	lo, hi := c.Records[0].Seq, c.Records[0].Seq
	for i := range c.Records {
		lo, hi = min(lo, c.Records[i].Seq), max(hi, c.Records[i].Seq)
	}
	uids := make([]string, len(latest))
	for i, j := range latest {
		uids[i] = string(c.Records[j].UID)
	}
	var held bool
	if err := tx.QueryRow(ctx, heldSQL, c.Station, int64(lo), int64(hi), uids).Scan(&held); err != nil || held {
		return false, err
	}
	sp, err := tx.Begin(ctx)
	if err != nil {
		return false, err
	}
	_, err = sp.CopyFrom(ctx, pgx.Identifier{"tagline_records"}, []string{"station_id", "seq", "uid", "line"}, &recordRows{c: c, i: -1})
	if err == nil {
		_, err = sp.CopyFrom(ctx, pgx.Identifier{"tagline_bindings"},
			[]string{"uid", "sku", "batch_id", "station_id", "seq", "key_version", "master_kcv", "template_hash", "outcome", "read_ctr", "completed_at", "last_ctr"},
			&bindingRows{c: c, latest: latest, i: -1})
	}
	if err == nil {
		return true, sp.Commit(ctx)
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "23505" {
		return false, err
	}
	return false, sp.Rollback(ctx)
}

// recordRows are a chunk's records as rows of tagline_records.
type recordRows struct {
	c   *manifest.Chunk
	i   int
	row [4]any
}

func (r *recordRows) Next() bool { r.i++; return r.i < len(r.c.Records) }
func (r *recordRows) Err() error { return nil }
func (r *recordRows) Values() ([]any, error) {
	rec := &r.c.Records[r.i]
	r.row = [4]any{r.c.Station, int64(rec.Seq), string(rec.UID), rec.Line}
	return r.row[:], nil
}

// bindingRows are the latest record of each UID as rows of
// tagline_bindings, last_ctr starting at read_ctr (store invariant 4).
type bindingRows struct {
	c      *manifest.Chunk
	latest []int
	i      int
	row    [12]any
}

func (r *bindingRows) Next() bool { r.i++; return r.i < len(r.latest) }
func (r *bindingRows) Err() error { return nil }
func (r *bindingRows) Values() ([]any, error) {
	b := &r.c.Records[r.latest[r.i]]
	r.row = [12]any{string(b.UID), b.SKU, b.BatchID, r.c.Station, int64(b.Seq), int16(b.KeyVersion), b.MasterKCV, b.TemplateHash,
		string(b.Outcome), int64(b.ReadCtr), b.CompletedAt, int64(b.ReadCtr)}
	return r.row[:], nil
}

// merge stores a chunk that meets rows held: records new by station and
// seq, bindings by store.Classify, and the conflicts.
func (s *Store) merge(ctx context.Context, tx pgx.Tx, c *manifest.Chunk, latest []int, now time.Time, res *store.Applied) error {
	ack := &res.Ack
	n := len(c.Records)
	seqs, uids, lines := make([]int64, n), make([]string, n), make([]string, n)
	for i := range c.Records {
		seqs[i], uids[i], lines[i] = int64(c.Records[i].Seq), string(c.Records[i].UID), string(c.Records[i].Line)
	}
	tag, err := tx.Exec(ctx, recordsSQL, c.Station, seqs, uids, lines)
	if err != nil {
		return err
	}
	ack.New = int(tag.RowsAffected())
	applied, err := s.upsertLatest(ctx, tx, c, latest)
	if err != nil {
		return err
	}
	ack.Bindings = len(applied)
	if res.Conflicts, err = conflictsOf(ctx, tx, c, applied, now); err != nil {
		return err
	}
	if err := keepConflicts(ctx, tx, c.Station, res.Conflicts, now); err != nil {
		return err
	}
	ack.Conflicts = len(res.Conflicts)
	return nil
}

// upsertLatest offers each UID's latest record of the chunk (latestOf) as
// its binding and returns the UIDs it bound.
func (s *Store) upsertLatest(ctx context.Context, tx pgx.Tx, c *manifest.Chunk, latest []int) (map[string]bool, error) {
	m := len(latest)
	var (
		bu, sku, bid, kcv, th, oc = make([]string, m), make([]string, m), make([]string, m), make([]string, m), make([]string, m), make([]string, m)
		bseq, rctr                = make([]int64, m), make([]int64, m)
		kvs                       = make([]int16, m)
		cat                       = make([]time.Time, m)
	)
	for i, j := range latest {
		b := store.FromRecord(&c.Records[j])
		bu[i], sku[i], bid[i], kcv[i], th[i], oc[i] = string(b.UID), b.SKU, b.BatchID, b.MasterKCV, b.TemplateHash, string(b.Outcome)
		bseq[i], rctr[i], kvs[i], cat[i] = int64(b.Seq), int64(b.ReadCtr), int16(b.KeyVersion), b.CompletedAt
	}
	rows, err := tx.Query(ctx, upsertSQL, c.Station, bu, sku, bid, bseq, kvs, kcv, th, oc, rctr, cat)
	if err != nil {
		return nil, err
	}
	applied := make(map[string]bool, m)
	var u string
	_, err = pgx.ForEachRow(rows, []any{&u}, func() error {
		applied[u] = true
		return nil
	})
	return applied, err
}

// conflictsOf returns the chunk's records that another station's binding
// holds (store.Classify), reading the bindings of the UIDs the upsert left
// alone: rows it locked, so nobody changed them since.
func conflictsOf(ctx context.Context, tx pgx.Tx, c *manifest.Chunk, applied map[string]bool, now time.Time) ([]store.ConflictRecord, error) {
	var left []string
	seen := map[string]bool{}
	for i := range c.Records {
		if u := c.Records[i].UID; !applied[string(u)] && !seen[string(u)] {
			seen[string(u)] = true
			left = append(left, string(u))
		}
	}
	if len(left) == 0 {
		return nil, nil
	}
	rows, err := tx.Query(ctx, `SELECT `+bindingCols+` FROM tagline_bindings WHERE uid = ANY($1)`, left)
	if err != nil {
		return nil, err
	}
	current := make(map[string]manifest.Binding, len(left))
	var b manifest.Binding
	var seq, readCtr int64
	var kv int16
	_, err = pgx.ForEachRow(rows, []any{&b.UID, &b.SKU, &b.BatchID, &b.StationID, &seq, &kv, &b.MasterKCV, &b.TemplateHash, &b.Outcome, &readCtr, &b.CompletedAt}, func() error {
		b.Seq, b.KeyVersion, b.ReadCtr, b.CompletedAt = uint64(seq), byte(kv), uint32(readCtr), b.CompletedAt.UTC()
		current[string(b.UID)] = b
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []store.ConflictRecord
	for i := range c.Records {
		cur, ok := current[string(c.Records[i].UID)]
		if !ok || applied[string(c.Records[i].UID)] {
			continue
		}
		in := store.FromRecord(&c.Records[i])
		if store.Classify(&in, &cur) == store.Conflict {
			out = append(out, store.ConflictRecord{Record: in, Bound: cur, DetectedAt: now})
		}
	}
	return out, nil
}

// keepConflicts stores conflicts once by their record's station and seq.
func keepConflicts(ctx context.Context, tx pgx.Tx, station string, cs []store.ConflictRecord, now time.Time) error {
	if len(cs) == 0 {
		return nil
	}
	seqs, uids, bst := make([]int64, len(cs)), make([]string, len(cs)), make([]string, len(cs))
	recs, bound := make([]string, len(cs)), make([]string, len(cs))
	for i := range cs {
		r, err := json.Marshal(cs[i].Record)
		if err != nil {
			return err
		}
		b, err := json.Marshal(cs[i].Bound)
		if err != nil {
			return err
		}
		seqs[i], uids[i], bst[i], recs[i], bound[i] = int64(cs[i].Record.Seq), string(cs[i].Record.UID), cs[i].Bound.StationID, string(r), string(b)
	}
	_, err := tx.Exec(ctx, conflictsSQL, station, seqs, uids, bst, recs, bound, now)
	return err
}

// Conflicts implements store.Store.
func (s *Store) Conflicts(ctx context.Context, limit int) ([]store.ConflictRecord, int, error) {
	var total int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM tagline_conflicts`).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("conflicts: %w", err)
	}
	if limit <= 0 {
		return nil, total, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT record, bound, detected_at FROM tagline_conflicts ORDER BY station_id, seq LIMIT $1`, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("conflicts: %w", err)
	}
	var out []store.ConflictRecord
	var rec, bound []byte
	var at time.Time
	_, err = pgx.ForEachRow(rows, []any{&rec, &bound, &at}, func() error {
		var c store.ConflictRecord
		if err := json.Unmarshal(rec, &c.Record); err != nil {
			return err
		}
		if err := json.Unmarshal(bound, &c.Bound); err != nil {
			return err
		}
		c.DetectedAt = at.UTC()
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("conflicts: %w", err)
	}
	return out, total, nil
}
