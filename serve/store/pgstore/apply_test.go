package pgstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/serve/store"
	"github.com/tagline-station/tagline/serve/store/pgstore"
)

// newStore is a store over a fresh database, closed when the test ends.
func newStore(t *testing.T, db string) (*pgstore.Store, *pgxpool.Pool) {
	t.Helper()
	pool := newPool(t, db)
	st, err := pgstore.NewFromPool(context.Background(), pool)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, pool
}

type rec struct {
	seq uint64
	uid manifest.UID
}

// upload is a parsed chunk of station's records, as serve's sync handler
// hands it to ApplySync, keyed by key.
func upload(t *testing.T, key, station string, since uint64, rs ...rec) store.Upload {
	t.Helper()
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	var bs []manifest.Binding
	for _, r := range rs {
		bs = append(bs, manifest.Binding{
			UID: r.uid, SKU: "SKU-" + station, BatchID: "b1", StationID: station, KeyVersion: 1, MasterKCV: "A1B2C3",
			Outcome: manifest.Verified, Attempts: 1, ReadCtr: uint32(r.seq), StartedAt: at, CompletedAt: at.Add(time.Duration(r.seq) * time.Second), Seq: r.seq,
		})
	}
	body, _ := manifest.AppendChunk(nil, station, "", since, bs)
	c, err := manifest.ParseChunk(bytes.NewReader(body), manifest.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	return store.Upload{Key: key, BodySHA256: hex.EncodeToString(sum[:]), Chunk: c}
}

func wantAck(t *testing.T, what string, got store.Applied, err error, new, bindings, conflicts int) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if a := got.Ack; a.New != new || a.Bindings != bindings || a.Conflicts != conflicts || len(got.Conflicts) != conflicts {
		t.Fatalf("%s: new %d, bindings %d, conflicts %d (%d returned); want %d, %d, %d", what, a.New, a.Bindings, a.Conflicts, len(got.Conflicts), new, bindings, conflicts)
	}
}

// A chunk that meets nothing held and one that meets held records and
// bindings give the answers of store.Classify alike: the latest record of
// a UID wins, another station's binding is kept and the record held as a
// conflict, a record held before is not new.
func TestApplySyncFreshAndHeld(t *testing.T) {
	st, pool := newStore(t, "apply")
	ctx := context.Background()
	const u1, u2, u3 = "04000000000001", "04000000000002", "04000000000003"

	first := upload(t, "line-1:1-3", "line-1", 0, rec{1, u1}, rec{2, u2}, rec{3, u1})
	res, err := st.ApplySync(ctx, first)
	wantAck(t, "fresh chunk", res, err, 3, 2, 0)
	if b, last, ok, err := st.Lookup(ctx, u1); err != nil || !ok || b.Seq != 3 || b.ReadCtr != 3 || last != 3 || b != store.FromRecord(&first.Chunk.Records[2]) {
		t.Fatalf("%s bound to %+v (last ctr %d), want seq 3's record: %v", u1, b, last, err)
	}
	for _, r := range first.Chunk.Records {
		var line string
		if err := pool.QueryRow(ctx, `SELECT line FROM tagline_records WHERE station_id = 'line-1' AND seq = $1`, int64(r.Seq)).Scan(&line); err != nil || line != string(r.Line) {
			t.Fatalf("record %d kept as %q, sent as %q: %v", r.Seq, line, r.Line, err)
		}
	}

	res, err = st.ApplySync(ctx, upload(t, "line-2:1-2", "line-2", 0, rec{1, u2}, rec{2, u3}))
	wantAck(t, "another station's held UID", res, err, 2, 1, 1)
	if c := res.Conflicts[0]; c.Record.UID != u2 || c.Record.StationID != "line-2" || c.Bound.StationID != "line-1" || c.Bound.Seq != 2 {
		t.Fatalf("conflict %+v", c)
	}

	res, err = st.ApplySync(ctx, upload(t, "line-1:again", "line-1", 0, rec{1, u1}, rec{2, u2}, rec{3, u1}))
	wantAck(t, "the same records under another key", res, err, 0, 0, 0)

	res, err = st.ApplySync(ctx, upload(t, "line-1:4-5", "line-1", 3, rec{4, u2}, rec{5, u3}))
	wantAck(t, "a re-encode and another station's UID", res, err, 2, 1, 1)
	if b, _, _, _ := st.Lookup(ctx, u2); b.Seq != 4 {
		t.Fatalf("%s bound to seq %d, want the re-encode 4", u2, b.Seq)
	}

	res, err = st.ApplySync(ctx, first)
	if err != nil || !res.Replayed || res.Ack.New != 3 || res.Ack.Bindings != 2 {
		t.Fatalf("replay: %+v %v", res, err)
	}
	other := upload(t, "line-1:1-3", "line-1", 0, rec{1, u1})
	if _, err := st.ApplySync(ctx, other); !errors.Is(err, store.ErrIdempotencyConflict) {
		t.Fatalf("another body under a used key: %v", err)
	}
	if _, total, err := st.Conflicts(ctx, 0); err != nil || total != 2 {
		t.Fatalf("%d conflicts held, want 2: %v", total, err)
	}
}

