package station_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/reader/sim"
)

// The crash test runs the station in a child process (this test binary
// again, TestMain below) while the simulated tags live in the parent, so
// that their state survives the child being killed with SIGKILL. The child
// reaches a tag through a unix socket: every frame is a 2-byte big-endian
// length and a payload, as in vsmartcard's vpcd protocol.

var crashKills = flag.Int("crash-kills", 120, "how many times the crash test kills the station")

const childEnv = "TAGLINE_CRASH_CHILD"

func TestMain(m *testing.M) {
	if sock := os.Getenv(childEnv); sock != "" {
		os.Exit(crashChild(sock, os.Getenv("TAGLINE_CRASH_JOURNAL")))
	}
	os.Exit(m.Run())
}

func writeFrame(w io.Writer, p []byte) error {
	var h [2]byte
	binary.BigEndian.PutUint16(h[:], uint16(len(p)))
	if _, err := w.Write(append(h[:], p...)); err != nil {
		return err
	}
	return nil
}

func readFrame(r io.Reader) ([]byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	p := make([]byte, binary.BigEndian.Uint16(h[:]))
	_, err := io.ReadFull(r, p)
	return p, err
}

// remoteTag is the child's view of the parent's tag.
type remoteTag struct {
	conn net.Conn
	uid  []byte
}

func (r *remoteTag) UID() []byte  { return r.uid }
func (r *remoteTag) Close() error { return nil }
func (r *remoteTag) Transmit(_ context.Context, c []byte) ([]byte, error) {
	if err := writeFrame(r.conn, c); err != nil {
		return nil, reader.RemovedError(err)
	}
	resp, err := readFrame(r.conn)
	if err != nil || len(resp) == 0 {
		return nil, reader.RemovedError(err)
	}
	return resp, nil
}

// crashChild encodes whatever tags the parent presents until told to stop.
func crashChild(sock, journal string) int {
	conn, err := net.Dial("unix", sock)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	s, err := batch.Open(journal, batch.Options{StationID: "line-1", LockTimeout: 5 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 4
	}
	b, err := s.GetBatch("b1")
	if err != nil {
		b, err = s.CreateBatch(batch.Batch{ID: "b1", SKU: "SKU-1", Target: 1000, Template: tmpl, KeyVersion: 1})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 4
	}
	st, err := newStation(s, b)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 4
	}
	for {
		uid, err := readFrame(conn)
		if err != nil || len(uid) == 0 {
			s.Close()
			return 0
		}
		st.Encode(context.Background(), &remoteTag{conn: conn, uid: uid}, "crash")
		if err := writeFrame(conn, nil); err != nil {
			return 5
		}
	}
}

