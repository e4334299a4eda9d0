package boltstore

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

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

// crashEnv makes the test binary, run again as a child, the crashing
// process of TestAcceptedTapSurvivesAKill.
const crashEnv = "BOLTSTORE_CRASH_CHILD"

// The child opens the store, taps, writes "accepted N" as soon as each Tap
// returned, and waits to be killed: it never closes the store.
func crashChild(path string) {
	s, err := Open(path, Options{})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	for c := uint32(2); ; c++ {
		r, err := s.Tap(context.Background(), uid(0), c, 1)
		if err != nil || r.Result != store.Accepted {
			fmt.Println("error", r.Result, err)
			os.Exit(1)
		}
		fmt.Println("accepted", c)
		if c == 5 {
			select {}
		}
	}
}

// A process killed right after Tap returned keeps the acceptance: the
// counter is in the file when it is opened again, without Close or a
// clean shutdown in between (store invariant 2).
func TestAcceptedTapSurvivesAKill(t *testing.T) {
	if p := os.Getenv(crashEnv); p != "" {
		crashChild(p)
		return
	}
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	seed(t, s, 1)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestAcceptedTapSurvivesAKill$")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	var lastLine string
	for lastLine != "accepted 5" && sc.Scan() {
		lastLine = sc.Text()
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if lastLine != "accepted 5" {
		t.Fatalf("the child did not accept its taps: %q", lastLine)
	}

	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if l := last(t, s, uid(0)); l != 5 {
		t.Fatalf("after the kill, last accepted %d, want 5", l)
	}
	if r := tapOK(t, s, uid(0), 5); r != store.Replayed {
		t.Fatalf("the killed process's last tap again: %v", r)
	}
	if r := tapOK(t, s, uid(0), 6); r != store.Accepted {
		t.Fatal(r)
	}
}

// oldLogRecord is a record of the tap log of earlier releases.
func oldLogRecord(u string, ctr uint32) []byte {
	var r [logRecSize]byte
	n, err := hex.Decode(r[1:1+maxUIDLen], []byte(u))
	if err != nil {
		panic(err)
	}
	r[0] = byte(n)
	binary.BigEndian.PutUint32(r[11:15], ctr)
	binary.BigEndian.PutUint32(r[20:], crc32.Checksum(r[:20], crcTable))
	return r[:]
}

// A tap log left by an earlier release, after a crash before its
// checkpoint: Open folds its counters in once, ignoring a torn record and
// never lowering a counter, and removes it.
func TestFoldsAnOldTapLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	seed(t, s, 3)
	if r := tapOK(t, s, uid(1), 20); r != store.Accepted {
		t.Fatal(r)
	}
	s.Close()

	log := []byte(logMagic)
	log = append(log, oldLogRecord(uid(0), 5)...)
	log = append(log, oldLogRecord(uid(0), 9)...)
	log = append(log, oldLogRecord(uid(0), 7)...)  // an older round's slot
	log = append(log, oldLogRecord(uid(1), 12)...) // below what bbolt holds
	torn := oldLogRecord(uid(2), 50)
	torn[21] ^= 0xFF
	log = append(log, torn...)
	log = append(log, make([]byte, 10*logRecSize)...) // unused slots
	if err := os.WriteFile(path+".taplog", log, 0o600); err != nil {
		t.Fatal(err)
	}

	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := os.Stat(path + ".taplog"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the tap log is still there: %v", err)
	}
	for i, want := range []uint32{9, 20, 1} {
		if l := last(t, s, uid(i)); l != want {
			t.Fatalf("uid %d: last accepted %d, want %d", i, l, want)
		}
	}
	if r := tapOK(t, s, uid(0), 9); r != store.Replayed {
		t.Fatalf("a counter of the old log again: %v", r)
	}
}

// A file next to the database that is not a tap log is left alone and
// Open says what to do.
func TestRefusesAForeignTapLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	if err := os.WriteFile(path+".taplog", []byte("something else entirely"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path, Options{})
	if err == nil || !strings.Contains(err.Error(), "remove it") {
		t.Fatalf("opened beside a foreign tap log: %v", err)
	}
	if _, err := os.Stat(path + ".taplog"); err != nil {
		t.Fatalf("the foreign file was touched: %v", err)
	}
}

// Many goroutines, the same counters, batched commits: each counter value
// is accepted exactly once per tag, and every accepted tap is counted once.
func TestConcurrentTapsAcceptedOnce(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "s.db"), Options{MaxBatchDelay: 5 * time.Millisecond})
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
	commits, taps := s.Stats()
	if taps != 4*counters {
		t.Fatalf("%d taps counted, want %d", taps, 4*counters)
	}
	if commits >= taps {
		t.Fatalf("%d commits for %d taps: nothing was batched", commits, taps)
	}
}

// bbolt runs a batch again without a call that failed, and each other
// call's function a second time, in a new transaction: a tap decides
// afresh there, so it is neither lost nor accepted twice, and it is
// counted once. The failing call joins the batch after the taps, so they
// have run once when it fails.
func TestTapsOfAFailedBatch(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "s.db"), Options{MaxBatchDelay: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	seed(t, s, 9)
	bad := uid(8)
	var wg sync.WaitGroup
	res := make([]store.Tap, 8)
	errs := make([]error, 9)
	for i := range 8 {
		wg.Go(func() { res[i], errs[i] = s.Tap(context.Background(), uid(i), 2, 1) })
	}
	time.Sleep(100 * time.Millisecond)
	wg.Go(func() {
		errs[8] = s.db.Batch(func(tx *bolt.Tx) error {
			if err := tx.Bucket(bBindings).Put([]byte(bad), []byte{9}); err != nil {
				return err
			}
			return errors.New("this call fails")
		})
	})
	wg.Wait()
	if errs[8] == nil {
		t.Fatal("the failing call succeeded")
	}
	for i := range 8 {
		if errs[i] != nil || res[i].Result != store.Accepted {
			t.Fatalf("tap %d: %+v %v", i, res[i], errs[i])
		}
		if l := last(t, s, uid(i)); l != 2 {
			t.Fatalf("tap %d: last %d", i, l)
		}
	}
	if _, taps := s.Stats(); taps != 8 {
		t.Fatalf("%d taps counted, want 8", taps)
	}
	if b, _, ok, err := s.Lookup(context.Background(), bad); err != nil || !ok || b.UID != bad {
		t.Fatalf("the failed call's write stayed: %+v %v %v", b, ok, err)
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
