package batch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tagline-station/tagline/manifest"
	bolt "go.etcd.io/bbolt"
)

func TestBatchLifeCycle(t *testing.T) {
	s := newStore(t)
	b := mustBatch(t, s, "B1")
	if b.Status != StatusOpen || b.CreatedAt.IsZero() || !b.ClosedAt.IsZero() {
		t.Fatalf("new batch %+v", b)
	}
	if _, err := s.CreateBatch(Batch{ID: "B1", SKU: "x"}); !errors.Is(err, ErrBatchExists) {
		t.Fatalf("duplicate batch id: %v", err)
	}
	gen, err := s.CreateBatch(Batch{SKU: "SKU-gen", Target: 5})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(gen.ID, "20260302-") {
		t.Errorf("generated id %q", gen.ID)
	}
	got, err := s.GetBatch("B1")
	if err != nil || got != b {
		t.Fatalf("GetBatch = %+v, %v; want %+v", got, err, b)
	}
	if _, err := s.GetBatch("nope"); !errors.Is(err, ErrNoBatch) {
		t.Fatalf("GetBatch(nope): %v", err)
	}
	list, err := s.ListBatches()
	if err != nil || len(list) != 2 || list[0].ID != gen.ID || list[1].ID != "B1" {
		t.Fatalf("ListBatches = %+v, %v", list, err)
	}

	if err := s.CloseBatch("B1"); err != nil {
		t.Fatal(err)
	}
	closed, _ := s.GetBatch("B1")
	if closed.Status != StatusClosed || closed.ClosedAt.IsZero() {
		t.Fatalf("closed batch %+v", closed)
	}
	if err := s.CloseBatch("B1"); err != nil {
		t.Fatalf("closing twice: %v", err)
	}
	again, _ := s.GetBatch("B1")
	if !again.ClosedAt.Equal(closed.ClosedAt) {
		t.Error("closing twice moved ClosedAt")
	}
	if err := s.CloseBatch("nope"); !errors.Is(err, ErrNoBatch) {
		t.Fatalf("CloseBatch(nope): %v", err)
	}
}

