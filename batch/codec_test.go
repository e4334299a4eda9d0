package batch

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tagline-station/tagline/manifest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// The records below are the content of the v1 files in testdata. Those
// files were written once by the first tagline and must stay readable by
// every later one: never regenerate them to make this test pass.
var (
	v1Binding = manifest.Binding{
		UID: "04A1B2C3D4E5F6", SKU: "CAP-30-BLUE", BatchID: "20260302-001", StationID: "line1",
		KeyVersion: 1, MasterKCV: "A1B2C3", TemplateHash: testTemplateHash, Outcome: manifest.Verified,
		Attempts: 2, ReadCtr: 7,
		StartedAt:   time.Date(2026, 3, 2, 8, 15, 1, 250_000_000, time.UTC),
		CompletedAt: time.Date(2026, 3, 2, 8, 15, 1, 730_123_456, time.UTC),
		Seq:         42,
	}
	v1Intent = Intent{
		UID: "04A1B2C3D4E5F6", BatchID: "20260302-001", SKU: "CAP-30-BLUE", StationID: "line1",
		KeyVersion: 1, MasterKCV: "A1B2C3", TemplateHash: testTemplateHash,
		StartedAt: time.Date(2026, 3, 2, 8, 15, 1, 250_000_000, time.UTC),
		Attempts:  2, Reencode: true, KeysMayHaveChanged: true, State: IntentFailed, LastError: "tag removed during ChangeKey 0",
	}
	v1Batch = Batch{
		ID: "20260302-001", SKU: "CAP-30-BLUE", Target: 5000, Template: "ndef-sun-v1", KeyVersion: 1,
		KDF:   KDFTagline, // what a v1 batch reads as
		Notes: "first shift, line 1 — Ø30", Status: StatusClosed,
		CreatedAt: time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC),
		ClosedAt:  time.Date(2026, 3, 2, 14, 0, 0, 5, time.UTC),
	}
)

func golden(t *testing.T, name string, fresh []byte) []byte {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, fresh, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (create it with go test -run %s -update)", err, t.Name())
	}
	return b
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The v1 files are read, never rewritten (not even with -update).
func TestV1RecordsStayReadable(t *testing.T) {
	b, err := decodeBinding(readTestdata(t, "binding_v1.bin"))
	if err != nil || b != v1Binding {
		t.Fatalf("binding v1:\n got %+v (%v)\nwant %+v", b, err, v1Binding)
	}
	it, err := decodeIntent(readTestdata(t, "intent_v1.bin"))
	if err != nil || it != v1Intent {
		t.Fatalf("intent v1:\n got %+v (%v)\nwant %+v", it, err, v1Intent)
	}
	bt, err := decodeBatch(readTestdata(t, "batch_v1.bin"))
	if err != nil || bt != v1Batch {
		t.Fatalf("batch v1:\n got %+v (%v)\nwant %+v", bt, err, v1Batch)
	}
}

// Version 2 records: the v1 content, a test batch pinned to sdm-backend,
// and an intent whose last attempt left no recorded outcome.
var (
	v2Batch = func() Batch {
		b := v1Batch
		b.KDF, b.Test = KDFSDMBackend, true
		return b
	}()
	v2Intent = func() Intent {
		it := v1Intent
		it.State, it.LastError = IntentInProgress, "tag removed during ChangeKey 0"
		return it
	}()
)

// What tagline writes now must stay byte for byte what the v2 files hold.
func TestEncoderWritesV2(t *testing.T) {
	for _, c := range []struct {
		file string
		enc  []byte
	}{
		{"binding_v2.bin", encodeBinding(&v1Binding)},
		{"intent_v2.bin", encodeIntent(&v2Intent)},
		{"batch_v2.bin", encodeBatch(&v2Batch)},
	} {
		want := golden(t, c.file, c.enc)
		if !bytes.Equal(c.enc, want) {
			t.Errorf("%s: encoder output changed:\n got %x\nwant %x", c.file, c.enc, want)
		}
	}
	if b, err := decodeBinding(readTestdata(t, "binding_v2.bin")); err != nil || b != v1Binding {
		t.Errorf("binding v2: %+v %v", b, err)
	}
	if it, err := decodeIntent(readTestdata(t, "intent_v2.bin")); err != nil || it != v2Intent {
		t.Errorf("intent v2: %+v %v", it, err)
	}
	if bt, err := decodeBatch(readTestdata(t, "batch_v2.bin")); err != nil || bt != v2Batch {
		t.Errorf("batch v2: %+v %v", bt, err)
	}
}

