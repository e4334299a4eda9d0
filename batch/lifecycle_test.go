package batch

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/tagline-station/tagline/manifest"
)

// TestRekeyJournal: a rekey needs a binding of ours, survives a reopen
// while open, resumes, and completes with a new binding of the new key
// version under a higher seq, the old one in history and both in the
// outbox; the journal checks clean throughout.
func TestRekeyJournal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	s, err := Open(path, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	mustBatch(t, s, "B1")
	u := uidN(1)
	encode(t, s, u, "B1")

	if _, err := s.BeginOp(Op{Kind: OpRekey, UID: uidN(2), BatchID: "B1", ToVersion: 2, MasterKCV: testKCV}); !errors.Is(err, ErrNotOurs) {
		t.Fatalf("rekey of an unbound tag: %v, want ErrNotOurs", err)
	}
	if _, err := s.BeginOp(Op{Kind: OpRekey, UID: u, BatchID: "B1", ToVersion: 2, MasterKCV: "FFFFFF"}); !errors.Is(err, ErrNotOurs) {
		t.Fatalf("rekey with another master key: %v, want ErrNotOurs", err)
	}
	if _, err := s.BeginOp(Op{Kind: OpRekey, UID: u, BatchID: "B2", ToVersion: 2, MasterKCV: testKCV}); !errors.Is(err, ErrNotOurs) {
		t.Fatalf("rekey in another batch: %v, want ErrNotOurs", err)
	}
	if ops, _ := s.OpenOps(); len(ops) != 0 {
		t.Fatalf("refused operations left records: %+v", ops)
	}
	op, err := s.BeginOp(Op{Kind: OpRekey, UID: u, BatchID: "B1", ToVersion: 2, MasterKCV: testKCV})
	if err != nil {
		t.Fatal(err)
	}
	if op.FromVersion != 1 || op.ToVersion != 2 || op.Attempts != 1 {
		t.Fatalf("op %+v", op)
	}
	if err := s.FailOp(u, "tag removed", KeysMayHaveChanged); err != nil {
		t.Fatal(err)
	}
	if _, err := s.BeginOp(Op{Kind: OpReset, UID: u, MasterKCV: testKCV}); !errors.Is(err, ErrOpOpen) {
		t.Fatalf("reset during an open rekey: %v, want ErrOpOpen", err)
	}
	s.Close()
	s = openStore(t, path, testOptions())
	op, ok, err := s.LookupOp(u)
	if err != nil || !ok || op.State != IntentFailed || op.LastError != "tag removed" {
		t.Fatalf("after reopen: %+v %v %v", op, ok, err)
	}
	if op, err = s.BeginOp(Op{Kind: OpRekey, UID: u, BatchID: "B1", ToVersion: 2, MasterKCV: testKCV}); err != nil || op.Attempts != 2 {
		t.Fatalf("resume: %+v %v", op, err)
	}
	b, err := s.CompleteRekey(u, 7, manifest.Verified)
	if err != nil {
		t.Fatal(err)
	}
	if b.KeyVersion != 2 || b.Seq != 2 || b.ReadCtr != 7 || b.Attempts != 2 {
		t.Fatalf("new binding %+v", b)
	}
	if old, _ := s.Superseded(u); len(old) != 1 || old[0].KeyVersion != 1 || old[0].Seq != 1 {
		t.Fatalf("history %+v", old)
	}
	if p, _ := s.Pending(10); len(p) != 2 || p[1].KeyVersion != 2 {
		t.Fatalf("outbox %+v", p)
	}
	if _, ok, _ := s.LookupOp(u); ok {
		t.Fatal("the rekey is still open after CompleteRekey")
	}
	if _, err := s.BeginOp(Op{Kind: OpRekey, UID: u, BatchID: "B1", ToVersion: 2, MasterKCV: testKCV}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("rekey to the version it holds: %v", err)
	}
}

// TestResetJournal: a reset ends with a reclaim that names the binding it
// ended; after it no operation is accepted on the tag; quarantine counts;
// a first clean failure leaves nothing behind.
func TestResetJournal(t *testing.T) {
	s := newStore(t)
	mustBatch(t, s, "B1")
	u := uidN(1)
	encode(t, s, u, "B1")
	if _, err := s.BeginOp(Op{Kind: OpReset, UID: u, MasterKCV: testKCV}); err != nil {
		t.Fatal(err)
	}
	if err := s.FailOp(u, "select failed", KeysUntouched); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.LookupOp(u); ok {
		t.Fatal("a clean first failure left the operation open")
	}
	if _, err := s.BeginOp(Op{Kind: OpReset, UID: u, MasterKCV: testKCV}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompleteRekey(u, 1, manifest.Verified); !errors.Is(err, ErrNoOp) {
		t.Fatalf("CompleteRekey of a reset: %v", err)
	}
	r, err := s.CompleteReset(u)
	if err != nil {
		t.Fatal(err)
	}
	if r.Seq != 1 || r.KeyVersion != 1 || r.BatchID != "B1" {
		t.Fatalf("reclaim %+v", r)
	}
	if got, ok, err := s.Reclaimed(u); err != nil || !ok || got != r {
		t.Fatalf("Reclaimed: %+v %v %v", got, ok, err)
	}
	if _, err := s.BeginOp(Op{Kind: OpRekey, UID: u, BatchID: "B1", ToVersion: 2, MasterKCV: testKCV}); !errors.Is(err, ErrReclaimed) {
		t.Fatalf("rekey of a reclaimed tag: %v", err)
	}
	q, err := s.QuarantineTag(uidN(9), "not bound")
	if err != nil || q.Count != 1 {
		t.Fatal(q, err)
	}
	if q, _ = s.QuarantineTag(uidN(9), "not bound"); q.Count != 2 {
		t.Fatalf("quarantine count %d", q.Count)
	}
}

func TestLifecycleRecordsRoundTrip(t *testing.T) {
	op := Op{Kind: OpReset, UID: uidN(3), BatchID: "B", StationID: "s", FromVersion: 3, MasterKCV: testKCV, StartedAt: t0, Attempts: 2, State: IntentFailed, LastError: "x"}
	got, err := decodeOp(encodeOp(&op))
	if err != nil || got != op {
		t.Fatalf("%+v %v", got, err)
	}
	raw := encodeOp(&op)
	raw[3] ^= 1
	if _, err := decodeOp(raw); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("damaged op: %v", err)
	}
}