func TestCreateBatchValidation(t *testing.T) {
	s := newStore(t)
	for _, b := range []Batch{
		{ID: "B 1", SKU: "x"},
		{ID: "-B1", SKU: "x"},
		{ID: "B1"},
		{ID: "B1", SKU: "x", Target: -1},
		{ID: "B1", SKU: "a\nb"},
		{ID: "B1", SKU: "a\tb"},
		{ID: "B1", SKU: "\u0085ab"},
		// Not a control character but not printable either: the backend
		// refuses it (manifest.CheckText), so the journal must too.
		{ID: "B1", SKU: "CAP\u200b30"},
		{ID: "B1", SKU: strings.Repeat("S", 65)},
		{ID: "B1", SKU: "x", KDF: "sha1"},
		{ID: strings.Repeat("B", 65), SKU: "x"},
	} {
		if _, err := s.CreateBatch(b); !errors.Is(err, ErrInvalid) {
			t.Errorf("CreateBatch(%+v) = %v, want ErrInvalid", b, err)
		}
	}
	if l, _ := s.ListBatches(); len(l) != 0 {
		t.Fatalf("invalid batches were stored: %+v", l)
	}
	// The derivation is pinned at creation, the default when none is named.
	b, err := s.CreateBatch(Batch{ID: "B1", SKU: "x"})
	if err != nil || b.KDF != KDFTagline || b.Test {
		t.Fatalf("default batch %+v %v", b, err)
	}
	b, err = s.CreateBatch(Batch{ID: "B2", SKU: "x", KDF: KDFSDMBackend, Test: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetBatch("B2"); err != nil || got.KDF != KDFSDMBackend || !got.Test {
		t.Fatalf("stored batch %+v %v", got, err)
	}
}

func TestIntentThenBinding(t *testing.T) {
	s := newStore(t)
	mustBatch(t, s, "B1")
	uid := "04:a1:b2:c3:d4:e5:f6" // as a reader might print it
	if err := s.BeginIntent(intentFor(manifest.UID(uid), "B1")); err != nil {
		t.Fatal(err)
	}
	its, err := s.OpenIntents()
	if err != nil || len(its) != 1 {
		t.Fatalf("OpenIntents = %+v, %v", its, err)
	}
	it := its[0]
	if it.UID != "04A1B2C3D4E5F6" || it.SKU != "SKU-B1" || it.StationID != "line1" || it.Attempts != 1 || it.StartedAt.IsZero() {
		t.Fatalf("stored intent %+v", it)
	}
	if st, _ := s.Stats("B1"); st.OpenIntents != 1 || st.Done != 0 {
		t.Fatalf("stats with an open intent %+v", st)
	}
	if _, ok, _ := s.Lookup(manifest.UID(uid)); ok {
		t.Fatal("a binding exists before Complete")
	}
	if open, err := s.HasIntent(manifest.UID(uid)); err != nil || !open {
		t.Fatalf("HasIntent with an open intent = %v, %v", open, err)
	}
	if open, _ := s.HasIntent("04000000000001"); open {
		t.Fatal("HasIntent of another tag")
	}

	if err := s.Complete(manifest.Binding{UID: manifest.UID(uid), KeyVersion: 1, Outcome: manifest.Verified, ReadCtr: 3}); err != nil {
		t.Fatal(err)
	}
	b, ok, err := s.Lookup("04A1B2C3D4E5F6")
	if err != nil || !ok {
		t.Fatalf("Lookup: %v %v", ok, err)
	}
	want := manifest.Binding{
		UID: "04A1B2C3D4E5F6", SKU: "SKU-B1", BatchID: "B1", StationID: "line1", KeyVersion: 1,
		MasterKCV: testKCV, TemplateHash: testTemplateHash, Outcome: manifest.Verified, Attempts: 1,
		ReadCtr: 3, StartedAt: it.StartedAt, CompletedAt: b.CompletedAt, Seq: 1,
	}
	if b != want || !b.CompletedAt.After(b.StartedAt) {
		t.Fatalf("binding\n got %+v\nwant %+v", b, want)
	}
	if its, _ := s.OpenIntents(); len(its) != 0 {
		t.Fatalf("intent left after Complete: %+v", its)
	}
	if open, _ := s.HasIntent(manifest.UID(uid)); open {
		t.Fatal("HasIntent after Complete")
	}
	if st, _ := s.Stats("B1"); st != (BatchStats{Done: 1, Target: 100}) {
		t.Fatalf("stats %+v", st)
	}
	if err := s.Complete(bindingFor(manifest.UID(uid))); !errors.Is(err, ErrNoIntent) {
		t.Fatalf("second Complete: %v", err)
	}
}

func TestCompleteRefusesWhatTheIntentDidNotSay(t *testing.T) {
	s := newStore(t)
	mustBatch(t, s, "B1")
	mustBatch(t, s, "B2")
	if err := s.Complete(bindingFor(uidN(1))); !errors.Is(err, ErrNoIntent) || !strings.Contains(err.Error(), "BeginIntent") {
		t.Fatalf("Complete without intent: %v", err)
	}
	if err := s.BeginIntent(intentFor(uidN(1), "B1")); err != nil {
		t.Fatal(err)
	}
	bad := []manifest.Binding{
		{UID: uidN(1), KeyVersion: 2, Outcome: manifest.Verified},
		{UID: uidN(1), KeyVersion: 1, BatchID: "B2", Outcome: manifest.Verified},
		{UID: uidN(1), KeyVersion: 1, MasterKCV: "FFFFFF", Outcome: manifest.Verified},
		{UID: uidN(1), KeyVersion: 1, Outcome: manifest.Failed},
		{UID: uidN(1), KeyVersion: 1, Outcome: ""},
		{UID: uidN(1), KeyVersion: 1, Outcome: manifest.Verified, MasterKCV: strings.Repeat("AB", 16)},
		{UID: "zz", KeyVersion: 1, Outcome: manifest.Verified},
	}
	for _, b := range bad {
		if err := s.Complete(b); !errors.Is(err, ErrInvalid) {
			t.Errorf("Complete(%+v) = %v, want ErrInvalid", b, err)
		}
	}
	if _, ok, _ := s.Lookup(uidN(1)); ok {
		t.Fatal("a refused Complete wrote a binding")
	}
	if its, _ := s.OpenIntents(); len(its) != 1 {
		t.Fatal("a refused Complete removed the intent")
	}
}

func TestBeginIntentValidation(t *testing.T) {
	s := newStore(t)
	mustBatch(t, s, "B1")
	cases := []struct {
		it   Intent
		want error
	}{
		{Intent{UID: uidN(1), BatchID: "nope", KeyVersion: 1}, ErrNoBatch},
		{Intent{UID: uidN(1), BatchID: "B1", KeyVersion: 2}, ErrInvalid},
		{Intent{UID: uidN(1), BatchID: "B1", KeyVersion: 1, SKU: "other"}, ErrInvalid},
		{Intent{UID: "04A1", BatchID: "B1", KeyVersion: 1}, ErrInvalid},
		{Intent{UID: uidN(1), BatchID: "B1", KeyVersion: 1, MasterKCV: strings.Repeat("00", 16)}, ErrInvalid},
		{Intent{UID: uidN(1), BatchID: "B1", KeyVersion: 1, TemplateHash: "abc"}, ErrInvalid},
	}
	for _, c := range cases {
		if err := s.BeginIntent(c.it); !errors.Is(err, c.want) {
			t.Errorf("BeginIntent(%+v) = %v, want %v", c.it, err, c.want)
		}
	}
	err := s.BeginIntent(Intent{UID: uidN(1), BatchID: "B1", KeyVersion: 1, MasterKCV: strings.Repeat("00", 16)})
	if !strings.Contains(err.Error(), "key material") {
		t.Errorf("a key passed as check value should be named as such: %v", err)
	}
	if its, _ := s.OpenIntents(); len(its) != 0 {
		t.Fatalf("refused intents were stored: %+v", its)
	}
}

func TestDuplicateRefused(t *testing.T) {
	s := newStore(t)
	mustBatch(t, s, "B1")
	mustBatch(t, s, "B2")
	encode(t, s, uidN(1), "B1")
	first, _, _ := s.Lookup(uidN(1))

	err := s.BeginIntent(intentFor(uidN(1), "B2"))
	if !errors.Is(err, ErrDuplicate) {
		t.Fatalf("got %v, want ErrDuplicate", err)
	}
	var de *DuplicateError
	if !errors.As(err, &de) || de.BatchID != "B1" || !de.Completed.Equal(first.CompletedAt) {
		t.Fatalf("duplicate details %+v", de)
	}
	want := fmt.Sprintf("tag %s already encoded in batch B1 at %s; use --reencode to encode it again",
		uidN(1), first.CompletedAt.Format(time.RFC3339))
	if err.Error() != want {
		t.Errorf("message\n got %q\nwant %q", err, want)
	}
	if its, _ := s.OpenIntents(); len(its) != 0 {
		t.Fatal("a refused duplicate left an intent")
	}
	if st, _ := s.Stats("B2"); st.Duplicates != 1 || st.OpenIntents != 0 {
		t.Fatalf("B2 stats %+v", st)
	}
	if got, _, _ := s.Lookup(uidN(1)); got != first {
		t.Fatal("a refused duplicate changed the binding")
	}
}

func TestReencodeKeepsHistory(t *testing.T) {
	s := newStore(t)
	mustBatch(t, s, "B1")
	mustBatch(t, s, "B2")
	encode(t, s, uidN(1), "B1")
	encode(t, s, uidN(2), "B1")
	old, _, _ := s.Lookup(uidN(1))

	it := intentFor(uidN(1), "B2")
	it.Reencode = true
	if err := s.BeginIntent(it); err != nil {
		t.Fatal(err)
	}
	// Until Complete, the old binding stands.
	if cur, _, _ := s.Lookup(uidN(1)); cur != old {
		t.Fatal("binding changed before Complete")
	}
	if err := s.Complete(bindingFor(uidN(1))); err != nil {
		t.Fatal(err)
	}
	cur, _, _ := s.Lookup(uidN(1))
	if cur.BatchID != "B2" || cur.Seq != 3 {
		t.Fatalf("current binding %+v", cur)
	}
	hist, err := s.Superseded(uidN(1))
	if err != nil || len(hist) != 1 || hist[0] != old {
		t.Fatalf("Superseded = %+v, %v; want the old binding", hist, err)
	}
	// B1's manifest still lists the tag as it was bound there.
	var out strings.Builder
	sum, err := s.Export(&out, "B1", ExportOptions{})
	if err != nil || sum.Count != 2 || !strings.Contains(out.String(), `"seq":1,"uid":"`+string(uidN(1))+`"`) {
		t.Fatalf("B1 manifest after re-encode (%+v, %v):\n%s", sum, err, out.String())
	}
	if st, _ := s.Stats("B1"); st.Done != 2 {
		t.Fatalf("B1 stats %+v", st)
	}
	if st, _ := s.Stats("B2"); st.Done != 1 {
		t.Fatalf("B2 stats %+v", st)
	}
	p, _ := s.Pending(10)
	if len(p) != 3 || p[0] != old || p[2] != cur {
		t.Fatalf("outbox after re-encode %+v", p)
	}
	// And a second re-encode, in the same batch.
	it = intentFor(uidN(1), "B2")
	it.Reencode = true
	encodeWithIntent(t, s, it)
	if h, _ := s.Superseded(uidN(1)); len(h) != 2 {
		t.Fatalf("history after two re-encodes: %+v", h)
	}
}

func encodeWithIntent(t *testing.T, s *Store, it Intent) {
	t.Helper()
	if err := s.BeginIntent(it); err != nil {
		t.Fatal(err)
	}
	if err := s.Complete(bindingFor(it.UID)); err != nil {
		t.Fatal(err)
	}
}

func TestClosedBatchRefusesNewIntents(t *testing.T) {
	s := newStore(t)
	mustBatch(t, s, "B1")
	if err := s.BeginIntent(intentFor(uidN(1), "B1")); err != nil {
		t.Fatal(err)
	}
	if err := s.CloseBatch("B1"); err != nil {
		t.Fatal(err)
	}
	err := s.BeginIntent(intentFor(uidN(2), "B1"))
	if !errors.Is(err, ErrBatchClosed) || !strings.Contains(err.Error(), "create a new batch") {
		t.Fatalf("new intent on closed batch: %v", err)
	}
	// The tag already under way must still be finished and recorded.
	if err := s.BeginIntent(intentFor(uidN(1), "B1")); err != nil {
		t.Fatalf("resuming an intent on a closed batch: %v", err)
	}
	if err := s.Complete(bindingFor(uidN(1))); err != nil {
		t.Fatalf("completing an intent on a closed batch: %v", err)
	}
	if st, _ := s.Stats("B1"); st.Done != 1 || st.OpenIntents != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestResumedIntent(t *testing.T) {
	s := newStore(t)
	mustBatch(t, s, "B1")
	mustBatch(t, s, "B2")
	if err := s.BeginIntent(intentFor(uidN(1), "B1")); err != nil {
		t.Fatal(err)
	}
	first, _ := s.OpenIntents()
	if err := s.FailIntent(uidN(1), "tag removed during ChangeKey", KeysMayHaveChanged); err != nil {
		t.Fatal(err)
	}
	if err := s.BeginIntent(intentFor(uidN(1), "B1")); err != nil {
		t.Fatal(err)
	}
	its, _ := s.OpenIntents()
	if len(its) != 1 || its[0].Attempts != 2 || !its[0].StartedAt.Equal(first[0].StartedAt) || !its[0].KeysMayHaveChanged {
		t.Fatalf("resumed intent %+v", its)
	}
	// Another batch, or other keys, may not take over the tag.
	if err := s.BeginIntent(intentFor(uidN(1), "B2")); !errors.Is(err, ErrIntentOpen) {
		t.Fatalf("intent in another batch: %v", err)
	}
	other := intentFor(uidN(1), "B1")
	other.MasterKCV = "0F0F0F"
	if err := s.BeginIntent(other); !errors.Is(err, ErrIntentOpen) {
		t.Fatalf("intent with other keys: %v", err)
	}
	if err := s.Complete(bindingFor(uidN(1))); err != nil {
		t.Fatal(err)
	}
	b, _, _ := s.Lookup(uidN(1))
	if b.Attempts != 2 {
		t.Fatalf("binding attempts %d", b.Attempts)
	}
	if st, _ := s.Stats("B1"); st != (BatchStats{Done: 1, Failed: 1, Target: 100}) {
		t.Fatalf("stats %+v", st)
	}
}

func TestFailIntent(t *testing.T) {
	s := newStore(t)
	mustBatch(t, s, "B1")
	for i := 1; i <= 3; i++ {
		if err := s.BeginIntent(intentFor(uidN(i), "B1")); err != nil {
			t.Fatal(err)
		}
	}
	// Untouched keys: the tag is as it was, the intent goes.
	if err := s.FailIntent(uidN(1), "authentication failed", KeysUntouched); err != nil {
		t.Fatal(err)
	}
	// Keys may have changed: the intent stays, with the reason.
	if err := s.FailIntent(uidN(2), "tag removed", KeysMayHaveChanged); err != nil {
		t.Fatal(err)
	}
	// Once keys may have changed, a later clean failure does not clear it.
	if err := s.FailIntent(uidN(2), "timeout before ChangeKey", KeysUntouched); err != nil {
		t.Fatal(err)
	}
	if err := s.FailIntent(uidN(9), "x", KeysUntouched); !errors.Is(err, ErrNoIntent) {
		t.Fatalf("FailIntent without intent: %v", err)
	}
	its, _ := s.OpenIntents()
	if len(its) != 2 || its[0].UID != uidN(2) || its[1].UID != uidN(3) {
		t.Fatalf("open intents %+v", its)
	}
	if !its[0].KeysMayHaveChanged || its[0].LastError != "timeout before ChangeKey" {
		t.Fatalf("failed intent %+v", its[0])
	}
	if st, _ := s.Stats("B1"); st != (BatchStats{Failed: 3, OpenIntents: 2, Target: 100}) {
		t.Fatalf("stats %+v", st)
	}
	long := strings.Repeat("é", 400)
	if err := s.FailIntent(uidN(3), long, KeysMayHaveChanged); err != nil {
		t.Fatal(err)
	}
	its, _ = s.OpenIntents()
	if r := its[1].LastError; len(r) > 510 || !strings.HasSuffix(r, "…") {
		t.Fatalf("long reason stored as %d bytes", len(r))
	}
}

func TestTimeIsInjected(t *testing.T) {
	s := newStore(t) // clock starts at t0 and ticks 1s per reading
	b := mustBatch(t, s, "B1")
	if !b.CreatedAt.Equal(t0.Add(2 * time.Second)) {
		t.Fatalf("batch created at %v", b.CreatedAt)
	}
	encode(t, s, uidN(1), "B1")
	got, _, _ := s.Lookup(uidN(1))
	if !got.StartedAt.Equal(t0.Add(3*time.Second)) || !got.CompletedAt.Equal(t0.Add(4*time.Second)) {
		t.Fatalf("binding times %v %v", got.StartedAt, got.CompletedAt)
	}
	if got.StartedAt.Location() != time.UTC {
		t.Fatal("times are not stored in UTC")
	}
}

// Many writers share the store; every tag must be bound exactly once with
// a distinct sequence number, and refusals in a group must not affect the
// other requests of that group.
func TestConcurrentWriters(t *testing.T) {
	s := newStore(t)
	mustBatch(t, s, "B1")
	const workers, perWorker = 8, 40
	encode(t, s, uidN(0), "B1") // every worker will also try this one
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker*2)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				uid := uidN(1 + w*perWorker + i)
				if err := s.BeginIntent(intentFor(uid, "B1")); err != nil {
					errs <- err
					continue
				}
				if i%10 == 0 {
					if err := s.BeginIntent(intentFor(uidN(0), "B1")); !errors.Is(err, ErrDuplicate) {
						errs <- fmt.Errorf("duplicate in a busy group: %v", err)
					}
				}
				if err := s.Complete(bindingFor(uid)); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st, _ := s.Stats("B1")
	if st.Done != 1+workers*perWorker || st.Duplicates != workers*perWorker/10 || st.OpenIntents != 0 {
		t.Fatalf("stats %+v", st)
	}
	seen := map[uint64]bool{}
	p, _ := s.Pending(10000)
	for _, b := range p {
		if seen[b.Seq] {
			t.Fatalf("sequence %d used twice", b.Seq)
		}
		seen[b.Seq] = true
	}
	if len(seen) != 1+workers*perWorker {
		t.Fatalf("%d bindings in the outbox", len(seen))
	}
}

// holdCommitter keeps the committer busy in a request of its own until
// release, so that the requests queued meanwhile run as one group; queued
// waits until n are queued.
func holdCommitter(t *testing.T, s *Store) (queued func(n int), release func()) {
	t.Helper()
	gate, running := make(chan struct{}), make(chan struct{})
	held := make(chan error, 1)
	go func() {
		var once sync.Once
		held <- s.write(func(*bolt.Tx) error {
			once.Do(func() { close(running) })
			<-gate
			return nil
		})
	}()
	<-running
	queued = func(n int) {
		for len(s.c.reqs) < n {
			time.Sleep(time.Millisecond)
		}
	}
	release = func() {
		close(gate)
		if err := <-held; err != nil {
			t.Fatal(err)
		}
	}
	return queued, release
}

// A request that fails inside a group is rolled back alone; the others in
// the group commit, together.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	s := newStore(t)
	mustBatch(t, s, "B1")
	results := make([]error, 64)
	committedIn := make([]int, len(results)) // the tx of each request's last run
	queued, release := holdCommitter(t, s)
	var wg sync.WaitGroup
	boom := errors.New("boom")
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = s.write(func(tx *bolt.Tx) error {
				committedIn[i] = tx.ID()
				if err := tx.Bucket(bktMeta).Put([]byte(fmt.Sprintf("k%02d", i)), []byte("v")); err != nil {
					return err
				}
				switch i % 8 {
				case 3:
					return boom
				case 5:
					panic("bad page")
				}
				return nil
			})
		}()
	}
	queued(len(results))
	release()
	wg.Wait()
	txs := map[int]bool{}
	_ = s.view(func(tx *bolt.Tx) error {
		for i, err := range results {
			stored := tx.Bucket(bktMeta).Get([]byte(fmt.Sprintf("k%02d", i))) != nil
			switch i % 8 {
			case 3:
				if !errors.Is(err, boom) || stored {
					t.Errorf("request %d: err %v stored %v", i, err, stored)
				}
			case 5:
				if !errors.Is(err, ErrCorrupt) || stored {
					t.Errorf("request %d: err %v stored %v", i, err, stored)
				}
			default:
				if err != nil || !stored {
					t.Errorf("request %d: err %v stored %v", i, err, stored)
				}
				txs[committedIn[i]] = true
			}
		}
		return nil
	})
	if len(txs) != 1 {
		t.Errorf("the requests that succeeded were committed in %d transactions, not one group", len(txs))
	}
	// Clean up the test keys so that the journal checks clean.
	_ = s.write(func(tx *bolt.Tx) error {
		for i := range results {
			tx.Bucket(bktMeta).Delete([]byte(fmt.Sprintf("k%02d", i)))
		}
		return nil
	})
}