// asV1 turns a v2 intent or binding into the v1 record with the same
// fields (the layouts differ only by the checksum).
func asV1(rec []byte) []byte {
	return append([]byte{recordV1}, rec[1:len(rec)-crcLen]...)
}

// A v1 intent without its flag was left by a station that stopped during
// the attempt (a clean failure removed such intents or flagged them): it
// must read as "keys may have changed", never as untouched.
func TestV1IntentWithoutFlagMayHaveChangedKeys(t *testing.T) {
	it := v1Intent
	it.State = IntentInProgress
	it.KeysMayHaveChanged = false
	got, err := decodeIntent(asV1(encodeIntent(&it)))
	if err != nil {
		t.Fatal(err)
	}
	if !got.KeysMayHaveChanged || got.State != IntentInProgress {
		t.Fatalf("v1 intent without flag reads as %+v", got)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	cases := []manifest.Binding{
		{Outcome: manifest.Encoded},
		v1Binding,
		{UID: "04000000000000", SKU: "Ø \"q\" \t", Outcome: manifest.Encoded, Attempts: -1, ReadCtr: 1<<32 - 1, Seq: 1<<64 - 1,
			StartedAt: time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC), CompletedAt: time.Unix(0, 1).UTC()},
	}
	for _, b := range cases {
		got, err := decodeBinding(encodeBinding(&b))
		if err != nil || got != b {
			t.Errorf("round trip of %+v gave %+v, %v", b, got, err)
		}
	}
	// The least an intent and a batch can be (every stored intent may
	// have changed keys; a batch has a status and a derivation).
	zi := Intent{KeysMayHaveChanged: true, State: IntentInProgress}
	if got, err := decodeIntent(encodeIntent(&zi)); err != nil || got != zi {
		t.Errorf("zero intent: %+v %v", got, err)
	}
	zb := Batch{Status: StatusOpen, KDF: KDFTagline}
	if got, err := decodeBatch(encodeBatch(&zb)); err != nil || got != zb || !got.ClosedAt.IsZero() {
		t.Errorf("zero batch: %+v %v", got, err)
	}
}