// A binding another station commits after the chunk was found to meet
// nothing held fails the chunk's COPY; the chunk is then merged and its
// record held as a conflict, not lost and not failed.
func TestApplySyncRaceWithCopy(t *testing.T) {
	st, pool := newStore(t, "race")
	ctx := context.Background()
	const u = "04000000000009"
	other, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback(ctx)
	at := time.Now().Add(-time.Hour)
	if _, err := other.Exec(ctx, `INSERT INTO tagline_bindings (uid, sku, batch_id, station_id, seq, key_version, master_kcv, template_hash, outcome, read_ctr, completed_at, last_ctr)
		VALUES ($1, 'SKU-2', 'b2', 'line-2', 1, 1, '', '', 'verified', 0, $2, 0)`, u, at); err != nil {
		t.Fatal(err)
	}
	type result struct {
		res store.Applied
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := st.ApplySync(ctx, upload(t, "line-1:1-2", "line-1", 0, rec{1, "04000000000008"}, rec{2, u}))
		done <- result{res, err}
	}()
	// The COPY waits on the uncommitted binding's index entry.
	for waiting := 0; waiting == 0; {
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE 'copy%'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-done:
			t.Fatalf("ApplySync did not wait for the other binding: %+v %v", r.res, r.err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := other.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	wantAck(t, "chunk racing another station", r.res, r.err, 2, 1, 1)
	if c := r.res.Conflicts[0]; c.Record.UID != u || c.Bound.StationID != "line-2" {
		t.Fatalf("conflict %+v", c)
	}
	if b, _, ok, err := st.Lookup(ctx, u); err != nil || !ok || b.StationID != "line-2" {
		t.Fatalf("%s bound to %q, want line-2's binding kept: %v", u, b.StationID, err)
	}
}

// Two stations uploading the same new UIDs at once, in opposite orders,
// both get an answer: the rows are locked in UID order, so one chunk
// waits for the other and then holds its records as conflicts, where
// locking in the chunk's order deadlocked one of them (40P01).
func TestOppositeChunksOfTheSameUIDsDoNotDeadlock(t *testing.T) {
	st, _ := newStore(t, "opposite")
	ctx := context.Background()
	const n = 1000
	for round := range 6 {
		var up, down []rec
		for i := range n {
			up = append(up, rec{uint64(i + 1), manifest.UID(fmt.Sprintf("04%02X%010X", round, i))})
			down = append(down, rec{uint64(i + 1), manifest.UID(fmt.Sprintf("04%02X%010X", round, n-1-i))})
		}
		a := upload(t, fmt.Sprintf("a%d:1-%d", round, n), fmt.Sprintf("a%d", round), 0, up...)
		b := upload(t, fmt.Sprintf("b%d:1-%d", round, n), fmt.Sprintf("b%d", round), 0, down...)
		var wg sync.WaitGroup
		var resA, resB store.Applied
		var errA, errB error
		wg.Go(func() { resA, errA = st.ApplySync(ctx, a) })
		wg.Go(func() { resB, errB = st.ApplySync(ctx, b) })
		wg.Wait()
		if errA != nil || errB != nil {
			t.Fatalf("round %d: %v / %v", round, errA, errB)
		}
		if got := resA.Ack.Bindings + resB.Ack.Bindings; got != n || resA.Ack.Conflicts+resB.Ack.Conflicts != n {
			t.Fatalf("round %d: bindings %d+%d, conflicts %d+%d; want %d of each in all", round,
				resA.Ack.Bindings, resB.Ack.Bindings, resA.Ack.Conflicts, resB.Ack.Conflicts, n)
		}
	}
}
