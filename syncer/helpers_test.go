package syncer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/syncer"
)

const station = "line-1"

// newJournal opens a journal with n bindings spread over two batches.
func newJournal(t testing.TB, n int) *batch.Store {
	t.Helper()
	s, err := batch.Open(filepath.Join(t.TempDir(), "j.db"), batch.Options{StationID: station})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for _, id := range []string{"b1", "b2"} {
		if _, err := s.CreateBatch(batch.Batch{ID: id, SKU: "SKU-" + id, Target: n, KeyVersion: 1}); err != nil {
			t.Fatal(err)
		}
	}
	addBindings(t, s, 0, n)
	return s
}

// addBindings binds tags from..to-1, alternating batches, from a few
// goroutines so that the journal's group commit keeps it quick.
func addBindings(t testing.TB, s *batch.Store, from, to int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, to-from)
	work := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range work {
				uid := fmt.Sprintf("04%012X", i)
				b := []string{"b1", "b2"}[i%2]
				if err := s.BeginIntent(batch.Intent{UID: manifest.UID(uid), BatchID: b, KeyVersion: 1, MasterKCV: "A1B2C3"}); err != nil {
					errs <- err
					continue
				}
				if err := s.Complete(manifest.Binding{UID: manifest.UID(uid), KeyVersion: 1, Outcome: manifest.Verified, ReadCtr: 1}); err != nil {
					errs <- err
				}
			}
		})
	}
	for i := from; i < to; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func syncState(t testing.TB, s *batch.Store) (uint64, uint64) {
	t.Helper()
	a, b, err := s.SyncState()
	if err != nil {
		t.Fatal(err)
	}
	return a, b
}

// remote is a fake backend: it parses each chunk, keeps every record once
// by seq, remembers idempotency keys with their answers, and lets a test
// decide per request what happens.
type remote struct {
	t     testing.TB
	mu    sync.Mutex
	seqs  map[uint64]int    // seq -> times applied
	keys  map[string][]byte // idempotency key -> stored answer
	reqs  int
	first []uint64 // first seq of each request, in order
	// before runs first; when it returns true the request is considered
	// handled by it.
	before func(w http.ResponseWriter, r *http.Request, n int, c *manifest.Chunk) bool
	// ackLimit, when positive, acknowledges at most this many records.
	ackLimit int
	srv      *httptest.Server
}

func newRemote(t testing.TB) *remote {
	rm := &remote{t: t, seqs: map[uint64]int{}, keys: map[string][]byte{}}
	rm.srv = httptest.NewServer(http.HandlerFunc(rm.serve))
	t.Cleanup(rm.srv.Close)
	return rm
}

func (rm *remote) url() string { return rm.srv.URL + "/v1/sync" }

func (rm *remote) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer tok" {
		http.Error(w, "no", http.StatusUnauthorized)
		return
	}
	c, err := manifest.ParseChunk(r.Body, manifest.Limits{MaxRecords: 0})
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnprocessableEntity)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if len(c.Records) == 0 || key != syncer.IdempotencyKey(c.Station, c.Records[0].Seq, c.NextSince) {
		http.Error(w, "bad idempotency key "+key, http.StatusBadRequest)
		return
	}
	rm.mu.Lock()
	rm.reqs++
	n := rm.reqs
	rm.first = append(rm.first, c.Records[0].Seq)
	before := rm.before
	rm.mu.Unlock()
	if before != nil && before(w, r, n, c) {
		return
	}
	ans, replayed := rm.apply(c, key)
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(ans)
}

// apply stores a chunk once per idempotency key and returns the answer.
func (rm *remote) apply(c *manifest.Chunk, key string) ([]byte, bool) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if ans, ok := rm.keys[key]; ok {
		return ans, true
	}
	acked := c.NextSince
	for i, rec := range c.Records {
		if rm.ackLimit > 0 && i == rm.ackLimit {
			break
		}
		rm.seqs[rec.Seq]++
		acked = rec.Seq
	}
	ans, _ := json.Marshal(syncer.Ack{Station: c.Station, AckedSeq: acked})
	rm.keys[key] = ans
	return ans, false
}

// applied checks that the remote holds seqs 1..n exactly once each.
func (rm *remote) applied(t testing.TB, n int) {
	t.Helper()
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if len(rm.seqs) != n {
		t.Fatalf("remote holds %d records, want %d", len(rm.seqs), n)
	}
	for seq := uint64(1); seq <= uint64(n); seq++ {
		if rm.seqs[seq] != 1 {
			t.Fatalf("seq %d applied %d times", seq, rm.seqs[seq])
		}
	}
}

// fakeSleep records the waits and returns at once.
type fakeSleep struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (f *fakeSleep) sleep(ctx context.Context, d time.Duration) error {
	f.mu.Lock()
	f.waits = append(f.waits, d)
	f.mu.Unlock()
	return ctx.Err()
}

func opts(rm *remote, fs *fakeSleep) syncer.Options {
	return syncer.Options{
		Endpoint:       rm.url(),
		Token:          "tok",
		ChunkSize:      25,
		RequestTimeout: 2 * time.Second,
		BaseBackoff:    100 * time.Millisecond,
		MaxBackoff:     time.Second,
		Sleep:          fs.sleep,
		Rand:           func() float64 { return 1 }, // the top of the jitter range
	}
}
