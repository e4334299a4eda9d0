package batch

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tagline-station/tagline/manifest"
	bolt "go.etcd.io/bbolt"
)

func TestOpenCreatesJournal(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "not", "yet")
	path := filepath.Join(dir, "journal.db")
	s := openStore(t, path, testOptions())
	if s.StationID() != "line1" || s.Path() != path {
		t.Fatalf("station %q path %q", s.StationID(), s.Path())
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("journal mode %v, want 0600", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("creation left %d files in the directory, want only the journal", len(entries))
	}
	err = s.view(func(tx *bolt.Tx) error {
		id, err := readIdentity(tx)
		if err != nil {
			return err
		}
		if id.format != FormatVersion || id.station != "line1" || !id.created.Equal(t0.Add(time.Second)) {
			t.Errorf("identity %+v", id)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.Check()
	if err != nil || !rep.OK() || rep.Format != 1 || rep.StationID != "line1" {
		t.Fatalf("fresh journal check: %+v %v", rep, err)
	}
}

func TestReopenKeepsStationAndData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	s, err := Open(path, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	mustBatch(t, s, "B1")
	encode(t, s, uidN(1), "B1")
	if err := s.BeginIntent(intentFor(uidN(2), "B1")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.BeginIntent(intentFor(uidN(3), "B1")); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after Close: %v, want ErrClosed", err)
	}
	if _, _, err := s.Lookup(uidN(1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("read after Close: %v, want ErrClosed", err)
	}

	// No StationID: the journal's own is used.
	s2 := openStore(t, path, Options{Now: newClock().Now})
	if s2.StationID() != "line1" {
		t.Fatalf("station %q after reopen", s2.StationID())
	}
	if _, ok, err := s2.Lookup(uidN(1)); !ok || err != nil {
		t.Fatalf("binding lost across reopen: %v %v", ok, err)
	}
	its, err := s2.OpenIntents()
	if err != nil || len(its) != 1 || its[0].UID != uidN(2) {
		t.Fatalf("intents after reopen: %+v %v", its, err)
	}
}

func TestOpenOtherStationsJournal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	s, err := Open(path, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	opts := testOptions()
	opts.StationID = "line2"
	_, err = Open(path, opts)
	if !errors.Is(err, ErrWrongStation) || !strings.Contains(err.Error(), "belongs to station line1, not line2") {
		t.Fatalf("got %v", err)
	}
}

func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	openStore(t, path, testOptions())

	for _, ro := range []bool{false, true} {
		opts := testOptions()
		opts.LockTimeout = 100 * time.Millisecond
		opts.ReadOnly = ro
		start := time.Now()
		s, err := Open(path, opts)
		if err == nil {
			s.Close()
			t.Fatalf("read-only=%v: second open succeeded", ro)
		}
		if !errors.Is(err, ErrLocked) {
			t.Fatalf("read-only=%v: got %v, want ErrLocked", ro, err)
		}
		want := "another tagline process holds the journal " + path + "; stop it or use --journal"
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not say %q", err, want)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("waited %v for a 100ms lock timeout", d)
		}
	}
}

func TestReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	s, err := Open(path, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	mustBatch(t, s, "B1")
	encode(t, s, uidN(1), "B1")
	s.Close()
	before := fileHash(t, path)

	opts := testOptions()
	opts.ReadOnly = true
	r1 := openStore(t, path, opts)
	r2 := openStore(t, path, opts) // readers share the file
	if _, ok, err := r2.Lookup(uidN(1)); !ok || err != nil {
		t.Fatalf("lookup read-only: %v %v", ok, err)
	}
	if err := r1.BeginIntent(intentFor(uidN(2), "B1")); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("write on read-only store: %v", err)
	}
	if _, err := r1.CreateBatch(Batch{SKU: "x"}); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("CreateBatch on read-only store: %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing.db"), opts); err == nil {
		t.Fatal("read-only open created a journal")
	}
	r1.Close()
	r2.Close()
	if fileHash(t, path) != before {
		t.Fatal("read-only use changed the file")
	}
}

