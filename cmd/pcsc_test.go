//go:build cgo

package cmd

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tagline-station/tagline/internal/pcscdtest"
)

// tagline sim serves a simulated tag through a private pcscd's vpcd
// reader; tagline readers sees it and tagline encode personalises it over
// the real PC/SC stack.
func TestSimAndEncodeThroughPCSC(t *testing.T) {
	d := pcscdtest.Setup(t, 2)
	c := newCLI(t)
	name := d.ReaderName(0)
	stopSim := simInReader(t, c, d.Addr(0), "04A1B2C3D4E5F6")

	// pcscd notices the card within its polling period.
	found := false
	var rj readersJSON
	for deadline := time.Now().Add(10 * time.Second); !found && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if err := json.Unmarshal([]byte(c.must(0, "readers", "--json").stdout), &rj); err != nil {
			t.Fatal(err)
		}
		for _, r := range rj.Readers {
			if r.Name == name && r.TagPresent && r.Spec == "pcsc:"+name {
				found = true
			}
		}
	}
	if !found || !rj.Stacks[0].Available {
		t.Errorf("readers: %+v\n%s", rj, d.Log())
	}
	if txt := c.must(0, "readers").stdout; !regexp.MustCompile(`(?m)^pcsc\s+` + regexp.QuoteMeta(name) + `\s+present\s+'pcsc:` + regexp.QuoteMeta(name) + `'$`).MatchString(txt) {
		t.Errorf("readers:\n%s", txt)
	}

	kf := c.write("master.key", testKeyHex, 0o600)
	// On a real reader a batch that may ship trusts NXP's key alone: the
	// simulated tag signs with our test key, so it is not a genuine chip,
	// and nothing is written to it (the test batch below encodes it).
	c.must(0, "batch", "new", "--journal", "j.db", "--id", "b0", "--sku", "SKU-PCSC", "--target", "1", "--key-version", "1", "--template", demoTemplate)
	r := c.must(3, "encode", "--journal", "j.db", "--batch", "b0", "--reader", "pcsc:"+name, "--count", "1", "--json", "--master-key-file", kf)
	if ls := parseTagLines(t, r.stdout); len(ls) != 1 || ls[0].OK || !strings.HasPrefix(ls[0].Reason, "not a genuine NXP chip") {
		t.Fatalf("%+v", ls)
	}
	// Real tags' trials and simulated tags behind vpcd go in a test batch.
	c.must(0, "batch", "new", "--journal", "j.db", "--id", "b1", "--sku", "SKU-PCSC", "--target", "1", "--key-version", "1", "--template", demoTemplate, "--test")
	r = c.must(0, "encode", "--journal", "j.db", "--batch", "b1", "--reader", "pcsc:"+name, "--count", "1", "--json", "--master-key-file", kf)
	ls := parseTagLines(t, r.stdout)
	if len(ls) != 1 || ls[0].UID != "04A1B2C3D4E5F6" || ls[0].Reader != name {
		t.Fatalf("%+v", ls)
	}
	if v, err := checkSUN(keysFromFile(t, kf, "tagline", 1), ls[0].URL); err != nil || v.UID != "04A1B2C3D4E5F6" {
		t.Errorf("%v %+v", err, v)
	}

	// The same tag again is a duplicate: exit 3 with what to do.
	r = c.must(3, "encode", "--journal", "j.db", "--batch", "b1", "--reader", name, "--count", "1", "--no-tui", "--master-key-file", kf, "--over-target")
	if !strings.Contains(r.stdout, "DUP   04A1B2C3D4E5F6  SKU-PCSC  already encoded in batch b1") || !strings.Contains(r.stdout, "hint: set this tag aside") {
		t.Errorf("%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "tagline: 1 of 1 tag not encoded") {
		t.Errorf("%s", r.stderr)
	}

	// --all-readers opens every PC/SC reader (one lane each, the reader
	// named on each line); the tag in slot 0 is the duplicate.
	r = c.must(3, "encode", "--journal", "j.db", "--batch", "b1", "--all-readers", "--count", "1", "--no-tui", "--master-key-file", kf, "--over-target")
	if !strings.Contains(r.stdout, "DUP   ["+name+"]  04A1B2C3D4E5F6") {
		t.Errorf("%s", r.stdout)
	}

	// --reencode --yes rewrites the tag that carries our keys.
	r = c.must(0, "encode", "--journal", "j.db", "--batch", "b1", "--reader", name, "--count", "1", "--json", "--reencode", "--yes", "--master-key-file", kf)
	if ls := parseTagLines(t, r.stdout); len(ls) != 1 || !ls[0].OK || ls[0].UID != "04A1B2C3D4E5F6" {
		t.Errorf("reencode: %+v", ls)
	}
	var rep journalCheckJSON
	json.Unmarshal([]byte(c.must(0, "journal", "check", "--journal", "j.db", "--json").stdout), &rep)
	if rep.Report == nil || rep.Report.Superseded != 1 || len(rep.OpenIntents) != 0 {
		t.Errorf("journal after re-encode: %+v", rep.Report)
	}

	if r := stopSim(); r.code != 0 || !strings.Contains(r.stdout, "removed tag 04A1B2C3D4E5F6 (personalised, key version 1,") {
		t.Errorf("sim: %s", r)
	}
}

// simInReader runs tagline sim with a tag of uid in the vpcd slot at addr
// until the tag stays in the reader; stop ends it and returns what it
// said.
func simInReader(t *testing.T, c *cli, addr, uid string, flags ...string) (stop func() result) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	sc := *c
	sc.ctx, sc.stdout = ctx, &syncBuffer{}
	inserted := sc.stdout.when("the tag stays in the reader")
	done := make(chan result, 1)
	go func() { done <- sc.run(append([]string{"sim", "--vpcd", addr, "--uid", uid}, flags...)...) }()
	select {
	case <-inserted:
	case r := <-done:
		t.Fatalf("sim ended: %s", r)
	case <-time.After(20 * time.Second):
		t.Fatal("sim did not insert its tag")
	}
	return func() result {
		cancel()
		select {
		case r := <-done:
			return r
		case <-time.After(20 * time.Second):
			t.Fatal("sim did not stop")
		}
		return result{}
	}
}

// sim --on-enter swaps in a fresh tag on each line of input and ends with
// the input; --every swaps on a timer.
func TestSimOnEnterAndEvery(t *testing.T) {
	d := pcscdtest.Setup(t, 2)
	c := newCLI(t)
	c.stdin = "\n\n"
	r := c.must(0, "sim", "--vpcd", d.Addr(0), "--on-enter")
	if n := strings.Count(r.stdout, "inserted tag 04"); n != 3 || strings.Count(r.stdout, "removed tag 04") != 3 ||
		!strings.Contains(r.stdout, "press Enter for a new tag") || !strings.Contains(r.stdout, "factory-fresh, 0 APDUs") {
		t.Errorf("on-enter:\n%s", r.stdout)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.ctx, c.stdout = ctx, &syncBuffer{}
	third := make(chan struct{})
	go func() {
		for strings.Count(c.stdout.String(), "inserted tag") < 3 {
			time.Sleep(20 * time.Millisecond)
		}
		close(third)
		cancel()
	}()
	r = c.run("sim", "--vpcd", d.Addr(1), "--every", "50ms")
	waitOrFail(t, third, 10*time.Second, "three tags")
	if r.code != 0 || !strings.Contains(r.stdout, "a new tag every 50ms") {
		t.Errorf("every: %s", r)
	}
}
