package pgstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/serve/store"
)

// Taps are group-committed: each of tapWorkers committers takes the taps
// waiting when it is free (at most maxTapGroup, one per tag) and decides
// them in one statement, one transaction and so one WAL flush, where a
// statement per tap flushed once per tap. A tap is answered only after its
// group committed. Two taps of one tag never share a group: the second
// waits for the next, so each counter value is decided against the one
// before it exactly as one statement per tap would.
//
// One committer per instance: with a statement's cost mostly per group,
// two committers split the waiting taps into groups of half the size and
// cost PostgreSQL 32–39 µs of CPU per tap where one costs 17–35, for
// 12,500–14,900 taps/s against 13,300–20,100 (BenchmarkTapsHistory,
// alternating runs). Instances scale out with their own committers.
const (
	maxTapGroup = 256
	tapWorkers  = 1
)

// tapGroupSQL accepts the taps of a group whose counter is above the
// tag's last accepted one under the key version it is bound with, and
// returns their bindings. The others (replays, another key version, tags
// not bound) are rare and read by tapReadSQL after it.
const tapGroupSQL = `
UPDATE tagline_bindings b SET last_ctr = r.ctr, last_tap_at = now()
FROM unnest($1::text[], $2::bigint[], $3::smallint[], $4::int[]) AS r(uid, ctr, kv, i)
WHERE b.uid = r.uid AND b.key_version = r.kv AND b.last_ctr < r.ctr
RETURNING r.i, true, b.sku, b.batch_id, b.station_id, b.seq, b.key_version, b.master_kcv, b.template_hash, b.outcome, b.read_ctr, b.completed_at, b.last_ctr`

// tapReadSQL reads the bindings of the taps tapGroupSQL did not accept,
// after its commit: what a statement per tap would have seen after
// waiting for a concurrent tap of the same tag.
const tapReadSQL = `
SELECT r.i, false, b.sku, b.batch_id, b.station_id, b.seq, b.key_version, b.master_kcv, b.template_hash, b.outcome, b.read_ctr, b.completed_at, b.last_ctr
FROM unnest($1::text[], $2::int[]) AS r(uid, i) JOIN tagline_bindings b ON b.uid = r.uid`

type tapReq struct {
	uid   string
	ctr   uint32
	kv    byte
	reply chan tapReply
}

type tapReply struct {
	t   store.Tap
	err error
}

// tapGroups runs the committers until stop is closed.
type tapGroups struct {
	s    *Store
	in   chan *tapReq
	stop chan struct{}
	once sync.Once
	wg   sync.WaitGroup
}

func startTapGroups(s *Store) *tapGroups {
	g := &tapGroups{s: s, in: make(chan *tapReq, maxTapGroup*tapWorkers), stop: make(chan struct{})}
	for range tapWorkers {
		g.wg.Add(1)
		go g.run()
	}
	return g
}

func (g *tapGroups) close() {
	g.once.Do(func() { close(g.stop) })
	g.wg.Wait()
}

var errClosed = errors.New("postgres store is closed")

// tap queues one tap and waits for its group's answer.
func (g *tapGroups) tap(ctx context.Context, uid string, ctr uint32, kv byte) (store.Tap, error) {
	req := &tapReq{uid: uid, ctr: ctr, kv: kv, reply: make(chan tapReply, 1)}
	select {
	case g.in <- req:
	case <-g.stop:
		return store.Tap{}, errClosed
	case <-ctx.Done():
		return store.Tap{}, ctx.Err()
	}
	// Once queued, the tap is decided whatever the caller does: its
	// counter may be committed, and the answer says so.
	r := <-req.reply
	return r.t, r.err
}

// tapConn is a committer's own connection, taken out of the pool: on it
// the tap statements run with their generic plan. They take arrays, whose
// size the planner cannot see, and left to choose PostgreSQL planned each
// group anew, half of its CPU per tap; the generic plan is the same plan.
// The setting stays on this connection: the sync statements, whose
// custom plans find the rows a chunk meets by index, were ten times
// slower with generic ones.
type tapConn struct {
	s    *Store
	conn *pgx.Conn
}

func (c *tapConn) get(ctx context.Context) (*pgx.Conn, error) {
	if c.conn != nil && !c.conn.IsClosed() {
		return c.conn, nil
	}
	pc, err := c.s.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	conn := pc.Hijack()
	if _, err := conn.Exec(ctx, `SET plan_cache_mode = force_generic_plan`); err != nil {
		conn.Close(ctx)
		return nil, err
	}
	c.conn = conn
	return conn, nil
}

// drop closes the connection, after a failure left it in a state nobody
// knows, or at the end.
func (c *tapConn) drop() {
	if c.conn != nil {
		c.conn.Close(context.Background())
		c.conn = nil
	}
}

