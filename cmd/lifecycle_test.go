package cmd

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/manifest"
)

func parseLifeLines(t *testing.T, out string) []lifeJSON {
	t.Helper()
	var ls []lifeJSON
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var l lifeJSON
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		ls = append(ls, l)
	}
	return ls
}

// TestRekeyAndResetCommands: rekey moves every tag of a batch to the new
// version (the URLs verify with its keys, the journal binds it), refuses
// another master key and a batch without tags with exit 2 and nothing
// written; reset brings them to the factory state; --help has examples.
func TestRekeyAndResetCommands(t *testing.T) {
	c := newCLI(t)
	kf := c.write("master.key", testKeyHex, 0o600)
	other := c.write("other.key", "ffeeddccbbaa99887766554433221100", 0o600)
	c.must(0, "batch", "new", "--journal", "j.db", "--id", "b1", "--sku", "SKU-1", "--target", "2", "--key-version", "1", "--template", demoTemplate)
	c.must(0, "batch", "new", "--journal", "j.db", "--id", "empty", "--sku", "SKU-1", "--target", "2", "--key-version", "1", "--template", demoTemplate)
	c.must(0, "encode", "--journal", "j.db", "--batch", "b1", "--reader", "sim", "--count", "2", "--json", "--master-key-file", kf, "--sim-interval", "0s")

	r := c.must(2, "rekey", "--journal", "j.db", "--batch", "b1", "--to-version", "2", "--reader", "sim", "--master-key-file", other)
	if !strings.Contains(r.stderr, "was encoded with the master key of kcv") || !strings.Contains(r.stderr, "nothing was written") {
		t.Errorf("other master key: %s", r.stderr)
	}
	r = c.must(2, "rekey", "--journal", "j.db", "--batch", "empty", "--to-version", "2", "--reader", "sim", "--master-key-file", kf)
	if !strings.Contains(r.stderr, "has no bound tags") {
		t.Errorf("empty batch: %s", r.stderr)
	}
	c.must(2, "rekey", "--journal", "j.db", "--batch", "b1", "--to-version", "0", "--reader", "sim", "--master-key-file", kf)

	r = c.must(0, "rekey", "--journal", "j.db", "--batch", "b1", "--to-version", "2", "--reader", "sim", "--json", "--master-key-file", kf)
	ls := parseLifeLines(t, r.stdout)
	if len(ls) != 2 {
		t.Fatalf("%+v", ls)
	}
	k2 := keysFromFile(t, kf, "tagline", 2)
	for _, l := range ls {
		if !l.OK || l.Outcome != "rekeyed" || l.FromVersion != 1 || l.ToVersion != 2 || l.KeyVersions != "0101010101" {
			t.Errorf("%+v", l)
		}
		if v, err := checkSUN(k2, l.URL); err != nil || v.UID != string(l.UID) {
			t.Errorf("%s does not verify with version 2: %v", l.URL, err)
		}
	}
	var rep journalCheckJSON
	json.Unmarshal([]byte(c.must(0, "journal", "check", "--journal", "j.db", "--json").stdout), &rep)
	if rep.Report == nil || rep.Report.Superseded != 2 || rep.Report.Bindings != 2 {
		t.Errorf("journal after rekey: %+v", rep.Report)
	}
	// QA reports the version each tag answers with.
	r = c.must(0, "verify", "--journal", "j.db", "--batch", "b1", "--reader", "sim", "--json", "--master-key-file", kf)
	if strings.Count(r.stdout, `"key_version": 2`) != 2 {
		t.Errorf("verify after rekey:\n%s", r.stdout)
	}
	// Nothing left to rekey: the simulated reader has no tag to present.
	if r = c.must(0, "rekey", "--journal", "j.db", "--batch", "b1", "--to-version", "2", "--reader", "sim", "--json", "--master-key-file", kf); r.stdout != "" {
		t.Errorf("second rekey: %s", r.stdout)
	}

	r = c.must(0, "reset", "--journal", "j.db", "--batch", "b1", "--reader", "sim", "--master-key-file", kf)
	if strings.Count(r.stdout, "key version 2 -> factory") != 2 {
		t.Errorf("reset:\n%s", r.stdout)
	}
	c.must(0, "journal", "check", "--journal", "j.db")

	for _, name := range []string{"rekey", "reset"} {
		h := c.must(0, name, "--help").stdout
		if !strings.Contains(h, "Examples:") || !strings.Contains(h, "tagline "+name+" --batch") {
			t.Errorf("%s --help:\n%s", name, h)
		}
	}
}

// TestJournalCheckListsOpenOperations: an open rekey is listed by journal
// check with what to do, as open intents are.
func TestJournalCheckListsOpenOperations(t *testing.T) {
	c := newCLI(t)
	kf := c.write("master.key", testKeyHex, 0o600)
	c.must(0, "batch", "new", "--journal", "j.db", "--id", "b1", "--sku", "SKU-1", "--target", "1", "--key-version", "1", "--template", demoTemplate)
	r := c.must(0, "encode", "--journal", "j.db", "--batch", "b1", "--reader", "sim", "--count", "1", "--json", "--master-key-file", kf, "--sim-interval", "0s")
	uid := parseTagLines(t, r.stdout)[0].UID
	s, err := batch.Open(c.path("j.db"), batch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bd, _, _ := s.Lookup(manifest.UID(uid))
	if _, err := s.BeginOp(batch.Op{Kind: batch.OpRekey, UID: manifest.UID(uid), BatchID: "b1", ToVersion: 2, MasterKCV: bd.MasterKCV}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	var rep journalCheckJSON
	json.Unmarshal([]byte(c.must(0, "journal", "check", "--journal", "j.db", "--json").stdout), &rep)
	if len(rep.OpenOps) != 1 || rep.OpenOps[0].UID != manifest.UID(uid) || !strings.Contains(rep.OpenOps[0].Action, "tagline rekey --batch b1 --to-version 2") {
		t.Fatalf("%+v", rep.OpenOps)
	}
	if out := c.must(0, "journal", "check", "--journal", "j.db").stdout; !strings.Contains(out, "1 open operation") {
		t.Errorf("%s", out)
	}
}
