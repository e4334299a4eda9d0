package qa_test

import (
	"context"
	"testing"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/qa"
	"github.com/tagline-station/tagline/reader/sim"
	"github.com/tagline-station/tagline/sdm"
	"github.com/tagline-station/tagline/station"
)

// Tags of a random-ID batch answer the reader with a random UID; QA
// takes the real one from the SUN message, passes them, and reports them
// under the UID the journal binds.
func TestPresentedRandomIDTagsPass(t *testing.T) {
	wd := newWorld(t)
	b, err := wd.w.CreateBatch(batch.Batch{ID: "b1", SKU: "SKU-1", Target: 100, Template: tmplRaw, KeyVersion: 1, RandomID: true})
	if err != nil {
		t.Fatal(err)
	}
	tp, _ := sdm.ParseTemplate(b.Template)
	st, err := station.New(station.Config{Journal: wd.w, Batch: b, Deriver: wd.d, Template: tp})
	if err != nil {
		t.Fatal(err)
	}
	real := uid(1, 1)
	tag := sim.New(sim.Options{UID: real})
	if res := st.Encode(context.Background(), wd.connect(tag), "sim0"); res.Outcome != manifest.Encoded || !tag.RandomID() {
		t.Fatalf("encode: %+v (random id %v)", res, tag.RandomID())
	}
	wd.r.Remove()
	v := wd.verifier(qa.Config{CheckKeys: true})
	res := wd.present(v, tag)
	wantPass(t, res)
	if res.UID != manifest.UIDOf(real) || res.BoundBatch != "b1" {
		t.Fatalf("result %+v", res)
	}
}