// Any damage to a record's bytes must give an error, never a panic or a
// silently different record.
func TestDamagedRecords(t *testing.T) {
	full := encodeBinding(&v1Binding)
	for n := 0; n < len(full); n++ {
		if _, err := decodeBinding(full[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("binding cut to %d bytes: %v", n, err)
		}
	}
	if _, err := decodeBinding(append(bytes.Clone(full), 0)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("trailing byte: %v", err)
	}
	future := bytes.Clone(full)
	future[0] = recordLatest + 1
	_, err := decodeBinding(future)
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "upgrade") {
		t.Fatalf("version %d record: %v", recordLatest+1, err)
	}
	// Any one damaged byte of a checksummed record is caught, whichever
	// field it falls in.
	for _, rec := range [][]byte{full, encodeIntent(&v1Intent), encodeBatch(&v2Batch)} {
		for i := range rec {
			for _, x := range []byte{0x01, 0x80, 0xff} {
				bad := bytes.Clone(rec)
				bad[i] ^= x
				_, e1 := decodeBinding(bad)
				_, e2 := decodeIntent(bad)
				_, e3 := decodeBatch(bad)
				for _, e := range []error{e1, e2, e3} {
					if e == nil {
						t.Fatalf("record %x with byte %d xor %#x decoded", rec, i, x)
					}
				}
			}
		}
	}
	it := encodeIntent(&v1Intent)
	for n := 0; n < len(it); n++ {
		if _, err := decodeIntent(it[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("intent cut to %d bytes: %v", n, err)
		}
	}
	bt := encodeBatch(&v1Batch)
	for n := 0; n < len(bt); n++ {
		if _, err := decodeBatch(bt[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("batch cut to %d bytes: %v", n, err)
		}
	}
}

// A journal written by the first tagline, with its manifest: a later
// tagline must open it, find it healthy and export the same bytes.
func TestV1JournalStaysReadable(t *testing.T) {
	src := filepath.Join("testdata", "journal_v1.db")
	if *update {
		os.Remove(src)
		s, err := Open(src, Options{StationID: "line1", Now: newClock().Now})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateBatch(v1Batch); err != nil {
			t.Fatal(err)
		}
		mustBatch(t, s, "B2")
		for i := range 5 {
			encode(t, s, uidN(i), v1Batch.ID)
		}
		encode(t, s, uidN(5), "B2")
		it := intentFor(uidN(1), "B2")
		it.Reencode = true
		encodeWithIntent(t, s, it)
		if err := s.BeginIntent(intentFor(uidN(6), "B2")); err != nil {
			t.Fatal(err)
		}
		if err := s.FailIntent(uidN(6), "tag removed", KeysMayHaveChanged); err != nil {
			t.Fatal(err)
		}
		if err := s.CloseBatch(v1Batch.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.Ack(3); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "journal.db") // Open may write; keep testdata pristine
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	s := openStore(t, path, Options{Now: newClock().Now})
	if s.StationID() != "line1" {
		t.Fatalf("station %q", s.StationID())
	}
	bt, err := s.GetBatch(v1Batch.ID)
	if err != nil || bt.Status != StatusClosed || bt.Notes != v1Batch.Notes {
		t.Fatalf("batch %+v %v", bt, err)
	}
	if st, _ := s.Stats(v1Batch.ID); st != (BatchStats{Done: 5, Target: 5000}) {
		t.Fatalf("stats %+v", st)
	}
	its, err := s.OpenIntents()
	if err != nil || len(its) != 1 || its[0].UID != uidN(6) || !its[0].KeysMayHaveChanged {
		t.Fatalf("intents %+v %v", its, err)
	}
	if b, ok, _ := s.Lookup(uidN(1)); !ok || b.BatchID != "B2" {
		t.Fatalf("re-encoded binding %+v", b)
	}
	if up, last, _ := s.SyncState(); up != 3 || last != 7 {
		t.Fatalf("sync state %d %d", up, last)
	}
	for _, f := range []string{"jsonl", "csv"} {
		var out bytes.Buffer
		if _, err := s.Export(&out, v1Batch.ID, ExportOptions{Format: f}); err != nil {
			t.Fatal(err)
		}
		want := golden(t, "journal_v1_manifest."+f, out.Bytes())
		if !bytes.Equal(out.Bytes(), want) {
			t.Errorf("%s manifest of the v1 journal changed:\n got %s\nwant %s", f, out.Bytes(), want)
		}
	}
}

// Records written before checksums are counted, not refused: the v1
// journal checks clean and says how many of its records have none; a new
// journal has none of them.
func TestCheckCountsUnchecksummedRecords(t *testing.T) {
	data := readTestdata(t, "journal_v1.db")
	path := filepath.Join(t.TempDir(), "journal.db")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.Check()
	s.Close()
	// 2 batches, their 2 counters, 6 current and 1 superseded bindings,
	// 1 intent.
	if err != nil || !rep.OK() || rep.Unchecksummed != 12 {
		t.Fatalf("v1 journal: %d unchecksummed, %v %v", rep.Unchecksummed, rep.Problems, err)
	}
	n := newStore(t)
	mustBatch(t, n, "B1")
	encode(t, n, uidN(1), "B1")
	if rep, err := n.Check(); err != nil || rep.Unchecksummed != 0 {
		t.Fatalf("new journal: %+v %v", rep, err)
	}
}
