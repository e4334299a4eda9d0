package pgstore_test

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/serve/store"
	"github.com/tagline-station/tagline/serve/store/pgstore"
)

// Group-committed taps decide each tap as one statement per tap would:
// many concurrent taps of a few tags, the same counter sent several
// times, accept each counter value of a tag at most once, the highest
// always, and leave last_ctr at the highest; a tag not bound is unknown.
func TestGroupedTapsAcceptEachCounterOnce(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t, "taps")
	st, err := pgstore.NewFromPool(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const tags, ctrs, copies = 3, 40, 3
	body := ingestChunks(tags, tags)[0]
	c, err := manifest.ParseChunk(bytes.NewReader(body), manifest.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.ApplySync(ctx, store.Upload{Key: "k", BodySHA256: "x", Chunk: c}); err != nil {
		t.Fatal(err)
	}
	var accepted [tags][ctrs + 2]atomic.Int32
	var wg sync.WaitGroup
	for tg := range tags {
		uid := string(c.Records[tg].UID)
		for ctr := 2; ctr <= ctrs+1; ctr++ { // the binding's read counter is 1
			for range copies {
				wg.Add(1)
				go func() {
					defer wg.Done()
					res, err := st.Tap(ctx, uid, uint32(ctr), 1)
					if err != nil {
						t.Error(err)
						return
					}
					if res.Result == store.Accepted {
						accepted[tg][ctr].Add(1)
					}
				}()
			}
		}
	}
	wg.Wait()
	for tg := range tags {
		for ctr := 2; ctr <= ctrs+1; ctr++ {
			if n := accepted[tg][ctr].Load(); n > 1 {
				t.Errorf("tag %d counter %d accepted %d times", tg, ctr, n)
			}
		}
		if accepted[tg][ctrs+1].Load() != 1 {
			t.Errorf("tag %d: the highest counter was not accepted", tg)
		}
		if _, last, ok, err := st.Lookup(ctx, string(c.Records[tg].UID)); err != nil || !ok || last != ctrs+1 {
			t.Errorf("tag %d: last counter %d, %v", tg, last, err)
		}
	}
	if res, err := st.Tap(ctx, "04FFFFFFFFFFFF", 5, 1); err != nil || res.Result != store.Unknown {
		t.Errorf("unbound tag: %+v %v", res, err)
	}
	if res, err := st.Tap(ctx, string(c.Records[0].UID), 99, 2); err != nil || res.Result != store.OtherKeyVersion {
		t.Errorf("other key version: %+v %v", res, err)
	}
}

// The committer's connection is its own: when PostgreSQL drops it, the
// group that meets the dead connection fails and the next one runs on a
// new connection.
func TestTapsAfterTheCommittersConnectionDies(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t, "tapconn")
	st, err := pgstore.NewFromPool(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, err := manifest.ParseChunk(bytes.NewReader(ingestChunks(1, 1)[0]), manifest.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.ApplySync(ctx, store.Upload{Key: "k", BodySHA256: "x", Chunk: c}); err != nil {
		t.Fatal(err)
	}
	uid := string(c.Records[0].UID)
	if res, err := st.Tap(ctx, uid, 2, 1); err != nil || res.Result != store.Accepted {
		t.Fatalf("first tap: %+v %v", res, err)
	}
	var killed int
	if err := pool.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&killed); err != nil || killed == 0 {
		t.Fatalf("terminated %d backends, %v", killed, err)
	}
	// The group on the dead connection may fail; the next must not.
	res, err := st.Tap(ctx, uid, 3, 1)
	if err != nil {
		res, err = st.Tap(ctx, uid, 3, 1)
	}
	if err != nil || res.Result != store.Accepted || res.LastCtr != 3 {
		t.Fatalf("tap after the connection died: %+v %v", res, err)
	}
}