func TestDefaultPath(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_DATA_HOME", dir)
	p, err := DefaultPath()
	if err != nil || p != filepath.Join(dir, "tagline", "journal.db") {
		t.Fatalf("DefaultPath = %q, %v", p, err)
	}
	t.Setenv("XDG_DATA_HOME", "relative/ignored")
	t.Setenv("HOME", dir)
	p, err = DefaultPath()
	if err != nil || !filepath.IsAbs(p) || filepath.Base(p) != "journal.db" || strings.Contains(p, "relative") {
		t.Fatalf("DefaultPath without XDG_DATA_HOME = %q, %v", p, err)
	}
}

func fileHash(t testing.TB, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// realJournal builds a journal with a few hundred bindings and returns its
// bytes: after Close when clean, else as a crash would leave them (taken
// while the store is open; every commit is already on disk).
func realJournal(t *testing.T, clean bool) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "real.db")
	s, err := Open(path, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	mustBatch(t, s, "B1")
	err = s.write(func(tx *bolt.Tx) error {
		for i := range 400 {
			if err := bulkBind(tx, s, uidN(i), "B1"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.BeginIntent(intentFor(uidN(9999), "B1")); err != nil {
		t.Fatal(err)
	}
	var b []byte
	if !clean {
		if b, err = os.ReadFile(path); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if clean {
		if b, err = os.ReadFile(path); err != nil {
			t.Fatal(err)
		}
	}
	m, _, _ := parseMeta(b)
	if (m.freelist == noFreelist) == clean {
		t.Fatalf("clean=%v journal has freelist page %d", clean, m.freelist)
	}
	return b
}

func boltFile(t *testing.T, fn func(tx *bolt.Tx) error) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "other.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fn != nil {
		if err := db.Update(fn); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestOpenRefusesDamagedOrForeignFiles(t *testing.T) {
	real := realJournal(t, true)
	m, ok, _ := parseMeta(real)
	if !ok {
		t.Fatal("cannot parse the real journal's meta page")
	}
	inUse := int(m.pgid) * int(m.pageSize)
	if inUse <= 3*int(m.pageSize) {
		t.Fatalf("test journal too small: %d bytes in use", inUse)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 64<<10)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	flippedMeta := append([]byte(nil), real...)
	flippedMeta[pageHeaderSize+20] ^= 0xff
	flippedMeta[int(m.pageSize)+pageHeaderSize+20] ^= 0xff

	withFormat := func(f string) []byte {
		return boltFile(t, func(tx *bolt.Tx) error {
			for _, b := range allBuckets {
				if _, err := tx.CreateBucket(b); err != nil {
					return err
				}
			}
			m := tx.Bucket(bktMeta)
			m.Put(keyMagic, []byte(journalMagic))
			m.Put(keyFormat, []byte(f))
			m.Put(keyStation, []byte("line1"))
			m.Put(keyCreated, []byte(t0.Format(time.RFC3339Nano)))
			return m.Put(keySyncedUpto, seqKey(0))
		})
	}

	cases := []struct {
		name string
		data []byte
		want error
		says string
	}{
		{"random bytes", random, ErrForeign, "no bbolt header"},
		{"empty file", []byte{}, ErrForeign, "the file is empty"},
		{"truncated to 100 bytes", real[:100], ErrCorrupt, "truncated"},
		{"truncated inside the second meta page", real[:int(m.pageSize)+300], ErrCorrupt, "truncated"},
		{"truncated to half", real[:inUse/2], ErrCorrupt, "truncated"},
		{"truncated by one byte of data", real[:inUse-1], ErrCorrupt, "truncated"},
		{"both meta pages damaged", flippedMeta, ErrCorrupt, "meta pages are damaged"},
		{"empty bbolt file", boltFile(t, nil), ErrForeign, "empty bbolt file"},
		{"bbolt file of another program", boltFile(t, func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket([]byte("widgets"))
			if err != nil {
				return err
			}
			return b.Put([]byte("w1"), []byte("blue"))
		}), ErrForeign, "another program"},
		{"meta bucket without our marker", boltFile(t, func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket([]byte("meta"))
			if err != nil {
				return err
			}
			return b.Put([]byte("magic"), []byte("someone-else"))
		}), ErrForeign, "another program"},
		{"journal from a newer tagline", withFormat("2"), ErrFormat, "newer tagline"},
		{"unreadable format", withFormat("one"), ErrCorrupt, "format version"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "journal.db")
			if err := os.WriteFile(path, c.data, 0o600); err != nil {
				t.Fatal(err)
			}
			before := fileHash(t, path)
			s, err := Open(path, testOptions())
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			t.Log(err)
			if !strings.Contains(err.Error(), c.says) || !strings.Contains(err.Error(), path) {
				t.Errorf("message %q should name the file and say %q", err, c.says)
			}
			if fileHash(t, path) != before {
				t.Fatal("the refused file was modified")
			}
		})
	}
}

// bbolt writes new pages over those its freelist names; a freelist naming a
// page in use must stop Open before a commit destroys that page.
func TestOpenRefusesFreelistNamingLivePage(t *testing.T) {
	data := realJournal(t, true)
	m, _, _ := parseMeta(data)
	fl := int(m.freelist) * int(m.pageSize)
	binary.LittleEndian.PutUint16(data[fl+10:], 1)
	binary.LittleEndian.PutUint64(data[fl+16:], m.root)
	path := filepath.Join(t.TempDir(), "journal.db")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	before := fileHash(t, path)
	_, err := Open(path, testOptions())
	want := fmt.Sprintf("the freelist names page %d, which is in use", m.root)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want ErrCorrupt saying %q", err, want)
	}
	if fileHash(t, path) != before {
		t.Fatal("the refused file was modified")
	}
}

