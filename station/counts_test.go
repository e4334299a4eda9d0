package station_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/reader/sim"
)

// The journal's counts agree with what the station reported: a tag found
// bound before any intent is a duplicate, a tag that failed before any
// intent is a failure, a tag that failed after its intent is counted once.
func TestStatsCountWhatTheStationReported(t *testing.T) {
	f := newFixture(t, filepath.Join(t.TempDir(), "j.db"))
	r := sim.NewReader("sim0")
	done := sim.New(sim.Options{UID: uid(1)})
	seen := map[manifest.Outcome]int{}
	encode := func(tag *sim.Tag) {
		res := f.st.Encode(context.Background(), connect(t, r, tag), "sim0")
		seen[res.Outcome]++
	}
	encode(done)
	encode(done) // already bound: a duplicate, found before any intent
	early := sim.New(sim.Options{UID: uid(2)})
	early.RemoveAfter(3) // gone during authentication: failed before any intent
	encode(early)
	torn := sim.New(sim.Options{UID: uid(3)})
	torn.RemoveDuring(8) // gone after the intent: FailIntent counts it
	encode(torn)
	if seen[manifest.Encoded] != 1 || seen[manifest.Duplicate] != 1 || seen[manifest.Failed] != 2 {
		t.Fatalf("the station reported %v", seen)
	}
	st, err := f.store.Stats("b1")
	if err != nil {
		t.Fatal(err)
	}
	if want := (batch.BatchStats{Done: 1, Failed: 2, Duplicates: 1, OpenIntents: 1, Target: 10}); st != want {
		t.Fatalf("stats %+v, want %+v (the station reported %v)", st, want, seen)
	}
}
