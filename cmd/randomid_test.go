package cmd

import (
	"encoding/json"
	"strings"
	"testing"
)

// batch new --random-id is confirmed by name; encode turns random ID on
// and journals each tag under its real UID, which the SUN message names
// and the manifest lists.
func TestRandomIDBatch(t *testing.T) {
	c := newCLI(t)
	j := c.path("journal.db")
	tmpl := "https://brand.example/t?picc_data={picc}&cmac={mac}"
	r := c.must(2, "batch", "new", "--journal", j, "--id", "rid", "--sku", "SKU-1", "--target", "3", "--key-version", "1", "--template", tmpl, "--random-id")
	if !strings.Contains(r.stderr, "--yes") || !strings.Contains(r.stderr, "random ID") {
		t.Errorf("unconfirmed: %s", r.stderr)
	}
	if out := c.must(0, "batch", "list", "--journal", j, "--json").stdout; strings.Contains(out, `"rid"`) {
		t.Fatalf("an unconfirmed batch was created: %s", out)
	}
	r = c.must(0, "batch", "new", "--journal", j, "--id", "rid", "--sku", "SKU-1", "--target", "3", "--key-version", "1", "--template", tmpl, "--random-id", "--yes")
	if !strings.Contains(r.stdout, "random id:") {
		t.Errorf("new: %s", r.stdout)
	}
	var show batchJSON
	if err := json.Unmarshal([]byte(c.must(0, "batch", "show", "rid", "--journal", j, "--json").stdout), &show); err != nil || !show.RandomID {
		t.Fatalf("show: %+v %v", show, err)
	}

	kf := c.write("master.key", testKeyHex, 0o600)
	r = c.must(0, "encode", "--journal", j, "--batch", "rid", "--reader", "sim", "--sim-interval", "1ms", "--count", "3", "--master-key-file", kf, "--json")
	ls := parseTagLines(t, r.stdout)
	if len(ls) != 3 {
		t.Fatalf("%d results", len(ls))
	}
	k := keysFromFile(t, kf, "tagline", 1)
	for _, l := range ls {
		v, err := checkSUN(k, l.URL)
		if err != nil || v.UID != l.UID || len(l.UID) != 14 {
			t.Errorf("%s (uid %s): %+v %v", l.URL, l.UID, v, err)
		}
	}
	exp := c.must(0, "batch", "export", "rid", "--journal", j).stdout
	for _, l := range ls {
		if !strings.Contains(exp, `"uid":"`+l.UID+`"`) {
			t.Errorf("manifest lacks %s:\n%s", l.UID, exp)
		}
	}
}
