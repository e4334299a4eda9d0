package cmd

import (
	"strings"
	"testing"
)

// tagline demo --tt with the sdm-backend derivation prints URLs for
// sdm-backend's TagTamper endpoint (/tagtt: picc_data, enc, cmac) that
// verify as sdm-backend verifies them, and whose encrypted file data
// starts with the status sdm-backend decodes as "secure" (CC).
func TestDemoTTURLsVerifyAsSDMBackendDoes(t *testing.T) {
	c := newCLI(t)
	const master = "47BBB68AFA73F31310BEEFCE5DDA692DBAD671A03FEAD5A9BBDBCF3CD6D4C521"
	kf := c.write("backend.key", master+"\n", 0o600)
	r := c.must(0, "demo", "--tt", "--kdf", "sdm-backend", "--master-key-file", kf, "--count", "3", "--json", "--journal", c.path("demo.db"))
	k := keysFromFile(t, kf, "sdm-backend", 1)
	lines := parseTagLines(t, r.stdout)
	if len(lines) != 3 {
		t.Fatalf("%d tag lines", len(lines))
	}
	for _, l := range lines {
		if !strings.HasPrefix(l.URL, "https://sdm.tagline.example/tagtt?picc_data=") || !strings.Contains(l.URL, "&enc=") || !strings.Contains(l.URL, "&cmac=") {
			t.Fatalf("demo url %s lacks sdm-backend's tagtt parameters", l.URL)
		}
		v, err := checkSUN(k, l.URL)
		if err != nil || v.UID != l.UID || len(v.FileData) != 16 || string(v.FileData[:2]) != "CC" {
			t.Fatalf("%s: %+v %v", l.URL, v, err)
		}
	}
	assertNoSecret(t, master, r)
	c.must(2, "demo", "--tt", "--enc", "--journal", c.path("other.db"))
}