// Damage inside data pages is not visible in the header. Whatever page is
// overwritten, in a cleanly closed journal or in one left by a crash (whose
// freelist bbolt must rebuild by walking every page), no call may panic or
// fault, and damage must surface as an error or as problems from Check.
func TestDamagedPagesNeverPanic(t *testing.T) {
	for _, clean := range []bool{true, false} {
		real := realJournal(t, clean)
		m, _, _ := parseMeta(real)
		ps := int(m.pageSize)
		rng := rand.New(rand.NewPCG(3, 4))
		noticed := 0
		for pg := 2; pg < int(m.pgid); pg++ {
			data := append([]byte(nil), real...)
			for i := pg * ps; i < (pg+1)*ps; i++ {
				data[i] = byte(rng.Uint32())
			}
			path := filepath.Join(t.TempDir(), "journal.db")
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			for _, ro := range []bool{true, false} {
				opts := testOptions()
				opts.ReadOnly = ro
				s, err := Open(path, opts)
				if err != nil {
					if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrForeign) {
						t.Errorf("page %d: open error %v wraps neither ErrCorrupt nor ErrForeign", pg, err)
					}
					if !ro {
						noticed++
					}
					continue
				}
				rep, err := s.Check()
				if (err != nil || !rep.OK()) && !ro {
					noticed++
				}
				_, _, _ = s.Lookup(uidN(7))
				_, _ = s.OpenIntents()
				_, _ = s.ListBatches()
				_, _ = s.Export(discard{}, "B1", ExportOptions{})
				_, _ = s.Pending(10)
				if !ro {
					_ = s.BeginIntent(intentFor(uidN(5000), "B1"))
					_ = s.Complete(bindingFor(uidN(9999)))
				}
				s.Close()
			}
		}
		if noticed == 0 {
			t.Fatalf("clean=%v: no damaged page was noticed", clean)
		}
		t.Logf("clean=%v: %d of %d damaged pages noticed", clean, noticed, int(m.pgid)-2)
	}
}

