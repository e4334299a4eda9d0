//go:build cgo

package cmd

import (
	"strings"
	"testing"

	"github.com/tagline-station/tagline/internal/pcscdtest"
)

// One tag served by tagline sim through a private pcscd's vpcd reader is
// encoded, rekeyed (named with --readers, one lane) and reset over the
// real PC/SC stack, each command a separate process run on the same tag.
func TestRekeyAndResetThroughPCSC(t *testing.T) {
	d := pcscdtest.Setup(t, 2)
	c := newCLI(t)
	name := d.ReaderName(0)
	stopSim := simInReader(t, c, d.Addr(0), "04B1B2C3D4E5F7")

	kf := c.write("master.key", testKeyHex, 0o600)
	c.must(0, "batch", "new", "--journal", "j.db", "--id", "b1", "--sku", "SKU-PCSC", "--target", "1", "--key-version", "1", "--template", demoTemplate, "--test")
	c.must(0, "encode", "--journal", "j.db", "--batch", "b1", "--reader", "pcsc:"+name, "--count", "1", "--json", "--master-key-file", kf)

	r := c.must(0, "rekey", "--journal", "j.db", "--batch", "b1", "--to-version", "2", "--readers", "pcsc:"+name, "--count", "1", "--json", "--master-key-file", kf)
	ls := parseLifeLines(t, r.stdout)
	if len(ls) != 1 || ls[0].UID != "04B1B2C3D4E5F7" || ls[0].Outcome != "rekeyed" || ls[0].Reader != name {
		t.Fatalf("rekey: %+v", ls)
	}
	if v, err := checkSUN(keysFromFile(t, kf, "tagline", 2), ls[0].URL); err != nil || v.UID != "04B1B2C3D4E5F7" {
		t.Errorf("rekeyed url: %v %+v", err, v)
	}
	r = c.must(0, "reset", "--journal", "j.db", "--reader", name, "--count", "1", "--json", "--master-key-file", kf)
	if ls = parseLifeLines(t, r.stdout); len(ls) != 1 || ls[0].Outcome != "reset" || ls[0].FromVersion != 2 {
		t.Fatalf("reset: %+v", ls)
	}
	// The reset tag is factory: encode takes it again as a rework.
	c.must(0, "encode", "--journal", "j.db", "--batch", "b1", "--reader", name, "--count", "1", "--json", "--over-target", "--master-key-file", kf)
	c.must(0, "journal", "check", "--journal", "j.db")

	if r := stopSim(); r.code != 0 || !strings.Contains(r.stdout, "removed tag 04B1B2C3D4E5F7 (personalised, key version 1,") {
		t.Errorf("sim: %s", r)
	}
}
