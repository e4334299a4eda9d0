package batch

import (
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// Each case damages a consistent journal behind the API's back, the way a
// bug or a bad disk would, and expects Check to say so in plain words.
func TestCheckFindsProblems(t *testing.T) {
	cases := []struct {
		name   string
		damage func(tx *bolt.Tx) error
		want   []string
	}{
		{"index entry lost", func(tx *bolt.Tx) error {
			return tx.Bucket(bktIndex).Bucket([]byte("B1")).Delete(seqKey(2))
		}, []string{"(seq 2) is missing from the index of batch B1"}},
		{"outbox entry lost", func(tx *bolt.Tx) error {
			return tx.Bucket(bktOutbox).Delete(seqKey(1))
		}, []string{"(seq 1) is missing from the outbox", "the outbox has 2 entries for 3 bindings"}},
		{"index entry without binding", func(tx *bolt.Tx) error {
			return tx.Bucket(bktIndex).Bucket([]byte("B1")).Put(seqKey(3), []byte(uidN(77)))
		}, []string{"entry 3 (tag 0400000000004D): no such binding"}},
		{"index entry in the wrong batch", func(tx *bolt.Tx) error {
			idx := tx.Bucket(bktIndex)
			if err := idx.Bucket([]byte("B1")).Delete(seqKey(1)); err != nil {
				return err
			}
			return idx.Bucket([]byte("B2")).Put(seqKey(1), []byte(uidN(0)))
		}, []string{"index of batch B2, entry 1: tag 04000000000000 was bound in batch B1"}},
		{"binding and intent for one tag", func(tx *bolt.Tx) error {
			v := encodeIntent(&Intent{UID: uidN(1), BatchID: "B1", KeyVersion: 1})
			return tx.Bucket(bktIntents).Put([]byte(uidN(1)), v)
		}, []string{"tag 04000000000001 has both a binding and an open intent"}},
		{"key material in a record", func(tx *bolt.Tx) error {
			b, _ := decodeBinding(tx.Bucket(bktBindings).Get([]byte(uidN(0))))
			b.MasterKCV = strings.Repeat("00", 16)
			v := encodeBinding(&b)
			return tx.Bucket(bktBindings).Put([]byte(uidN(0)), v)
		}, []string{"may be key material"}},
		{"record from the future", func(tx *bolt.Tx) error {
			return tx.Bucket(bktBindings).Put([]byte(uidN(0)), []byte{9, 1, 2, 3})
		}, []string{"encoding version 9"}},
		{"cursor past the end", func(tx *bolt.Tx) error {
			return tx.Bucket(bktMeta).Put(keySyncedUpto, seqKey(99))
		}, []string{"the sync cursor 99 is past the last binding 3"}},
		{"cursor damaged within bounds", func(tx *bolt.Tx) error {
			v := cursorValue(0)
			v[7] ^= 0x02 // 2, a seq the journal has
			return tx.Bucket(bktMeta).Put(keySyncedUpto, v)
		}, []string{"the sync cursor fails its checksum"}},
		{"binding in an unknown batch", func(tx *bolt.Tx) error {
			b, _ := decodeBinding(tx.Bucket(bktBindings).Get([]byte(uidN(0))))
			b.BatchID = "B9"
			v := encodeBinding(&b)
			return tx.Bucket(bktBindings).Put([]byte(uidN(0)), v)
		}, []string{"names batch B9, which does not exist"}},
		{"bucket gone", func(tx *bolt.Tx) error {
			return tx.DeleteBucket(bktHistory)
		}, []string{"the history bucket is missing"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := Open(filepath.Join(t.TempDir(), "journal.db"), testOptions())
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			mustBatch(t, s, "B1")
			mustBatch(t, s, "B2")
			for i := range 3 {
				encode(t, s, uidN(i), "B1")
			}
			if rep, err := s.Check(); err != nil || !rep.OK() {
				t.Fatalf("journal not clean before damage: %v %v", rep.Problems, err)
			}
			if err := s.db.Update(c.damage); err != nil {
				t.Fatal(err)
			}
			rep, err := s.Check()
			if err != nil {
				t.Fatal(err)
			}
			all := strings.Join(rep.Problems, "\n")
			for _, w := range c.want {
				if !strings.Contains(all, w) {
					t.Errorf("problems do not say %q:\n%s", w, all)
				}
			}
		})
	}
}

func TestCheckReport(t *testing.T) {
	s := newStore(t)
	mustBatch(t, s, "B1")
	encode(t, s, uidN(1), "B1")
	it := intentFor(uidN(1), "B1")
	it.Reencode = true
	encodeWithIntent(t, s, it)
	if err := s.BeginIntent(intentFor(uidN(2), "B1")); err != nil {
		t.Fatal(err)
	}
	// A re-encode in progress is not a problem.
	it.Attempts = 0
	if err := s.BeginIntent(it); err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(1); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Check()
	if err != nil || !rep.OK() {
		t.Fatalf("%v %v", rep.Problems, err)
	}
	want := Report{Path: s.Path(), Format: 1, StationID: "line1", Batches: 1, Bindings: 1, Superseded: 1,
		OpenIntents: 2, OutboxEntries: 2, LastSeq: 2, SyncedUpto: 1}
	if rep.Path != want.Path || rep.Format != want.Format || rep.StationID != want.StationID ||
		rep.Batches != want.Batches || rep.Bindings != want.Bindings || rep.Superseded != want.Superseded ||
		rep.OpenIntents != want.OpenIntents || rep.OutboxEntries != want.OutboxEntries ||
		rep.LastSeq != want.LastSeq || rep.SyncedUpto != want.SyncedUpto {
		t.Fatalf("report\n got %+v\nwant %+v", rep, want)
	}
}