// The committer runs a group again without the request that failed, so
// every other request in it runs twice. A refused duplicate (counted in the
// commit that refuses it) and a binding (which takes a sequence number)
// must come out as if each had run once.
func TestGroupRerunCountsOnce(t *testing.T) {
	s := newStore(t)
	mustBatch(t, s, "B1")
	encode(t, s, uidN(0), "B1")
	for round := 1; round <= 3; round++ {
		uid := uidN(round)
		if err := s.BeginIntent(intentFor(uid, "B1")); err != nil {
			t.Fatal(err)
		}
		before, _ := s.Stats("B1")
		queued, release := holdCommitter(t, s)
		var dupErr, completeErr, failErr error
		var wg sync.WaitGroup
		wg.Add(3)
		go func() { defer wg.Done(); dupErr = s.BeginIntent(intentFor(uidN(0), "B1")) }()
		go func() { defer wg.Done(); completeErr = s.Complete(bindingFor(uid)) }()
		queued(2)
		// Last in the group, it fails after the others ran in its
		// transaction, so that they run again.
		var after bool
		go func() {
			defer wg.Done()
			failErr = s.write(func(tx *bolt.Tx) error {
				c, err := getCounters(tx.Bucket(bktStats), "B1")
				after = err == nil && c.dups > uint64(before.Duplicates) && tx.Bucket(bktIntents).Get([]byte(uid)) == nil
				return errors.New("fails after the others")
			})
		}()
		queued(3)
		release()
		wg.Wait()
		if !after || failErr == nil {
			t.Fatalf("round %d: the failing request ran before the others (%v) or succeeded (%v)", round, after, failErr)
		}
		if !errors.Is(dupErr, ErrDuplicate) || completeErr != nil {
			t.Fatalf("round %d: duplicate %v, complete %v", round, dupErr, completeErr)
		}
		st, _ := s.Stats("B1")
		if st.Duplicates != before.Duplicates+1 || st.Done != before.Done+1 || st.OpenIntents != 0 {
			t.Fatalf("round %d: stats %+v after %+v", round, st, before)
		}
		if b, _, _ := s.Lookup(uid); b.Seq != uint64(round+1) {
			t.Fatalf("round %d: binding has seq %d, want %d", round, b.Seq, round+1)
		}
	}
	if rep, err := s.Check(); err != nil || !rep.OK() {
		t.Fatalf("check: %v %v", rep.Problems, err)
	}
}

