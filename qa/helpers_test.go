package qa_test

import (
	"context"
	"encoding/hex"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/encoder"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/qa"
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/reader/sim"
	"github.com/tagline-station/tagline/sdm"
	"github.com/tagline-station/tagline/station"
)

const (
	masterHex = "00112233445566778899AABBCCDDEEFF"
	tmplRaw   = "https://brand.example/t?picc_data={picc}&enc={enc}&cmac={mac}"
)

func uid(batchNo, n byte) []byte { return []byte{0x04, 0x51, 0xA0, batchNo, 0x00, 0x00, n} }

func deriver(t testing.TB, version byte) *keys.Deriver {
	t.Helper()
	mb, _ := hex.DecodeString(masterHex)
	m, err := keys.NewMaster(mb)
	if err != nil {
		t.Fatal(err)
	}
	d, err := keys.NewDeriver(keys.SchemeTagline, m, version)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// world is a journal written by the real station with simulated tags,
// then reopened read-only for QA, as `tagline verify` opens it.
type world struct {
	t       *testing.T
	path    string
	w       *batch.Store // writer, nil once QA opened the journal
	ro      *batch.Store
	d       *keys.Deriver
	tmpl    *sdm.Template
	r       *sim.Reader
	tags    map[string]*sim.Tag
	encoded map[string]string // uid -> URL the station read back
	clock   time.Time
}

func newWorld(t *testing.T) *world {
	t.Helper()
	path := filepath.Join(t.TempDir(), "journal.db")
	w, err := batch.Open(path, batch.Options{StationID: "line-1"})
	if err != nil {
		t.Fatal(err)
	}
	tp, err := sdm.ParseTemplate(tmplRaw)
	if err != nil {
		t.Fatal(err)
	}
	wd := &world{t: t, path: path, w: w, d: deriver(t, 1), tmpl: tp, r: sim.NewReader("sim0"),
		tags: map[string]*sim.Tag{}, encoded: map[string]string{},
		clock: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)}
	t.Cleanup(func() {
		if wd.w != nil {
			wd.w.Close()
		}
		if wd.ro != nil {
			wd.ro.Close()
		}
	})
	return wd
}

func (wd *world) now() time.Time {
	wd.clock = wd.clock.Add(time.Second)
	return wd.clock
}

func (wd *world) batch(id, sku string) batch.Batch {
	wd.t.Helper()
	b, err := wd.w.CreateBatch(batch.Batch{ID: id, SKU: sku, Target: 100, Template: tmplRaw, KeyVersion: 1})
	if err != nil {
		wd.t.Fatal(err)
	}
	return b
}

// encode personalises fresh simulated tags with the station and journals
// them in batch b.
func (wd *world) encode(b batch.Batch, uids ...[]byte) []*sim.Tag {
	wd.t.Helper()
	tp, _ := sdm.ParseTemplate(b.Template)
	st, err := station.New(station.Config{Journal: wd.w, Batch: b, Deriver: wd.d, Template: tp})
	if err != nil {
		wd.t.Fatal(err)
	}
	var out []*sim.Tag
	for _, u := range uids {
		tag := sim.New(sim.Options{UID: u})
		res := st.Encode(context.Background(), wd.connect(tag), "sim0")
		if res.Outcome != manifest.Encoded {
			wd.t.Fatalf("encode %X: %+v", u, res)
		}
		wd.tags[string(res.UID)] = tag
		wd.encoded[string(res.UID)] = res.URL
		out = append(out, tag)
	}
	wd.r.Remove()
	return out
}

// personaliseUnjournaled writes our keys and template to a tag without
// the station, so that no journal knows it.
func (wd *world) personaliseUnjournaled(u []byte) *sim.Tag {
	wd.t.Helper()
	tag := sim.New(sim.Options{UID: u})
	job := encoder.Job{Deriver: wd.d, Template: wd.tmpl, EncData: station.DefaultEncData("SKU-1"), ReaderUID: u}
	if _, err := encoder.Personalise(context.Background(), wd.connect(tag), job, encoder.Options{}); err != nil {
		wd.t.Fatal(err)
	}
	wd.r.Remove()
	return tag
}

func (wd *world) connect(tag *sim.Tag) reader.Tag {
	wd.t.Helper()
	wd.r.Present(tag)
	c, err := wd.r.WaitTag(context.Background())
	if err != nil {
		wd.t.Fatal(err)
	}
	return c
}

// phoneRead reads a tag as a phone does and returns the URL it shows.
func (wd *world) phoneRead(tag *sim.Tag) string {
	wd.t.Helper()
	url, err := qa.ReadURL(context.Background(), wd.connect(tag))
	if err != nil {
		wd.t.Fatal(err)
	}
	wd.r.Remove()
	return url
}

// journal closes the writer and opens the journal read-only for QA.
func (wd *world) journal() *batch.Store {
	wd.t.Helper()
	if wd.ro != nil {
		return wd.ro
	}
	if err := wd.w.Close(); err != nil {
		wd.t.Fatal(err)
	}
	wd.w = nil
	ro, err := batch.Open(wd.path, batch.Options{ReadOnly: true})
	if err != nil {
		wd.t.Fatal(err)
	}
	wd.ro = ro
	return ro
}

func (wd *world) verifier(cfg qa.Config) *qa.Verifier {
	wd.t.Helper()
	v, err := wd.newVerifier(cfg)
	if err != nil {
		wd.t.Fatal(err)
	}
	return v
}

func (wd *world) newVerifier(cfg qa.Config) (*qa.Verifier, error) {
	if cfg.Journal == nil {
		cfg.Journal = wd.journal()
	}
	if cfg.BatchID == "" {
		cfg.BatchID = "b1"
	}
	if cfg.Deriver == nil {
		cfg.Deriver = wd.d
	}
	if cfg.StatePath == "" {
		cfg.StatePath = filepath.Join(wd.t.TempDir(), "qa-state.json")
	}
	if cfg.Now == nil {
		cfg.Now = wd.now
	}
	return qa.New(cfg)
}

func (wd *world) present(v *qa.Verifier, tag *sim.Tag) qa.TagResult {
	wd.t.Helper()
	res, err := v.VerifyTag(context.Background(), wd.connect(tag))
	if err != nil {
		wd.t.Fatal(err)
	}
	wd.r.Remove()
	return res
}

func verifyURL(t *testing.T, v *qa.Verifier, url string) qa.TagResult {
	t.Helper()
	res, err := v.VerifyURL(url)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func wantPass(t *testing.T, res qa.TagResult) {
	t.Helper()
	if res.Verdict != qa.Pass || res.Reason != "" || len(res.Reasons) != 0 {
		t.Fatalf("want pass, got %+v", res)
	}
}

func wantFail(t *testing.T, res qa.TagResult, r qa.Reason) {
	t.Helper()
	if res.Verdict != qa.Fail || res.Reason != r {
		t.Fatalf("want %s, got %+v", r, res)
	}
}

func finish(t *testing.T, v *qa.Verifier) *qa.Report {
	t.Helper()
	rep, err := v.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func isErr(err, target error) bool { return errors.Is(err, target) }