func (g *tapGroups) run() {
	defer g.wg.Done()
	c := &tapConn{s: g.s}
	defer c.drop()
	var held []*tapReq // taps of a tag already in the group, for the next one
	for {
		group := held
		held = nil
		if len(group) == 0 {
			select {
			case req := <-g.in:
				group = append(group, req)
			case <-g.stop:
				g.drain()
				return
			}
		}
		group, held = g.fill(group)
		g.decide(c, group)
	}
}

// drain answers the taps queued when the store closed.
func (g *tapGroups) drain() {
	for {
		select {
		case r := <-g.in:
			r.reply <- tapReply{err: errClosed}
		default:
			return
		}
	}
}

// fill adds the taps waiting now, up to maxTapGroup, one per tag; the
// others are held for the next group.
func (g *tapGroups) fill(group []*tapReq) (taken, held []*tapReq) {
	seen := make(map[string]bool, len(group))
	for _, r := range group {
		if seen[r.uid] {
			held = append(held, r)
			continue
		}
		seen[r.uid] = true
		taken = append(taken, r)
	}
	for len(taken) < maxTapGroup {
		select {
		case r := <-g.in:
			if seen[r.uid] {
				held = append(held, r)
				continue
			}
			seen[r.uid] = true
			taken = append(taken, r)
		default:
			return taken, held
		}
	}
	return taken, held
}

// decide runs one group's statement and answers each tap of it.
func (g *tapGroups) decide(c *tapConn, group []*tapReq) {
	n := len(group)
	uids, ctrs, kvs, idx := make([]string, n), make([]int64, n), make([]int16, n), make([]int32, n)
	for i, r := range group {
		uids[i], ctrs[i], kvs[i], idx[i] = r.uid, int64(r.ctr), int16(r.kv), int32(i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	answers := make([]tapReply, n)
	for i := range answers {
		answers[i].t.Result = store.Unknown
	}
	conn, err := c.get(ctx)
	if err == nil {
		var rows pgx.Rows
		if rows, err = conn.Query(ctx, tapGroupSQL, uids, ctrs, kvs, idx); err == nil {
			err = scanTaps(rows, group, answers)
		}
	}
	if err == nil {
		err = readOthers(ctx, conn, group, answers)
	}
	if err != nil {
		c.drop()
	}
	for i, r := range group {
		if err != nil {
			answers[i] = tapReply{err: fmt.Errorf("tap %s: %w", r.uid, err)}
		}
		r.reply <- answers[i]
	}
}

// readOthers reads the bindings of the taps the group did not accept.
func readOthers(ctx context.Context, conn *pgx.Conn, group []*tapReq, answers []tapReply) error {
	var uids []string
	var idx []int32
	for i := range answers {
		if answers[i].t.Result == store.Unknown {
			uids, idx = append(uids, group[i].uid), append(idx, int32(i))
		}
	}
	if len(uids) == 0 {
		return nil
	}
	rows, err := conn.Query(ctx, tapReadSQL, uids, idx)
	if err != nil {
		return err
	}
	return scanTaps(rows, group, answers)
}

func scanTaps(rows pgx.Rows, group []*tapReq, answers []tapReply) error {
	var (
		i                  int32
		accepted           bool
		b                  manifest.Binding
		seq, readCtr, last int64
		kv16               int16
	)
	_, err := pgx.ForEachRow(rows, []any{&i, &accepted, &b.SKU, &b.BatchID, &b.StationID, &seq, &kv16, &b.MasterKCV, &b.TemplateHash, &b.Outcome, &readCtr, &b.CompletedAt, &last}, func() error {
		if i < 0 || int(i) >= len(group) {
			return fmt.Errorf("tap group answered row %d of %d", i, len(group))
		}
		r := group[i]
		bb := b
		bb.UID, bb.Seq, bb.KeyVersion, bb.ReadCtr, bb.CompletedAt = manifest.UID(r.uid), uint64(seq), byte(kv16), uint32(readCtr), b.CompletedAt.UTC()
		answers[i].t = decideTap(bb, uint32(last), accepted, r.ctr, r.kv)
		return nil
	})
	return err
}

// decideTap is a tap's result from its binding row after the statement.
func decideTap(b manifest.Binding, last uint32, accepted bool, ctr uint32, kv byte) store.Tap {
	t := store.Tap{Binding: b, LastCtr: last}
	switch {
	case accepted:
		t.Result = store.Accepted
	case b.KeyVersion != kv:
		t.Result = store.OtherKeyVersion
	default:
		// Not above the last accepted counter, either in this snapshot or
		// after waiting for a concurrent tap of the same tag that won.
		t.Result = store.Replayed
		if t.LastCtr < ctr {
			t.LastCtr = ctr
		}
	}
	return t
}
