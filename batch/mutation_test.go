package batch

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/tagline-station/tagline/manifest"
)

var mutations = flag.Int("mutations", 600, "how many one-byte mutations of a small journal TestMutatedJournals tries")

// smallJournal is a journal with a bit of everything: two batches (one a
// test batch pinned to sdm-backend), bindings in both, a re-encode, an open
// intent and a failed one, an acknowledged cursor.
func smallJournal(t *testing.T) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "small.db")
	s, err := Open(path, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	mustBatch(t, s, "B1")
	if _, err := s.CreateBatch(Batch{ID: "B2", SKU: "SKU-2", KeyVersion: 1, KDF: KDFSDMBackend, Test: true}); err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		encode(t, s, uidN(i), []string{"B1", "B2"}[i%2])
	}
	it := intentFor(uidN(1), "B1")
	it.Reencode = true
	encodeWithIntent(t, s, it)
	for _, u := range []int{20, 21} {
		if err := s.BeginIntent(intentFor(uidN(u), "B1")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.FailIntent(uidN(21), "tag removed", KeysMayHaveChanged); err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(2); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// checkedCorrupt reports whether journal check, as the command runs it
// (a read-only open, then Check), calls the file corrupt.
func checkedCorrupt(path string) bool {
	s, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		return true
	}
	defer s.Close()
	rep, err := s.Check()
	return err != nil || !rep.OK()
}

// One damaged byte anywhere in a journal: whenever journal check calls the
// result corrupt, no write reaches the file (Open refuses it, unchanged)
// and no export succeeds (the export path, Verify then Export, fails);
// whenever check calls it sound, the journal reads exactly as before the
// damage, and every record an export ships is one a station could have
// written.
func TestMutatedJournals(t *testing.T) {
	clean := smallJournal(t)
	m, ok, _ := parseMeta(clean)
	if !ok {
		t.Fatal("no meta page")
	}
	inUse := int(m.pgid) * int(m.pageSize)
	rng := rand.New(rand.NewPCG(10, 8))
	dir := t.TempDir()
	cleanPath := filepath.Join(dir, "clean.db")
	if err := os.WriteFile(cleanPath, clean, 0o600); err != nil {
		t.Fatal(err)
	}
	want := journalView(cleanPath)
	var corrupt, refusedWrite, refusedExport, sound int
	for i := range *mutations {
		data := bytes.Clone(clean)
		off := rng.IntN(inUse)
		data[off] ^= byte(1 + rng.IntN(255))
		path := filepath.Join(dir, "m.db")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if !checkedCorrupt(path) {
			sound++
			exportSound(t, path, off)
			// Sound means unchanged: what check cannot see must not
			// matter to anything a command reads.
			if got := journalView(path); got != want {
				t.Errorf("mutation %d (byte %d): check finds no problem, but the journal reads differently:\n%s\nwas\n%s", i, off, got, want)
			}
			continue
		}
		corrupt++
		if s, err := Open(path, testOptions()); err == nil {
			s.Close()
			t.Errorf("mutation %d (byte %d): check calls the journal corrupt, but it opened for writing", i, off)
		} else {
			refusedWrite++
		}
		if after, _ := os.ReadFile(path); !bytes.Equal(after, data) {
			t.Errorf("mutation %d (byte %d): a refused open changed the file", i, off)
		}
		if exportChecked(path) == nil {
			t.Errorf("mutation %d (byte %d): check calls the journal corrupt, but its export succeeded", i, off)
		} else {
			refusedExport++
		}
	}
	t.Logf("%d mutations: %d corrupt by check (writes refused %d, exports refused %d), %d sound", *mutations, corrupt, refusedWrite, refusedExport, sound)
	if corrupt == 0 {
		t.Fatal("no mutation made the journal corrupt; the test proves nothing")
	}
}

// exportChecked is what batch export does: open read-only, Verify, export
// both batches.
func exportChecked(path string) error {
	s, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Verify(); err != nil {
		return err
	}
	for _, id := range []string{"B1", "B2"} {
		if _, err := s.Export(&bytes.Buffer{}, id, ExportOptions{}); err != nil {
			return err
		}
	}
	return nil
}

// exportSound exports every batch of a journal check calls sound and
// decodes each record line as a consumer would: outcomes and the rest must
// be what Complete writes.
func exportSound(t *testing.T, path string, off int) {
	t.Helper()
	s, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, id := range []string{"B1", "B2"} {
		var buf bytes.Buffer
		if _, err := s.Export(&buf, id, ExportOptions{}); err != nil {
			t.Errorf("byte %d: check finds no problem, but export of %s fails: %v", off, id, err)
			continue
		}
		lines := bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n"))
		for _, l := range lines[1 : len(lines)-1] {
			var b manifest.Binding
			if err := json.Unmarshal(l, &b); err != nil {
				t.Fatalf("byte %d: record line %s: %v", off, l, err)
			}
			if b.Outcome != manifest.Encoded && b.Outcome != manifest.Verified || b.BatchID != id {
				t.Errorf("byte %d: a sound journal exported %s", off, l)
			}
		}
	}
}

// journalView is everything the commands read from a journal: both
// manifests of every batch, the batches and their counts, the open
// intents, the sync state and the journal's identity.
func journalView(path string) string {
	s, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		return "open: " + err.Error()
	}
	defer s.Close()
	var out bytes.Buffer
	bs, err := s.ListBatches()
	fmt.Fprintf(&out, "batches %+v %v\n", bs, err)
	for _, b := range bs {
		for _, f := range []string{"jsonl", "csv"} {
			if _, err := s.Export(&out, b.ID, ExportOptions{Format: f}); err != nil {
				fmt.Fprintf(&out, "export %s: %v\n", b.ID, err)
			}
		}
		st, err := s.Stats(b.ID)
		fmt.Fprintf(&out, "stats %s %+v %v\n", b.ID, st, err)
	}
	its, err := s.OpenIntents()
	fmt.Fprintf(&out, "intents %+v %v\n", its, err)
	up, last, err := s.SyncState()
	fmt.Fprintf(&out, "sync %d %d %v; station %s created %s\n", up, last, err, s.StationID(), s.created)
	return out.String()
}
