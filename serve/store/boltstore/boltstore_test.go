package boltstore

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/serve/store"
)

func uid(i int) string { return fmt.Sprintf("04AABB%08X", i) }

// seed binds n tags (read_ctr 1, key version 1) through ApplySync.
func seed(t *testing.T, s *Store, n int) {
	t.Helper()
	c := &manifest.Chunk{Station: "line-1", NextSince: uint64(n)}
	for i := range n {
		b := manifest.Binding{UID: manifest.UID(uid(i)), SKU: "SKU", BatchID: "b", StationID: "line-1", KeyVersion: 1, ReadCtr: 1, Seq: uint64(i + 1), CompletedAt: time.Unix(int64(i), 0)}
		c.Records = append(c.Records, manifest.Record{Binding: b, Line: manifest.AppendRecord(nil, &b)})
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

// crash drops the store without a checkpoint, as a killed process would:
// the counters accepted since the last checkpoint are only in the tap log.
func (s *Store) crash() {
	s.mu.Lock()
	s.closed = true
	close(s.reqs)
	s.mu.Unlock()
	<-s.done
	s.log.close()
	s.db.Close()
}

// A tap log as a crash before a checkpoint leaves it (or the ring of an
// earlier release): Open replays every valid record, ignoring a torn one
// and never lowering a counter.
func TestReplaysTheTapLog(t *testing.T) {
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
	log = appendRecord(log, uid(0), 5)
	log = appendRecord(log, uid(0), 9)
	log = appendRecord(log, uid(0), 7)  // an older round's slot
	log = appendRecord(log, uid(1), 12) // below what bbolt holds
	torn := appendRecord(nil, uid(2), 50)
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
	for i, want := range []uint32{9, 20, 1} {
		if l := last(t, s, uid(i)); l != want {
			t.Fatalf("uid %d: last accepted %d, want %d", i, l, want)
		}
	}
	if r := tapOK(t, s, uid(0), 9); r != store.Replayed {
		t.Fatalf("a counter of the log again: %v", r)
	}
	if r := tapOK(t, s, uid(2), 2); r != store.Accepted {
		t.Fatalf("the torn record's tag: %v", r)
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
	if err == nil || !strings.Contains(err.Error(), "move it away") {
		t.Fatalf("opened beside a foreign tap log: %v", err)
	}
	if b, err := os.ReadFile(path + ".taplog"); err != nil || string(b) != "something else entirely" {
		t.Fatalf("the foreign file was touched: %q %v", b, err)
	}
}

// A tiny log: the committer has to checkpoint to make room, over and
// over; nothing is lost across the checkpoints, or across a crash after
// them.
func TestLogFills(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := Open(path, Options{MaxGroup: 4, LogSlots: 8})
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
	s, err = Open(path, Options{MaxGroup: 4, LogSlots: 8})
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

// Many goroutines, the same counters, checkpoints all the time: each
// counter value is accepted exactly once per tag, and counted once.
func TestConcurrentTapsAcceptedOnce(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "s.db"), Options{MaxGroup: 16, LogSlots: 64})
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
	_, taps, ck := s.Stats()
	if taps != 4*counters {
		t.Fatalf("%d taps counted, want %d", taps, 4*counters)
	}
	if ck == 0 {
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