// Scattered damage (flipped bits, bytes in page headers and element
// tables) is what bbolt trusts most and tests least; its own page walks run
// in goroutines where a fault kills the process. None of it may crash or
// hang a station.
func TestScatteredDamageNeverPanics(t *testing.T) {
	for _, clean := range []bool{true, false} {
		real := realJournal(t, clean)
		m, _, _ := parseMeta(real)
		ps, pages := int(m.pageSize), int(m.pgid)
		for seed := range uint64(150) {
			rng := rand.New(rand.NewPCG(seed, 99))
			data := append([]byte(nil), real...)
			pg := 2 + rng.IntN(pages-2)
			for range 1 + rng.IntN(16) {
				if rng.IntN(3) == 0 {
					pg = 2 + rng.IntN(pages-2)
				}
				off := pg*ps + rng.IntN(16) // page header
				switch rng.IntN(3) {
				case 0:
					off = pg*ps + rng.IntN(ps)
				case 1:
					off = pg*ps + 16 + rng.IntN(256) // element table
				}
				if rng.IntN(4) == 0 {
					data[off] ^= 1 << rng.IntN(8)
				} else {
					data[off] = byte(rng.Uint32())
				}
			}
			path := filepath.Join(t.TempDir(), "journal.db")
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			for _, ro := range []bool{true, false} {
				opts := testOptions()
				opts.ReadOnly = ro
				s, err := Open(path, opts)
				if err != nil {
					if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrForeign) {
						t.Errorf("seed %d: open error %v wraps neither ErrCorrupt nor ErrForeign", seed, err)
					}
					continue
				}
				_, _ = s.Check()
				_, _, _ = s.Lookup(uidN(7))
				_, _ = s.OpenIntents()
				_, _ = s.Export(discard{}, "B1", ExportOptions{})
				_, _ = s.Pending(10)
				if !ro {
					_ = s.BeginIntent(intentFor(uidN(5000), "B1"))
					_ = s.Complete(bindingFor(uidN(9999)))
				}
				s.Close()
			}
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// A batch's tags all carry keys from one master key.
func TestBatchRefusesSecondMasterKey(t *testing.T) {
	s := newStore(t)
	if _, err := s.CreateBatch(Batch{ID: "m1", SKU: "S", KeyVersion: 1}); err != nil {
		t.Fatal(err)
	}
	hash := strings.Repeat("ab", 32)
	if err := s.BeginIntent(Intent{UID: "04000000000001", BatchID: "m1", KeyVersion: 1, MasterKCV: "AAAAAA", TemplateHash: hash}); err != nil {
		t.Fatal(err)
	}
	if err := s.Complete(manifest.Binding{UID: "04000000000001", Outcome: manifest.Verified}); err != nil {
		t.Fatal(err)
	}
	err := s.BeginIntent(Intent{UID: "04000000000002", BatchID: "m1", KeyVersion: 1, MasterKCV: "BBBBBB", TemplateHash: hash})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "AAAAAA") {
		t.Fatalf("second master key: %v", err)
	}
	if err := s.BeginIntent(Intent{UID: "04000000000002", BatchID: "m1", KeyVersion: 1, MasterKCV: "AAAAAA", TemplateHash: hash}); err != nil {
		t.Fatal(err)
	}
}

// One damaged byte in the newer meta page makes bbolt fall back to the
// older one, which silently loses the last commit (a binding turns back
// into an open intent). Check must report it and Open must refuse to
// write; a damaged older page is reported the same way.
func TestDamagedMetaPageIsReported(t *testing.T) {
	for _, newer := range []bool{true, false} {
		t.Run(fmt.Sprintf("newer=%v", newer), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "journal.db")
			s, err := Open(path, testOptions())
			if err != nil {
				t.Fatal(err)
			}
			mustBatch(t, s, "B1")
			if err := s.BeginIntent(intentFor(uidN(1), "B1")); err != nil {
				t.Fatal(err)
			}
			if err := s.Complete(bindingFor(uidN(1))); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			m0, ok0, _ := parseMeta(data)
			m1, ok1, _ := parseMeta(data[m0.pageSize:])
			if !ok0 || !ok1 {
				t.Fatal("meta pages not sound before the damage")
			}
			page := 0
			if (m1.txid > m0.txid) == newer {
				page = 1
			}
			data[page*int(m0.pageSize)+pageHeaderSize+48] ^= 0x01 // a bit of the txid
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}

			ro, err := Open(path, Options{ReadOnly: true})
			if err != nil {
				t.Fatalf("read-only open for the check: %v", err)
			}
			rep, err := ro.Check()
			ro.Close()
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() || !strings.Contains(strings.Join(rep.Problems, "\n"), fmt.Sprintf("meta page %d is damaged", page)) {
				t.Fatalf("check after damaging meta page %d: %v", page, rep.Problems)
			}
			before, _ := os.ReadFile(path)
			if _, err := Open(path, testOptions()); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "meta page") {
				t.Fatalf("open for writing: %v", err)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Fatal("the refused open changed the file")
			}
		})
	}
}
