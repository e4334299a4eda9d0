package station_test

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/reader/sim"
	"github.com/tagline-station/tagline/sdm"
	"github.com/tagline-station/tagline/station"
)

const masterHex = "00112233445566778899AABBCCDDEEFF"

const tmpl = "https://brand.example/t?picc_data={picc}&enc={enc}&cmac={mac}"

type fixture struct {
	store *batch.Store
	st    *station.Station
	cfg   station.Config
}

func newFixture(t testing.TB, path string) *fixture {
	t.Helper()
	s, err := batch.Open(path, batch.Options{StationID: "line-1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if r, err := s.Check(); err != nil || !r.OK() {
			t.Errorf("journal check: %v %v", err, r.Problems)
		}
		s.Close()
	})
	b, err := s.GetBatch("b1")
	if errors.Is(err, batch.ErrNoBatch) {
		b, err = s.CreateBatch(batch.Batch{ID: "b1", SKU: "SKU-1", Target: 10, Template: tmpl, KeyVersion: 1})
	}
	if err != nil {
		t.Fatal(err)
	}
	cfg := stationConfig(t, s, b)
	st, err := station.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{store: s, st: st, cfg: cfg}
}

func stationConfig(t testing.TB, s *batch.Store, b batch.Batch) station.Config {
	t.Helper()
	mb, _ := hex.DecodeString(masterHex)
	m, _ := keys.NewMaster(mb)
	d, err := keys.NewDeriver(keys.SchemeTagline, m, b.KeyVersion)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := sdm.ParseTemplate(b.Template)
	if err != nil {
		t.Fatal(err)
	}
	return station.Config{Journal: s, Batch: b, Deriver: d, Template: tp}
}

func uid(n byte) []byte { return []byte{0x04, 0x10, 0x20, 0x30, 0x40, 0x50, n} }

func connect(t testing.TB, r *sim.Reader, tag *sim.Tag) reader.Tag {
	t.Helper()
	r.Present(tag)
	c, err := r.WaitTag(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEncodeJournalsBinding(t *testing.T) {
	f := newFixture(t, filepath.Join(t.TempDir(), "j.db"))
	r := sim.NewReader("sim0")
	tag := sim.New(sim.Options{UID: uid(1)})
	res := f.st.Encode(context.Background(), connect(t, r, tag), "sim0")
	if res.Outcome != manifest.Encoded || res.Err != nil {
		t.Fatalf("%+v", res)
	}
	b, ok, err := f.store.Lookup(res.UID)
	if err != nil || !ok {
		t.Fatalf("no binding: %v", err)
	}
	if b.BatchID != "b1" || b.SKU != "SKU-1" || b.KeyVersion != 1 || b.MasterKCV != f.cfg.Deriver.MasterKCV() || b.ReadCtr != res.ReadCtr || b.Outcome != manifest.Verified {
		t.Fatalf("binding %+v", b)
	}
	// The {enc} file data is the SKU.
	v, err := f.cfg.Template.Verify(res.URL, f.cfg.Deriver)
	if err != nil || string(v.FileData) != "SKU-1           " {
		t.Fatalf("url %s: %v %q", res.URL, err, v.FileData)
	}
	// Presented again: a duplicate, named with its batch, and the tag is
	// left alone.
	before := tag.Snapshot()
	res = f.st.Encode(context.Background(), connect(t, r, tag), "sim0")
	if res.Outcome != manifest.Duplicate || res.Hint == "" {
		t.Fatalf("%+v", res)
	}
	if tag.Snapshot().KeyKCV != before.KeyKCV {
		t.Fatal("duplicate was re-keyed")
	}
	if st, _ := f.store.Stats("b1"); st.Done != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestTornTagIsFinishedOnNextPresentation(t *testing.T) {
	f := newFixture(t, filepath.Join(t.TempDir(), "j.db"))
	r := sim.NewReader("sim0")
	// With this template the flow has 15 exchanges; the journal's intent
	// is begun after exchange 5 (authentication), before the first write.
	for k := 6; k <= 15; k++ {
		tag := sim.New(sim.Options{UID: uid(byte(k))})
		tag.RemoveDuring(k)
		res := f.st.Encode(context.Background(), connect(t, r, tag), "sim0")
		if res.Outcome != manifest.Failed || !errors.Is(res.Err, reader.ErrTagRemoved) {
			t.Fatalf("k=%d: %+v", k, res)
		}
		if res.Hint != "present the same tag again to finish it" {
			t.Fatalf("hint %q", res.Hint)
		}
		its, _ := f.store.OpenIntents()
		if len(its) != 1 || !its[0].KeysMayHaveChanged {
			t.Fatalf("k=%d: open intents %+v", k, its)
		}
		res = f.st.Encode(context.Background(), connect(t, r, tag), "sim0")
		if res.Outcome != manifest.Finished && res.Outcome != manifest.Encoded {
			t.Fatalf("k=%d second: %+v", k, res)
		}
		if _, ok, _ := f.store.Lookup(res.UID); !ok {
			t.Fatalf("k=%d: no binding after finishing", k)
		}
		if its, _ := f.store.OpenIntents(); len(its) != 0 {
			t.Fatalf("k=%d: intents left %+v", k, its)
		}
	}
}

func TestFailureBeforeWriteLeavesNoIntent(t *testing.T) {
	f := newFixture(t, filepath.Join(t.TempDir(), "j.db"))
	r := sim.NewReader("sim0")
	tag := sim.New(sim.Options{UID: uid(1)})
	tag.RemoveAfter(3) // gone during authentication, before anything is written
	res := f.st.Encode(context.Background(), connect(t, r, tag), "sim0")
	if res.Outcome != manifest.Failed {
		t.Fatalf("%+v", res)
	}
	if its, _ := f.store.OpenIntents(); len(its) != 0 {
		t.Fatalf("intent left for an untouched tag: %+v", its)
	}
	if !tag.IsFactoryFresh() {
		t.Fatal("tag was written")
	}
}

func TestLaneRunsUntilLimit(t *testing.T) {
	f := newFixture(t, filepath.Join(t.TempDir(), "j.db"))
	r := sim.NewReader("sim0")
	events := make(chan station.Event, 64)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error)
	go func() { done <- f.st.Lane(ctx, r, station.LaneOptions{Limit: 3}, events) }()
	results := 0
	for n := byte(1); results < 3; {
		e := <-events
		switch e.Kind {
		case station.EvWaiting:
			r.Present(sim.New(sim.Options{UID: uid(n)}))
			n++
		case station.EvResult:
			if e.Result.Outcome != manifest.Encoded {
				t.Fatalf("%+v", e.Result)
			}
			results++
			r.Remove()
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st, _ := f.store.Stats("b1"); st.Done != 3 {
		t.Fatalf("stats %+v", st)
	}
}

func newStation(s *batch.Store, b batch.Batch) (*station.Station, error) {
	return station.New(stationConfig(nopTB{}, s, b))
}

// nopTB lets the crash child reuse stationConfig outside a test.
type nopTB struct{ testing.TB }

func (nopTB) Helper()                   {}
func (nopTB) Fatal(args ...any)         { fmt.Fprintln(os.Stderr, args...); os.Exit(6) }
func (nopTB) Fatalf(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...); os.Exit(6) }
