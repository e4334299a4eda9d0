package cmd

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/encoder"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/reader/sim"
	"github.com/tagline-station/tagline/sdm"
	"github.com/tagline-station/tagline/station"
)

// A tag torn by its removal and finished when presented again is encoded:
// the run exits 0 and counts one tag, not "1 of 2 tags not encoded".
func TestTallyTornTagFinishedLater(t *testing.T) {
	now := time.Now()
	uid := "04A1B2C3D4E5F6"
	torn := &station.Result{UID: manifest.UID(uid), Outcome: manifest.Failed, Err: &encoder.StepError{Step: encoder.StepJournal, Err: reader.ErrTagRemoved}}
	var tl tally
	tl.add(torn, now)
	tl.add(&station.Result{UID: "04000000000001", Outcome: manifest.Encoded}, now)
	if exitCode(tl.failureError()) != ExitTag {
		t.Fatalf("torn tag: %d", exitCode(tl.failureError()))
	}
	tl.add(&station.Result{UID: manifest.UID(uid), Outcome: manifest.Finished}, now)
	if err := tl.failureError(); err != nil || tl.Tags() != 2 || tl.Failed != 0 || tl.Passed != 2 || tl.Retried != 1 || tl.Total != 3 {
		t.Fatalf("after finishing: %v %+v", err, tl)
	}
	if s := tl.summary(); !strings.HasPrefix(s, "2 tags in ") || !strings.Contains(s, ": 2 passed (1 failed attempt retried)") {
		t.Errorf("summary %q", s)
	}
	// Failing again keeps one failed tag, with the code of the last attempt.
	var again tally
	again.add(torn, now)
	again.add(&station.Result{UID: manifest.UID(uid), Outcome: manifest.Failed, Err: &encoder.StepError{Step: encoder.StepReadBack, Err: fmt.Errorf("%w: mac", encoder.ErrReadBack)}}, now)
	if err := again.failureError(); exitCode(err) != ExitVerify || err.Error() != "1 of 1 tag not encoded" || again.Failed != 1 {
		t.Errorf("failed twice: %v %+v", err, again)
	}
}

// tearOnce is a sim reader whose tag leaves the field after `after`
// exchanges on its first visit and is presented again, whole, when the
// lane next waits for a tag: an operator pulling a tag away too early and
// putting it back.
type tearOnce struct {
	*sim.Reader
	tag   *sim.Tag
	waits int
}

func (r *tearOnce) WaitTag(ctx context.Context) (reader.Tag, error) {
	r.waits++
	if r.waits == 2 {
		r.Present(r.tag)
	}
	return r.Reader.WaitTag(ctx)
}

// Through the station's real run loop: the torn first attempt fails, the
// second finishes the tag, and the run is a success.
func TestRunStationTornThenFinished(t *testing.T) {
	dir := t.TempDir()
	store, err := batch.Open(filepath.Join(dir, "j.db"), batch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	b, err := store.CreateBatch(batch.Batch{ID: "b1", SKU: "SKU-1", Target: 5, Template: demoTemplate, KeyVersion: 1})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := keys.ParseMaster([]byte(testKeyHex))
	d, err := keys.NewDeriver(keys.SchemeTagline, m, 1)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, _ := sdm.ParseTemplate(demoTemplate)
	st, err := station.New(station.Config{Journal: store, Batch: b, Deriver: d, Template: tmpl})
	if err != nil {
		t.Fatal(err)
	}
	tag := sim.New(sim.Options{UID: []byte{0x04, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6}})
	rd := &tearOnce{Reader: sim.NewReader("sim-0"), tag: tag}
	rd.Present(tag)
	tag.RemoveAfter(6) // past the intent and the NDEF write, before the keys
	var out, info syncBuffer
	e := newEnv(strings.NewReader(""), &out, &info)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tl, err := e.runStation(ctx, runOptions{
		station: st, store: store, batch: b, count: 2, out: &out, info: &info,
		readers: &openedReaders{lanes: []*lane{{r: rd, name: "sim-0"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if !strings.HasPrefix(lines[0], "FAIL  04A1B2C3D4E5F6") || !strings.Contains(out.String(), "PASS  04A1B2C3D4E5F6") ||
		!strings.Contains(out.String(), "(finished an interrupted earlier attempt)") {
		t.Fatalf("the tag was not torn and then finished:\n%s", out.String())
	}
	if err := tl.failureError(); err != nil || tl.Tags() != 1 || tl.Passed != 1 || tl.Retried != 1 {
		t.Errorf("run: %v %+v\n%s", err, tl, out.String())
	}
	if s := tl.summary(); !strings.HasPrefix(s, "1 tag in ") || !strings.Contains(s, "1 passed (1 failed attempt retried)") {
		t.Errorf("summary %q", s)
	}
}

// A batch an older tagline created with a template that no backend can
// verify is not encoded: exit 2, and the hint says what to do with it.
func TestEncodeRefusesAnOldBatchWithAnUnverifiableTemplate(t *testing.T) {
	c := newCLI(t)
	store, err := batch.Open(c.path("j.db"), batch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateBatch(batch.Batch{ID: "old", SKU: "S", Target: 1, Template: "https://x.example/t#p={picc}&m={mac}", KeyVersion: 1}); err != nil {
		t.Fatal(err)
	}
	store.Close()
	kf := c.write("master.key", testKeyHex, 0o600)
	r := c.must(2, "encode", "--journal", "j.db", "--batch", "old", "--reader", "sim", "--count", "1", "--master-key-file", kf)
	if !strings.Contains(r.stderr, "tagline: batch old: bad url template: a fragment") ||
		!strings.Contains(r.stderr, "hint: no phone tap of a tag encoded with this template could be verified: close the batch") || r.stdout != "" {
		t.Errorf("%s", r)
	}
}
