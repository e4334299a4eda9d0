package boltstore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/serve/store"
	"github.com/tagline-station/tagline/syncer"
)

func uid(i int) string { return fmt.Sprintf("04AABB%08X", i) }

// seed binds n tags (read_ctr 1, key version 1) through ApplySync.
func seed(t *testing.T, s *Store, n int) {
	t.Helper()
	c := &syncer.Chunk{Station: "line-1", NextSince: uint64(n)}
	for i := range n {
		b := batch.Binding{UID: uid(i), SKU: "SKU", BatchID: "b", StationID: "line-1", KeyVersion: 1, ReadCtr: 1, Seq: uint64(i + 1), CompletedAt: time.Unix(int64(i), 0)}
		c.Records = append(c.Records, syncer.Record{Binding: b, Line: syncer.AppendRecord(nil, &b)})
	}
	if _, err := s.ApplySync(context.Background(), store.Upload{Key: "k", BodySHA256: fmt.Sprintf("%064x", n), Chunk: c}); err != nil {
		t.Fatal(err)
	}
}

// crash drops the store without a checkpoint, as a killed process would:
// the counters accepted since the last checkpoint are only in the tap log.
func (s *Store) crash() {
	s.mu.Lock()
	s.closed = true
	close(s.reqs)
	s.mu.Unlock()
	<-s.done
	close(s.stopCkpt)
	<-s.ckptDone
	s.log.close()
	s.db.Close()
}

func tapOK(t *testing.T, s *Store, u string, ctr uint32) store.TapResult {
	t.Helper()
	r, err := s.Tap(context.Background(), u, ctr, 1)
	if err != nil {
		t.Fatal(err)
	}
	return r.Result
}

func last(t *testing.T, s *Store, u string) uint32 {
	t.Helper()
	_, l, ok, err := s.Lookup(context.Background(), u)
	if err != nil || !ok {
		t.Fatalf("lookup %s: %v %v", u, ok, err)
	}
	return l
}

func TestCountersSurviveACrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := Open(path, Options{CheckpointEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	seed(t, s, 3)
	for _, c := range []uint32{2, 5, 9} {
		if r := tapOK(t, s, uid(0), c); r != store.Accepted {
			t.Fatalf("ctr %d: %v", c, r)
		}
	}
	if r := tapOK(t, s, uid(1), 7); r != store.Accepted {
		t.Fatal(r)
	}
	s.crash()

	// A torn write of a later record in the log: ignored on replay.
	f, err := os.OpenFile(path+".taplog", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	torn := appendRecord(nil, uid(2), 50)
	torn[21] ^= 0xFF
	f.WriteAt(torn, int64(len(logMagic))+10*logRecSize)
	f.Close()

	s, err = Open(path, Options{CheckpointEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if l := last(t, s, uid(0)); l != 9 {
		t.Fatalf("after the crash, last accepted %d", l)
	}
	if l := last(t, s, uid(2)); l != 1 {
		t.Fatalf("torn record applied: %d", l)
	}
	if r := tapOK(t, s, uid(0), 9); r != store.Replayed {
		t.Fatalf("replay after a crash: %v", r)
	}
	if r := tapOK(t, s, uid(1), 7); r != store.Replayed {
		t.Fatalf("replay after a crash: %v", r)
	}
	if r := tapOK(t, s, uid(1), 8); r != store.Accepted {
		t.Fatal(r)
	}
}

// A tiny ring: the committer has to checkpoint to make room, over and
// over; nothing is lost across the wraps, or across a crash after them.
func TestLogWraps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := Open(path, Options{MaxGroup: 4, LogCapacity: 8, CheckpointEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	seed(t, s, 5)
	for c := uint32(2); c < 100; c++ {
		for i := range 5 {
			if r := tapOK(t, s, uid(i), c); r != store.Accepted {
				t.Fatalf("uid %d ctr %d: %v", i, c, r)
			}
		}
	}
	if _, _, ck := s.Stats(); ck < 40 {
		t.Fatalf("%d checkpoints", ck)
	}
	s.crash()
	s, err = Open(path, Options{MaxGroup: 4, LogCapacity: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 5 {
		if l := last(t, s, uid(i)); l != 99 {
			t.Fatalf("uid %d: last %d", i, l)
		}
	}
}

// Many goroutines, the same counters, checkpoints running all the time:
// each counter value is accepted exactly once.
func TestConcurrentTapsWithCheckpoints(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "s.db"), Options{CheckpointEvery: time.Millisecond, MaxGroup: 16, LogCapacity: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	seed(t, s, 4)
	const counters, workers = 150, 8
	for c := uint32(2); c < 2+counters; c++ {
		var wg sync.WaitGroup
		var acc atomic.Int32
		for w := range workers {
			wg.Go(func() {
				r, err := s.Tap(context.Background(), uid(w%4), c, 1)
				if err != nil {
					t.Error(err)
				}
				if r.Result == store.Accepted {
					acc.Add(1)
				}
			})
		}
		wg.Wait()
		if acc.Load() != 4 { // one per tag
			t.Fatalf("counter %d: %d accepted, want 4", c, acc.Load())
		}
	}
	if _, _, ck := s.Stats(); ck == 0 {
		t.Fatal("no checkpoint ran")
	}
}

func TestTapRules(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "s.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	seed(t, s, 1)
	if r := tapOK(t, s, uid(0), 1); r != store.Replayed {
		t.Fatalf("the station's read counter: %v", r)
	}
	if r := tapOK(t, s, uid(9), 5); r != store.Unknown {
		t.Fatal(r)
	}
	r, err := s.Tap(context.Background(), uid(0), 5, 2)
	if err != nil || r.Result != store.OtherKeyVersion || r.Binding.KeyVersion != 1 {
		t.Fatalf("%+v %v", r, err)
	}
	if r := tapOK(t, s, uid(0), 5); r != store.Accepted {
		t.Fatal(r)
	}
}

func TestRefusesForeignFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	j, err := batch.Open(path, batch.Options{StationID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	if _, err := Open(path, Options{}); err == nil {
		t.Fatal("opened a station journal as a serve database")
	}
}