func TestCrashNeverLosesABinding(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	dir := t.TempDir()
	journal := filepath.Join(dir, "journal.db")
	sock := filepath.Join(dir, "tags.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	nTags := 8 * *crashKills
	tags := make([]*sim.Tag, nTags)
	for i := range tags {
		tags[i] = sim.New(sim.Options{UID: []byte{0x04, 0xC0, 0x00, 0x00, 0x00, byte(i >> 8), byte(i)}})
	}
	next := 0 // first tag never presented
	kills, runs := 0, 0
	for kills < *crashKills {
		runs++
		// A kill point: after n APDUs (before or after the tag executes
		// it), or after a random time that may land inside a journal
		// commit. A run with no kill point lets the station drain.
		killAt := 1 + rng.IntN(40)
		afterExec := rng.IntN(2) == 0
		killAfter := time.Duration(0)
		if rng.IntN(3) == 0 {
			killAt = 0
			killAfter = time.Duration(rng.IntN(30_000)) * time.Microsecond
		}
		queue := unfinished(t, tags[:next], journalOrNil(t, journal))
		for len(queue) < 4 && next < nTags {
			queue = append(queue, tags[next])
			next++
		}
		if len(queue) == 0 {
			t.Fatalf("ran out of tags after %d kills; raise nTags", kills)
		}
		killed := runChild(t, ln, sock, journal, queue, killAt, afterExec, killAfter)
		if killed {
			kills++
		}
		checkCrashInvariants(t, journal, tags[:next])
	}
	// Present every unfinished tag again with no kill: each resolves.
	for {
		queue := unfinished(t, tags[:next], journalOrNil(t, journal))
		if len(queue) == 0 {
			break
		}
		runChild(t, ln, sock, journal, queue, 0, false, 0)
		if left := unfinished(t, tags[:next], journalOrNil(t, journal)); len(left) == len(queue) {
			t.Fatalf("%d tags do not resolve when presented again", len(left))
		}
	}
	checkCrashInvariants(t, journal, tags[:next])
	s := openJournal(t, journal)
	defer s.Close()
	its, _ := s.OpenIntents()
	bound := 0
	for _, tag := range tags[:next] {
		if _, ok, _ := s.Lookup(manifest.UID(strings.ToUpper(hex.EncodeToString(tag.UID())))); ok {
			bound++
		}
	}
	if len(its) != 0 || bound != next {
		t.Fatalf("after recovery: %d open intents, %d of %d tags bound", len(its), bound, next)
	}
	t.Logf("survived %d SIGKILLs in %d station runs; %d tags, all bound", kills, runs, next)
}

// runChild starts the station, serves it the queued tags and kills it at
// the kill point. It reports whether the child was killed.
func runChild(t *testing.T, ln net.Listener, sock, journal string, queue []*sim.Tag, killAt int, afterExec bool, killAfter time.Duration) bool {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+sock, "TAGLINE_CRASH_JOURNAL="+journal)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var killedFlag atomic.Bool
	kill := func() {
		if killedFlag.CompareAndSwap(false, true) {
			cmd.Process.Signal(syscall.SIGKILL)
		}
	}
	if killAfter > 0 {
		timer := time.AfterFunc(killAfter, kill)
		defer timer.Stop()
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	accepted := make(chan net.Conn, 1)
	go func() {
		ln.(*net.UnixListener).SetDeadline(time.Now().Add(10 * time.Second))
		c, _ := ln.Accept()
		accepted <- c
	}()
	var conn net.Conn
	select {
	case conn = <-accepted:
	case err := <-exited:
		// Killed (by the timer) before it connected; drain the accept.
		ln.(*net.UnixListener).SetDeadline(time.Now())
		if c := <-accepted; c != nil {
			c.Close()
		}
		if killedFlag.Load() {
			return true
		}
		t.Fatalf("child exited before connecting: %v\n%s", err, stderr.String())
	}
	if conn == nil {
		kill()
		<-exited
		t.Fatalf("child did not connect\n%s", stderr.String())
	}
	defer conn.Close()
	apdus := 0
	r := sim.NewReader("crash")
serve:
	for _, tag := range queue {
		r.Present(tag)
		card, _ := r.WaitTag(context.Background())
		if writeFrame(conn, tag.UID()) != nil {
			break
		}
		for {
			c, err := readFrame(conn)
			if err != nil {
				break serve // the child died
			}
			if len(c) == 0 {
				break // the child is done with this tag
			}
			apdus++
			if apdus == killAt && !afterExec {
				kill()
				break serve
			}
			resp, err := card.Transmit(context.Background(), c)
			if err != nil {
				resp = nil
			}
			if apdus == killAt {
				kill()
				break serve
			}
			if writeFrame(conn, resp) != nil {
				break serve
			}
		}
	}
	if !killedFlag.Load() {
		writeFrame(conn, nil)
	}
	err := <-exited
	killed := killedFlag.Load()
	if !killed && err != nil {
		t.Fatalf("station exited: %v\n%s", err, stderr.String())
	}
	return killed
}

func openJournal(t *testing.T, path string) *batch.Store {
	t.Helper()
	s, err := batch.Open(path, batch.Options{StationID: "line-1", LockTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("journal does not open after a kill: %v", err)
	}
	return s
}

// journalOrNil opens the journal when it exists (the first child may have
// been killed before creating it).
func journalOrNil(t *testing.T, path string) *batch.Store {
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	return openJournal(t, path)
}

// unfinished lists the tags to present again: written to but not bound.
func unfinished(t *testing.T, tags []*sim.Tag, s *batch.Store) []*sim.Tag {
	t.Helper()
	var out []*sim.Tag
	if s != nil {
		defer s.Close()
	}
	for _, tag := range tags {
		bound := false
		if s != nil {
			_, bound, _ = s.Lookup(manifest.UID(strings.ToUpper(hex.EncodeToString(tag.UID()))))
		}
		if !bound {
			out = append(out, tag)
		}
	}
	return out
}

// checkCrashInvariants: the journal opens and checks clean; every tag the
// simulator holds as written to has a binding or an open intent; every
// binding names a tag that holds our keys.
func checkCrashInvariants(t *testing.T, path string, tags []*sim.Tag) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		for _, tag := range tags {
			if !tag.IsFactoryFresh() {
				t.Fatalf("tag %X written before any journal existed", tag.UID())
			}
		}
		return
	}
	s := openJournal(t, path)
	defer s.Close()
	rep, err := s.Check()
	if err != nil || !rep.OK() {
		t.Fatalf("journal check after kill: %v %v", err, rep.Problems)
	}
	its, err := s.OpenIntents()
	if err != nil {
		t.Fatal(err)
	}
	open := map[string]bool{}
	for _, it := range its {
		open[string(it.UID)] = true
		// A killed station records nothing after its intent; the intent
		// itself must say the tag may hold new keys (journal check's
		// advice rests on it).
		if !it.KeysMayHaveChanged {
			t.Fatalf("open intent of %s says the tag's keys did not change: %+v", it.UID, it)
		}
	}
	d := crashDeriver(t)
	for _, tag := range tags {
		u := strings.ToUpper(hex.EncodeToString(tag.UID()))
		_, bound, err := s.Lookup(manifest.UID(u))
		if err != nil {
			t.Fatal(err)
		}
		if bound {
			ks, _ := d.Tag(tag.UID())
			if !tag.IsPersonalisedWith(ks.Keys) {
				t.Fatalf("binding for %s, but the tag does not hold our keys", u)
			}
			continue
		}
		if !tag.IsFactoryFresh() && !open[u] {
			t.Fatalf("tag %s was written to but has neither binding nor open intent", u)
		}
	}
}

func crashDeriver(t testing.TB) *keys.Deriver {
	mb, _ := hex.DecodeString(masterHex)
	m, _ := keys.NewMaster(mb)
	d, err := keys.NewDeriver(keys.SchemeTagline, m, 1)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
