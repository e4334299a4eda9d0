//go:build cgo

package cmd

import (
	"strings"
	"testing"
	"time"

	"github.com/tagline-station/tagline/internal/pcscdtest"
	"github.com/tagline-station/tagline/sdm"
)

// A TT tag served by tagline sim through a private pcscd is encoded with a
// {tt} template and verified with its loop closed; sim then cuts the loop
// (--open-loop-after) and the next verification reports it opened.
func TestTagTamperThroughPCSC(t *testing.T) {
	d := pcscdtest.Setup(t, 1)
	c := newCLI(t)
	name := d.ReaderName(0)
	const openAfter = 3 * time.Second
	start := time.Now()
	stopSim := simInReader(t, c, d.Addr(0), "04B1B2C3D4E5F9", "--tt", "--open-loop-after", openAfter.String())

	kf := c.write("master.key", testKeyHex, 0o600)
	c.must(0, "batch", "new", "--journal", "j.db", "--id", "b1", "--sku", "SKU-TT", "--target", "1", "--key-version", "1",
		"--template", "https://sdm.tagline.example/tagtt?picc_data={picc}&enc={tt}&cmac={mac}", "--test")
	c.must(0, "encode", "--journal", "j.db", "--batch", "b1", "--reader", "pcsc:"+name, "--count", "1", "--json", "--master-key-file", kf)
	verify := func() string {
		r := c.must(0, "verify", "--journal", "j.db", "--batch", "b1", "--reader", "pcsc:"+name, "--master-key-file", kf, "--json",
			"--state", c.path("qa-"+time.Now().Format("150405.000")+".json"))
		rep := parseReport(t, r.stdout)
		if len(rep.Results) == 0 {
			t.Fatalf("no result: %s", r.stdout)
		}
		return string(rep.Results[0].Tamper)
	}
	// Closed before the cut; a verification that ran past the cut may
	// see it opened already.
	if got := verify(); got != string(sdm.TamperClosed) && !(got == string(sdm.TamperOpened) && time.Since(start) >= openAfter) {
		t.Fatalf("before the cut: tamper %q", got)
	}
	time.Sleep(time.Until(start.Add(openAfter + 500*time.Millisecond)))
	if got := verify(); got != string(sdm.TamperOpened) {
		t.Fatalf("after the cut: tamper %q", got)
	}
	if r := stopSim(); r.code != 0 || !strings.Contains(r.stdout, "tamper status OO") {
		t.Errorf("sim: %s", r)
	}
}
