//go:build cgo

package cmd

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tagline-station/tagline/internal/pcscdtest"
	"github.com/tagline-station/tagline/reader/sim"
	"github.com/tagline-station/tagline/reader/vpcd"
)

// The same through pcscd and vpcd with two readers: while the station
// holds the journal (both tags encoded, both lanes waiting for the next),
// batch show, batch export and journal check read a copy, and what they
// say is what the journal holds once the station has stopped.
func TestReadersWorkWhileAPCSCStationRuns(t *testing.T) {
	d := pcscdtest.Setup(t, 2)
	c := newCLI(t)
	for i := range 2 {
		d.Insert(t, i, sim.New(sim.Options{}), vpcd.Options{})
	}
	kf := c.write("master.key", testKeyHex, 0o600)
	c.must(0, "batch", "new", "--journal", "j.db", "--id", "b1", "--sku", "SKU-PCSC", "--target", "10", "--key-version", "1", "--template", demoTemplate, "--test")

	s := startStation(t, c, "--journal", "j.db", "--batch", "b1", "--readers",
		"left=pcsc:"+d.ReaderName(0)+",right=pcsc:"+d.ReaderName(1), "--json", "--master-key-file", kf)
	passed, _ := s.passes(2)

	show := c.must(0, "batch", "show", "b1", "--journal", "j.db", "--json")
	var during struct {
		Stats struct{ Done int } `json:"stats"`
	}
	if err := json.Unmarshal([]byte(show.stdout), &during); err != nil || during.Stats.Done != 2 {
		t.Fatalf("batch show during the run: %v, done %d", err, during.Stats.Done)
	}
	exp := c.must(0, "batch", "export", "b1", "--journal", "j.db", "--format", "jsonl")
	if !strings.Contains(exp.stderr, "reading a copy taken now") {
		t.Errorf("export did not read a copy: %s", exp.stderr)
	}
	c.must(0, "journal", "check", "--journal", "j.db")

	if r := s.stop(); r.code != ExitOK {
		t.Fatalf("encode: exit %d\n%s", r.code, r)
	}
	final := c.must(0, "batch", "export", "b1", "--journal", "j.db", "--format", "jsonl")
	if got, want := exportRecords(exp.stdout), exportRecords(final.stdout); strings.Join(got, "") != strings.Join(want, "") || len(got) != len(passed) {
		t.Errorf("export during the run (%d records) differs from the final one (%d), %d PASS seen", len(got), len(want), len(passed))
	}
}
