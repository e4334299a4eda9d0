package station_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/encoder"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/reader/sim"
	"github.com/tagline-station/tagline/station"
)

// genuineFixture is the fixture's batch at a station that trusts NXP's key
// and the simulator's test key, as cmd sets it up for the sim reader.
func genuineFixture(t *testing.T) (*fixture, *station.Station) {
	t.Helper()
	f := newFixture(t, filepath.Join(t.TempDir(), "j.db"))
	cfg := f.cfg
	cfg.Genuine = []*ecdsa.PublicKey{encoder.NXPOriginalityKey(), sim.OriginalityTestKey()}
	st, err := station.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f, st
}

// A chip whose originality signature fails is a FAIL that says "not a
// genuine NXP chip" with the hint to set it aside: nothing is written,
// no intent is opened, and the journal counts it as a failure before any
// intent. A simulated tag with its own signature passes the same station.
func TestNotGenuineChipIsRefusedAndCounted(t *testing.T) {
	ctx := context.Background()
	f, st := genuineFixture(t)
	r := sim.NewReader("sim0")
	good := sim.New(sim.Options{UID: uid(1)})
	if res := st.Encode(ctx, connect(t, r, good), "sim0"); res.Outcome != manifest.Encoded {
		t.Fatalf("a simulated tag with its own signature: %+v", res)
	}
	// One flipped bit of the genuine signature of another tag's UID.
	donor := sim.New(sim.Options{UID: uid(3)})
	sig := sim.SignOriginality(testSigner(t), uid(2))
	copied := readSigOf(t, donor)
	flipped := bytes.Clone(copied)
	flipped[0] ^= 0x80
	for i, forged := range [][]byte{copied, flipped, sig} {
		tag := sim.New(sim.Options{UID: uid(2)})
		tag.SetOriginalitySignature(forged)
		res := st.Encode(ctx, connect(t, r, tag), "sim0")
		if res.Outcome != manifest.Failed || !errors.Is(res.Err, encoder.ErrNotGenuine) {
			t.Fatalf("forgery %d: %+v", i, res)
		}
		if !strings.HasPrefix(res.Reason, "not a genuine NXP chip") || !strings.Contains(res.Hint, "set this tag aside") {
			t.Errorf("forgery %d: reason %q hint %q", i, res.Reason, res.Hint)
		}
		if !tag.IsFactoryFresh() || sumFail(tag) != 0 {
			t.Errorf("forgery %d: written %v, failed authentications %d", i, !tag.IsFactoryFresh(), sumFail(tag))
		}
	}
	if its, _ := f.store.OpenIntents(); len(its) != 0 {
		t.Fatalf("intents %+v", its)
	}
	stats, err := f.store.Stats("b1")
	if err != nil {
		t.Fatal(err)
	}
	if want := (batch.BatchStats{Done: 1, Failed: 3, Target: 10}); stats != want {
		t.Fatalf("stats %+v, want %+v", stats, want)
	}
}

// NXP's key alone (a real reader's lane) refuses the simulator's tags.
func TestRealReaderLaneRefusesSimulatedSignature(t *testing.T) {
	f := newFixture(t, filepath.Join(t.TempDir(), "j.db"))
	cfg := f.cfg
	cfg.Genuine = []*ecdsa.PublicKey{encoder.NXPOriginalityKey()}
	st, err := station.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tag := sim.New(sim.Options{UID: uid(1)})
	res := st.Encode(context.Background(), connect(t, sim.NewReader("sim0"), tag), "sim0")
	if res.Outcome != manifest.Failed || !errors.Is(res.Err, encoder.ErrNotGenuine) || !tag.IsFactoryFresh() {
		t.Fatalf("%+v", res)
	}
}

func testSigner(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(encoder.NXPOriginalityKey().Curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func readSigOf(t *testing.T, tag *sim.Tag) []byte {
	t.Helper()
	c := encoder.New(connect(t, sim.NewReader("donor"), tag), encoder.Options{})
	if err := c.SelectApplication(context.Background()); err != nil {
		t.Fatal(err)
	}
	sig, err := c.ReadSig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return sig
}