// Done and open intents are counted from the data: a journal written
// before issue 11 stores them in its counters (version 2), and whatever
// those say, Stats reports the index and the intents. Failed and duplicate
// tags, which leave no record, stay counted.
func TestStatsCountDoneAndOpenFromTheData(t *testing.T) {
	s := newStore(t)
	mustBatch(t, s, "B1")
	mustBatch(t, s, "B2")
	for i := range 3 {
		encode(t, s, uidN(i), "B1")
	}
	encode(t, s, uidN(3), "B2")
	for _, u := range []int{10, 11} {
		if err := s.BeginIntent(intentFor(uidN(u), "B1")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.BeginIntent(intentFor(uidN(12), "B2")); err != nil {
		t.Fatal(err)
	}
	if err := s.FailIntent(uidN(12), "no answer", KeysUntouched); err != nil {
		t.Fatal(err)
	}
	if err := s.BeginIntent(intentFor(uidN(0), "B1")); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("duplicate: %v", err)
	}
	if err := s.CountOutcome("B1", manifest.Failed); err != nil {
		t.Fatal(err)
	}
	want := map[string]BatchStats{
		"B1": {Done: 3, Failed: 1, Duplicates: 1, OpenIntents: 2, Target: 100},
		"B2": {Done: 1, Failed: 1, Target: 100},
	}
	stats := func(when string) {
		t.Helper()
		for id, w := range want {
			if st, err := s.Stats(id); err != nil || st != w {
				t.Fatalf("%s: stats of %s %+v %v, want %+v", when, id, st, err, w)
			}
		}
	}
	stats("as written")

	// The layout before issue 11: 0x02, done, failed, duplicates, open, CRC.
	err := s.db.Update(func(tx *bolt.Tx) error {
		v := make(encoder, oldCountsLen, oldCountsLen+crcLen)
		v[0] = recordV2
		for i, n := range []uint64{99, 1, 1, 7} {
			binary.BigEndian.PutUint64(v[1+8*i:], n)
		}
		return tx.Bucket(bktStats).Put([]byte("B1"), v.sealed())
	})
	if err != nil {
		t.Fatal(err)
	}
	stats("with version 2 counters")
	if rep, err := s.Check(); err != nil || !rep.OK() {
		t.Fatalf("check: %v %v", rep.Problems, err)
	}
	// A later failure rewrites them as version 3, keeping the counts.
	if err := s.CountOutcome("B1", manifest.Duplicate); err != nil {
		t.Fatal(err)
	}
	want["B1"] = BatchStats{Done: 3, Failed: 1, Duplicates: 2, OpenIntents: 2, Target: 100}
	stats("rewritten")

	// A newer layout is refused as such, a damaged one as corrupt.
	for _, c := range []struct {
		v    []byte
		want error
	}{
		{[]byte{4, 0, 0}, ErrFormat},
		{append([]byte{countersV3}, make([]byte, 16+crcLen)...), ErrCorrupt},
	} {
		if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bktStats).Put([]byte("B2"), c.v) }); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Stats("B2"); !errors.Is(err, c.want) {
			t.Errorf("counters %x: %v, want %v", c.v, err, c.want)
		}
	}
	if err := s.db.Update(func(tx *bolt.Tx) error { return putCounters(tx.Bucket(bktStats), "B2", counters{failed: 1}) }); err != nil {
		t.Fatal(err)
	}
}
