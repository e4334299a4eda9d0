//go:build cgo

package cmd

import (
	"testing"

	"github.com/tagline-station/tagline/internal/pcscdtest"
	"github.com/tagline-station/tagline/reader/sim"
	"github.com/tagline-station/tagline/reader/vpcd"
)

// Two PC/SC lanes, one with an alias: the screen is given the names the
// lanes' events carry (a PC/SC lane used to be listed as pcsc:NAME and
// report as NAME, leaving a row stuck at "starting"), and --json names
// each result after its lane.
func TestPCSCLaneNamesAndAliases(t *testing.T) {
	d := pcscdtest.Setup(t, 2)
	c := newCLI(t)
	d.Insert(t, 0, sim.New(sim.Options{}), vpcd.Options{})
	d.Insert(t, 1, sim.New(sim.Options{}), vpcd.Options{})
	kf := c.write("master.key", testKeyHex, 0o600)
	c.must(0, "batch", "new", "--journal", "j.db", "--id", "b1", "--sku", "SKU-PCSC", "--target", "4", "--key-version", "1", "--template", demoTemplate, "--test")
	specs := "left=pcsc:" + d.ReaderName(0) + ",pcsc:" + d.ReaderName(1)
	checkUILaneNames(t, c, "encode", "--journal", "j.db", "--batch", "b1", "--readers", specs, "--count", "2", "--master-key-file", kf)

	// The same tags again: duplicates, each named after its lane.
	r := c.must(3, "encode", "--journal", "j.db", "--batch", "b1", "--readers", specs, "--count", "2", "--json", "--master-key-file", kf)
	names := map[string]int{}
	for _, l := range parseTagLines(t, r.stdout) {
		names[l.Reader]++
	}
	if names["left"] != 1 || names[d.ReaderName(1)] != 1 {
		t.Errorf("results per reader: %v", names)
	}
}
