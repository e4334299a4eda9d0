package station_test

import (
	"context"
	"encoding/hex"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/encoder"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/reader/sim"
	"github.com/tagline-station/tagline/sdm"
	"github.com/tagline-station/tagline/station"
)

// withMaster is the fixture's batch at a station with another master key.
func withMaster(t *testing.T, f *fixture, masterHex string, b batch.Batch) *station.Station {
	t.Helper()
	mb, _ := hex.DecodeString(masterHex)
	m, _ := keys.NewMaster(mb)
	d, err := keys.NewDeriver(keys.SchemeTagline, m, b.KeyVersion)
	if err != nil {
		t.Fatal(err)
	}
	cfg := f.cfg
	cfg.Batch, cfg.Deriver = b, d
	cfg.Template, _ = sdm.ParseTemplate(b.Template)
	st, err := station.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func sumFail(tag *sim.Tag) (s int) {
	for _, v := range tag.Snapshot().TotFailCtr {
		s += v
	}
	return s
}

// TestBlankTagWithBoundUIDIsNotAlreadyDone is issue 10 item 10: a factory
// tag whose UID the journal has bound is not "ALREADY DONE"; the tag is
// not the one that was bound.
func TestBlankTagWithBoundUIDIsNotAlreadyDone(t *testing.T) {
	f := newFixture(t, filepath.Join(t.TempDir(), "j.db"))
	r := sim.NewReader("sim0")
	if res := f.st.Encode(context.Background(), connect(t, r, sim.New(sim.Options{UID: uid(1)})), "sim0"); res.Outcome != manifest.Encoded {
		t.Fatalf("%+v", res)
	}
	blank := sim.New(sim.Options{UID: uid(1)})
	res := f.st.Encode(context.Background(), connect(t, r, blank), "sim0")
	if res.Outcome != manifest.Failed || !errors.Is(res.Err, station.ErrBoundButBlank) {
		t.Fatalf("outcome %s, err %v", res.Outcome, res.Err)
	}
	if !strings.Contains(res.Reason, "binds "+string(res.UID)) || !strings.Contains(res.Reason, "factory key") || !strings.Contains(res.Reason, "cloned uid or a tag reset elsewhere") {
		t.Errorf("reason %q", res.Reason)
	}
	if !strings.Contains(res.Hint, "set this tag aside and report it") {
		t.Errorf("hint %q", res.Hint)
	}
	if !blank.IsFactoryFresh() {
		t.Error("the blank tag was written")
	}
	if its, _ := f.store.OpenIntents(); len(its) != 0 {
		t.Fatalf("intents %+v", its)
	}
}

// TestRefusalsSayWhoseTagItIs is issue 10 item 10 (and item 6 at the
// station): our own tag of an earlier key version is done, not "another
// system's"; a foreign tag with our key version is another system's and
// does not point at our master key file; a tag this journal bound with
// another master key does; a half-keyed tag of another station says so.
func TestRefusalsSayWhoseTagItIs(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, filepath.Join(t.TempDir(), "j.db"))
	r := sim.NewReader("sim0")

	// Our tag of batch b1 (key version 1) at a batch of key version 2.
	ours := sim.New(sim.Options{UID: uid(1)})
	if res := f.st.Encode(ctx, connect(t, r, ours), "sim0"); res.Outcome != manifest.Encoded {
		t.Fatalf("%+v", res)
	}
	b2, err := f.store.CreateBatch(batch.Batch{ID: "b2", SKU: "SKU-2", Target: 10, Template: tmpl, KeyVersion: 2})
	if err != nil {
		t.Fatal(err)
	}
	st2 := withMaster(t, f, masterHex, b2)
	res := st2.Encode(ctx, connect(t, r, ours), "sim0")
	if res.Outcome != manifest.Duplicate || !strings.Contains(res.Reason, "batch b1 with key version 1") || strings.Contains(res.Reason, "another system") {
		t.Errorf("older key version: %s %q %q", res.Outcome, res.Reason, res.Hint)
	}

	// A foreign tag that also uses key version 1.
	p := sim.Personalisation{}
	for n := range p.Keys {
		p.Keys[n], _ = keys.NewKey([]byte(strings.Repeat(string(rune('a'+n)), 16)))
		p.Versions[n] = 1
	}
	other, _ := sdm.ParseTemplate("https://other.example/v?d={picc}&s={mac}")
	p.NDEF, _ = other.NDEF(nil)
	foreign, err := sim.NewPersonalised(sim.Options{UID: uid(2)}, p)
	if err != nil {
		t.Fatal(err)
	}
	res = f.st.Encode(ctx, connect(t, r, foreign), "sim0")
	if res.Outcome != manifest.Failed || !strings.HasPrefix(res.Reason, "tag belongs to another system") || strings.Contains(res.Hint, "master key file") {
		t.Errorf("foreign version 1: %s %q %q", res.Outcome, res.Reason, res.Hint)
	}
	if sumFail(foreign) != 0 {
		t.Errorf("%d failed authentications on the foreign tag", sumFail(foreign))
	}

	// A tag this journal bound, presented to the station with another
	// master key: that, and only that, is the master key file's fault.
	wrong := withMaster(t, f, "0F0E0D0C0B0A09080706050403020100", f.cfg.Batch)
	res = wrong.Encode(ctx, connect(t, r, ours), "sim0")
	if res.Outcome != manifest.Failed || !strings.Contains(res.Reason, "KCV "+f.cfg.Deriver.MasterKCV()) || !strings.Contains(res.Hint, "check the master key file") {
		t.Errorf("wrong master: %s %q %q", res.Outcome, res.Reason, res.Hint)
	}
	if sumFail(ours) != 0 {
		t.Errorf("%d failed authentications on our tag", sumFail(ours))
	}

	// A tag torn at another station (its own journal, another master key,
	// key version 1) after ChangeKey 3.
	elsewhere := newFixture(t, filepath.Join(t.TempDir(), "other.db"))
	otherStation := withMaster(t, elsewhere, "0F0E0D0C0B0A09080706050403020100", elsewhere.cfg.Batch)
	var half *sim.Tag
	for k := 1; ; k++ {
		half = sim.New(sim.Options{UID: uid(3)})
		half.RemoveAfter(k)
		if res := otherStation.Encode(ctx, connect(t, r, half), "sim0"); res.Outcome == manifest.Encoded {
			t.Fatal("no tear left keys 1-3 changed")
		}
		if half.Snapshot().KeyVersion == [5]byte{0, 1, 1, 1, 0} {
			break
		}
	}
	before := half.Snapshot()
	res = f.st.Encode(ctx, connect(t, r, half), "sim0")
	if res.Outcome != manifest.Failed || !errors.Is(res.Err, encoder.ErrHalfKeyed) || !strings.Contains(res.Hint, "another station's unfinished work") {
		t.Errorf("half-keyed: %s %v %q", res.Outcome, res.Err, res.Hint)
	}
	after := half.Snapshot()
	if after.KeyKCV != before.KeyKCV || after.KeyVersion != before.KeyVersion || sumFail(half) != 0 {
		t.Error("the half-keyed tag was changed or an authentication failed")
	}
}
