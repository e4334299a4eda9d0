package batch

import (
	"errors"
	"path/filepath"
	"testing"
)

func TestPendingAndAck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	s := openStore(t, path, testOptions())
	mustBatch(t, s, "B1")
	if p, err := s.Pending(10); err != nil || len(p) != 0 {
		t.Fatalf("Pending on an empty journal: %v %v", p, err)
	}
	if err := s.Ack(0); err != nil {
		t.Fatalf("Ack(0) on an empty journal: %v", err)
	}
	if err := s.Ack(1); !errors.Is(err, ErrAckBeyond) {
		t.Fatalf("Ack(1) on an empty journal: %v", err)
	}
	for i := range 5 {
		encode(t, s, uidN(i), "B1")
	}
	if _, err := s.Pending(0); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Pending(0): %v", err)
	}
	p, err := s.Pending(3)
	if err != nil || len(p) != 3 || p[0].Seq != 1 || p[2].Seq != 3 || p[0].UID != uidN(0) {
		t.Fatalf("Pending(3) = %+v, %v", p, err)
	}
	if err := s.Ack(2); err != nil {
		t.Fatal(err)
	}
	p, _ = s.Pending(10)
	if len(p) != 3 || p[0].Seq != 3 {
		t.Fatalf("after Ack(2): %+v", p)
	}
	// Never backwards: an old acknowledgement changes nothing.
	if err := s.Ack(1); err != nil {
		t.Fatalf("Ack(1) after Ack(2): %v", err)
	}
	if up, last, _ := s.SyncState(); up != 2 || last != 5 {
		t.Fatalf("SyncState = %d, %d", up, last)
	}
	// Never beyond what exists.
	if err := s.Ack(6); !errors.Is(err, ErrAckBeyond) {
		t.Fatalf("Ack(6): %v", err)
	}
	if up, _, _ := s.SyncState(); up != 2 {
		t.Fatalf("a refused Ack moved the cursor to %d", up)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := openStore(t, path, testOptions())
	if up, last, err := s2.SyncState(); up != 2 || last != 5 || err != nil {
		t.Fatalf("cursor after reopen: %d %d %v", up, last, err)
	}
	if err := s2.Ack(5); err != nil {
		t.Fatal(err)
	}
	if p, _ := s2.Pending(10); len(p) != 0 {
		t.Fatalf("pending after acking all: %+v", p)
	}
}
