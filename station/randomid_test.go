package station_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/reader/sim"
	"github.com/tagline-station/tagline/station"
)

// ridEncoded is a tag of a random-ID batch b1, encoded by the station.
func ridEncoded(t *testing.T, u []byte) (*fixture, *sim.Tag) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "j.db")
	s, err := batch.Open(path, batch.Options{StationID: "line-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateBatch(batch.Batch{ID: "b1", SKU: "SKU-1", Target: 10, Template: tmpl, KeyVersion: 1, RandomID: true}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	f := newFixture(t, path)
	tag := sim.New(sim.Options{UID: u})
	if res := f.st.Encode(context.Background(), connect(t, sim.NewReader("r"), tag), "r"); res.Outcome != manifest.Encoded || !tag.RandomID() {
		t.Fatalf("encode: %+v (random id %v)", res, tag.RandomID())
	}
	return f, tag
}

// A reset of a random-ID tag torn at any exchange is finished on the next
// presentation, also once the NDEF file that named the tag is empty: the
// tag answers a random UID and GetVersion names none, so the run asks its
// key 1, the one key of ours that does not depend on the UID, and then
// GetCardUID. No authentication fails, and the reclaim is journaled under
// the real UID.
func TestRandomIDResetTornAtEveryExchange(t *testing.T) {
	f, tag := ridEncoded(t, uid(1))
	clean := life(t, f, false).Reset(context.Background(), connect(t, sim.NewReader("r"), tag), "r")
	if clean.Outcome != manifest.Reclaimed || clean.UID != manifest.UIDOf(uid(1)) {
		t.Fatalf("%+v", clean)
	}
	for k := 0; k < clean.Exchanges; k++ {
		t.Run(fmt.Sprintf("after=%d", k), func(t *testing.T) {
			f, tag := ridEncoded(t, uid(2))
			l := life(t, f, false)
			res := tearLife(t, f, tag, false, k, func(c reader.Tag) station.LifeResult { return l.Reset(context.Background(), c, "r") })
			if res.Outcome != manifest.Reclaimed || !tag.IsReclaimed() || res.UID != manifest.UIDOf(uid(2)) {
				t.Fatalf("second attempt: %+v", res)
			}
		})
	}
}
