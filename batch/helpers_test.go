package batch

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tagline-station/tagline/manifest"
	bolt "go.etcd.io/bbolt"
)

var t0 = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

// clock ticks one second per reading, so every recorded time is distinct
// and predictable.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

const testKCV = "A1B2C3"

var testTemplateHash = func() string {
	h := sha256.Sum256([]byte("template ndef v1"))
	return hex.EncodeToString(h[:])
}()

func uidN(i int) manifest.UID { return manifest.UID(fmt.Sprintf("04%012X", i)) }

func testOptions() Options {
	return Options{StationID: "line1", Now: newClock().Now, LockTimeout: 200 * time.Millisecond}
}

// newStore opens a fresh journal and checks it after the test, before
// closing it (cleanups run last-registered first).
func newStore(t testing.TB) *Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "journal.db")
	return openStore(t, path, testOptions())
}

func openStore(t testing.TB, path string, opts Options) *Store {
	t.Helper()
	s, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	mustCheck(t, s)
	return s
}

// mustCheck makes the test fail if the journal is inconsistent when the
// test ends.
func mustCheck(t testing.TB, s *Store) {
	t.Helper()
	t.Cleanup(func() {
		rep, err := s.Check()
		if err != nil {
			if errors.Is(err, ErrClosed) {
				return
			}
			t.Errorf("Check: %v", err)
			return
		}
		for _, p := range rep.Problems {
			t.Errorf("Check: %s", p)
		}
	})
}

func mustBatch(t testing.TB, s *Store, id string) Batch {
	t.Helper()
	b, err := s.CreateBatch(Batch{ID: id, SKU: "SKU-" + id, Target: 100, Template: "ndef-v1", KeyVersion: 1})
	if err != nil {
		t.Fatalf("CreateBatch(%s): %v", id, err)
	}
	return b
}

func intentFor(uid manifest.UID, batchID string) Intent {
	return Intent{UID: uid, BatchID: batchID, KeyVersion: 1, MasterKCV: testKCV, TemplateHash: testTemplateHash}
}

func bindingFor(uid manifest.UID) manifest.Binding {
	return manifest.Binding{UID: uid, KeyVersion: 1, Outcome: manifest.Verified, ReadCtr: 1}
}

// encode runs the station's happy path for one tag.
func encode(t testing.TB, s *Store, uid manifest.UID, batchID string) {
	t.Helper()
	if err := s.BeginIntent(intentFor(uid, batchID)); err != nil {
		t.Fatalf("BeginIntent(%s): %v", uid, err)
	}
	if err := s.Complete(bindingFor(uid)); err != nil {
		t.Fatalf("Complete(%s): %v", uid, err)
	}
}

// bulkBind writes a finished binding straight into tx, bypassing intents,
// to build large journals quickly. The result passes Check.
func bulkBind(tx *bolt.Tx, s *Store, uid manifest.UID, batchID string) error {
	bk, err := buckets(tx)
	if err != nil {
		return err
	}
	b, err := getBatch(bk, batchID)
	if err != nil {
		return err
	}
	seq, err := bk.outbox.NextSequence()
	if err != nil {
		return err
	}
	now := s.now().UTC()
	v := encodeBinding(&manifest.Binding{
		UID: uid, SKU: b.SKU, BatchID: batchID, StationID: s.station, KeyVersion: b.KeyVersion,
		MasterKCV: testKCV, TemplateHash: testTemplateHash, Outcome: manifest.Verified,
		Attempts: 1, ReadCtr: 1, StartedAt: now, CompletedAt: now, Seq: seq,
	})
	idx := bk.index.Bucket([]byte(batchID))
	idx.FillPercent, bk.outbox.FillPercent = 1, 1
	k := seqKey(seq)
	if err := bk.bindings.Put([]byte(uid), v); err != nil {
		return err
	}
	if err := idx.Put(k, []byte(uid)); err != nil {
		return err
	}
	return bk.outbox.Put(k, []byte(uid))
}
