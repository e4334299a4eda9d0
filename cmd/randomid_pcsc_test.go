//go:build cgo

package cmd

import (
	"strings"
	"testing"

	"github.com/tagline-station/tagline/internal/pcscdtest"
)

// A tag of a random-ID batch, served by tagline sim through a private
// pcscd's vpcd reader (which reports no UID), is encoded with random ID
// on, then rekeyed and reset by its real UID, each a separate process;
// random ID stays on after the reset, as it does on a real chip.
func TestRandomIDThroughPCSC(t *testing.T) {
	d := pcscdtest.Setup(t, 1)
	c := newCLI(t)
	name := d.ReaderName(0)
	stopSim := simInReader(t, c, d.Addr(0), "04B1B2C3D4E5F8")

	kf := c.write("master.key", testKeyHex, 0o600)
	c.must(0, "batch", "new", "--journal", "j.db", "--id", "b1", "--sku", "SKU-PCSC", "--target", "1", "--key-version", "1",
		"--template", demoTemplate, "--test", "--random-id", "--yes")
	ls := parseTagLines(t, c.must(0, "encode", "--journal", "j.db", "--batch", "b1", "--reader", "pcsc:"+name, "--count", "1", "--json", "--master-key-file", kf).stdout)
	if len(ls) != 1 || ls[0].UID != "04B1B2C3D4E5F8" || ls[0].Outcome != "encoded" {
		t.Fatalf("encode: %+v", ls)
	}
	// Presented again: already encoded, found by the real UID.
	c.must(3, "encode", "--journal", "j.db", "--batch", "b1", "--reader", "pcsc:"+name, "--count", "1", "--json", "--over-target", "--master-key-file", kf)

	r := c.must(0, "rekey", "--journal", "j.db", "--batch", "b1", "--to-version", "2", "--readers", "pcsc:"+name, "--count", "1", "--json", "--master-key-file", kf)
	if ll := parseLifeLines(t, r.stdout); len(ll) != 1 || ll[0].UID != "04B1B2C3D4E5F8" || ll[0].Outcome != "rekeyed" {
		t.Fatalf("rekey: %+v", ll)
	}
	r = c.must(0, "reset", "--journal", "j.db", "--reader", name, "--count", "1", "--json", "--master-key-file", kf)
	if ll := parseLifeLines(t, r.stdout); len(ll) != 1 || ll[0].Outcome != "reset" || ll[0].FromVersion != 2 {
		t.Fatalf("reset: %+v", ll)
	}
	c.must(0, "journal", "check", "--journal", "j.db")

	if r := stopSim(); r.code != 0 || !strings.Contains(r.stdout, "removed tag 04B1B2C3D4E5F8 (") || !strings.Contains(r.stdout, "random id on") {
		t.Errorf("sim: %s", r)
	}
}
