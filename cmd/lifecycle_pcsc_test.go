//go:build cgo

package cmd

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tagline-station/tagline/internal/pcscdtest"
)

// One tag served by tagline sim through a private pcscd's vpcd reader is
// encoded, rekeyed (named with --readers, one lane) and reset over the
// real PC/SC stack, each command a separate process run on the same tag.
func TestRekeyAndResetThroughPCSC(t *testing.T) {
	d := pcscdtest.Start(t, 2)
	d.Setenv(t)
	c := newCLI(t)
	name := d.ReaderName(0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sc := *c
	sc.ctx, sc.stdout = ctx, &syncBuffer{}
	inserted := sc.stdout.when("the tag stays in the reader")
	simDone := make(chan result, 1)
	go func() { simDone <- sc.run("sim", "--vpcd", d.Addr(0), "--uid", "04B1B2C3D4E5F7") }()
	waitOrFail(t, inserted, 20*time.Second, "sim to insert its tag")

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

	cancel()
	select {
	case r := <-simDone:
		if r.code != 0 || !strings.Contains(r.stdout, "removed tag 04B1B2C3D4E5F7 (personalised, key version 1,") {
			t.Errorf("sim: %s", r)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("sim did not stop")
	}
}
