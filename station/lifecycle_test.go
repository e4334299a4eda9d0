package station_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/reader/sim"
	"github.com/tagline-station/tagline/station"
)

func testMaster(t testing.TB) keys.Master {
	mb, _ := hex.DecodeString(masterHex)
	m, err := keys.NewMaster(mb)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// encoded returns a fixture with tag personalised and bound in batch b1.
func encoded(t *testing.T, u []byte) (*fixture, *sim.Tag) {
	t.Helper()
	f := newFixture(t, filepath.Join(t.TempDir(), "j.db"))
	tag := sim.New(sim.Options{UID: u})
	r := sim.NewReader("r")
	if res := f.st.Encode(context.Background(), connect(t, r, tag), "r"); res.Outcome != manifest.Encoded {
		t.Fatalf("encode: %+v", res)
	}
	return f, tag
}

func life(t *testing.T, f *fixture, rekey bool) *station.Life {
	t.Helper()
	b, err := f.store.GetBatch("b1")
	if err != nil {
		t.Fatal(err)
	}
	cfg := station.LifeConfig{Journal: f.store, Master: testMaster(t), Batch: &b, ToVersion: 2}
	if !rekey {
		cfg.Batch, cfg.ToVersion = nil, 0
	}
	l, err := station.NewLife(cfg, rekey)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func keysAt(t testing.TB, u []byte, v byte) [5]keys.Key {
	d, err := keys.NewDeriver(keys.SchemeTagline, testMaster(t), v)
	if err != nil {
		t.Fatal(err)
	}
	ks, _ := d.Tag(u)
	return ks.Keys
}

func failSum(tag *sim.Tag) (n int) {
	for _, c := range tag.Snapshot().TotFailCtr {
		n += c
	}
	return n
}

// TestLifeRekeyJournals: a rekey journals the new key version as a new
// binding with a higher seq, and the tag verifies with it.
func TestLifeRekeyJournals(t *testing.T) {
	u := uid(1)
	f, tag := encoded(t, u)
	l := life(t, f, true)
	res := l.Rekey(context.Background(), connect(t, sim.NewReader("r"), tag), "r")
	if res.Outcome != manifest.Rekeyed || res.From != 1 || res.To != 2 || res.Slots != "0101010101" {
		t.Fatalf("%+v", res)
	}
	bd, _, _ := f.store.Lookup(res.UID)
	if bd.KeyVersion != 2 || bd.Seq != 2 || !tag.IsPersonalisedWith(keysAt(t, u, 2)) {
		t.Fatalf("binding %+v", bd)
	}
	res = l.Rekey(context.Background(), connect(t, sim.NewReader("r"), tag), "r")
	if res.Outcome != manifest.AlreadyDone || failSum(tag) != 0 {
		t.Fatalf("again: %+v", res)
	}
}

// TestLifeRefusesWhatIsNotOurs: a tag the journal does not know is
// refused by rekey and quarantined by reset, untouched, no key tried.
func TestLifeRefusesWhatIsNotOurs(t *testing.T) {
	f, _ := encoded(t, uid(1))
	stranger := sim.New(sim.Options{UID: uid(9)})
	res := life(t, f, true).Rekey(context.Background(), connect(t, sim.NewReader("r"), stranger), "r")
	if res.Outcome != manifest.Refused {
		t.Fatalf("rekey: %+v", res)
	}
	res = life(t, f, false).Reset(context.Background(), connect(t, sim.NewReader("r"), stranger), "r")
	if res.Outcome != manifest.Quarantined {
		t.Fatalf("reset: %+v", res)
	}
	if !stranger.IsFactoryFresh() || failSum(stranger) != 0 {
		t.Fatal("the unknown tag was touched")
	}
	if ops, _ := f.store.OpenOps(); len(ops) != 0 {
		t.Fatalf("operations journaled for a refused tag: %+v", ops)
	}
}

// tearLife runs flow on tag with the tag leaving after k exchanges (or
// during the k+1-th), checks the journal holds the operation open when
// the tag may have changed, then presents it again and returns that
// result.
func tearLife(t *testing.T, f *fixture, tag *sim.Tag, during bool, k int, flow func(reader.Tag) station.LifeResult) station.LifeResult {
	t.Helper()
	r := sim.NewReader("r")
	r.Present(tag)
	if during {
		tag.RemoveDuring(k + 1)
	} else {
		tag.RemoveAfter(k)
	}
	c, _ := r.WaitTag(context.Background())
	first := flow(c)
	if first.Outcome != manifest.Failed {
		t.Fatalf("first attempt: %+v", first)
	}
	res := flow(connect(t, sim.NewReader("r"), tag))
	if n := failSum(tag); n != 0 {
		t.Fatalf("%d failed authentications", n)
	}
	if ops, _ := f.store.OpenOps(); len(ops) != 0 {
		t.Fatalf("operation still open after the second attempt: %+v", ops)
	}
	return res
}

// TestLifeRekeyTornAtEveryExchange: wherever the tag leaves, the next
// presentation finishes the rekey and the journal binds version 2.
func TestLifeRekeyTornAtEveryExchange(t *testing.T) {
	f, tag := encoded(t, uid(1))
	clean := life(t, f, true).Rekey(context.Background(), connect(t, sim.NewReader("r"), tag), "r")
	for _, during := range []bool{false, true} {
		for k := 0; k < clean.Exchanges; k++ {
			t.Run(fmt.Sprintf("during=%v/after=%d", during, k), func(t *testing.T) {
				u := uid(2)
				f, tag := encoded(t, u)
				l := life(t, f, true)
				res := tearLife(t, f, tag, during, k, func(c reader.Tag) station.LifeResult { return l.Rekey(context.Background(), c, "r") })
				if res.Outcome != manifest.Rekeyed {
					t.Fatalf("second attempt: %+v", res)
				}
				if bd, _, _ := f.store.Lookup(res.UID); bd.KeyVersion != 2 || !tag.IsPersonalisedWith(keysAt(t, u, 2)) {
					t.Fatalf("binding %+v", bd)
				}
			})
		}
	}
}

// TestLifeResetTornAtEveryExchange: wherever the tag leaves, the next
// presentation finishes the reset and the journal records the reclaim.
func TestLifeResetTornAtEveryExchange(t *testing.T) {
	f, tag := encoded(t, uid(1))
	clean := life(t, f, false).Reset(context.Background(), connect(t, sim.NewReader("r"), tag), "r")
	if clean.Outcome != manifest.Reclaimed {
		t.Fatalf("%+v", clean)
	}
	for _, during := range []bool{false, true} {
		for k := 0; k < clean.Exchanges; k++ {
			t.Run(fmt.Sprintf("during=%v/after=%d", during, k), func(t *testing.T) {
				f, tag := encoded(t, uid(2))
				l := life(t, f, false)
				res := tearLife(t, f, tag, during, k, func(c reader.Tag) station.LifeResult { return l.Reset(context.Background(), c, "r") })
				if res.Outcome != manifest.Reclaimed || !tag.IsReclaimed() {
					t.Fatalf("second attempt: %+v", res)
				}
				if _, ok, _ := f.store.Reclaimed(res.UID); !ok {
					t.Fatal("no reclaim journaled")
				}
			})
		}
	}
}
