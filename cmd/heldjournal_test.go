package cmd

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// While a station with four lanes holds the journal, the commands that
// only read it work on a copy taken at one instant, and what they say
// agrees with the journal once the station has stopped; a command that
// writes is told who holds it, with the busy exit code.
func TestReadersWorkWhileAStationRuns(t *testing.T) {
	c := newCLI(t)
	keyFile := c.write("master.key", testKeyHex+"\n", 0o600)
	c.must(0, "batch", "new", "--journal", "j.db", "--id", "b1", "--sku", "SKU-1", "--target", "100000", "--key-version", "1", "--template", demoTemplate)

	s := startStation(t, c, "--journal", "j.db", "--batch", "b1", "--readers", "l1=sim,l2=sim:b,l3=sim:c,l4=sim:d",
		"--json", "--sim-interval", "5ms", "--master-key-file", keyFile)
	passed, _ := s.passes(12)

	// A writer is told who holds the journal, and exits busy.
	r := c.must(ExitBusy, "batch", "new", "--journal", "j.db", "--sku", "S", "--target", "1", "--key-version", "1", "--template", demoTemplate)
	if !strings.Contains(r.stderr, "held by a running station (station ") || !strings.Contains(r.stderr, " pid ") {
		t.Errorf("writer's message: %s", r.stderr)
	}

	show := c.must(0, "batch", "show", "b1", "--journal", "j.db", "--json")
	if !strings.Contains(show.stderr, "reading a copy taken now") {
		t.Errorf("show did not say it reads a copy: %s", show.stderr)
	}
	var during struct {
		Stats struct{ Done int } `json:"stats"`
	}
	if err := json.Unmarshal([]byte(show.stdout), &during); err != nil || during.Stats.Done < len(passed) {
		t.Fatalf("batch show during the run: %v, done %d, %d PASS seen before", err, during.Stats.Done, len(passed))
	}
	exp := c.must(0, "batch", "export", "b1", "--journal", "j.db", "--format", "jsonl")
	c.must(0, "journal", "check", "--journal", "j.db")
	// Phones read four of the tags (the station has let them go); QA
	// checks those against the held journal. The other tags are not
	// presented, so the batch as a whole does not pass (exit 4).
	time.Sleep(100 * time.Millisecond)
	var urls strings.Builder
	for _, l := range passed[:4] {
		urls.WriteString(s.phoneRead(l.UID) + "\n")
	}
	c.write("urls.txt", urls.String(), 0o600)
	vr := c.must(ExitVerify, "verify", "--batch", "b1", "--journal", "j.db", "--urls", "urls.txt", "--master-key-file", keyFile, "--json")
	var rep struct {
		Results []struct{ UID, Result, Reason string }
	}
	if err := json.Unmarshal([]byte(vr.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	verdict := map[string]string{}
	for _, r := range rep.Results {
		verdict[r.UID] = r.Result + " " + r.Reason
	}
	for _, l := range passed[:4] {
		if v := verdict[l.UID]; v != "pass " {
			t.Errorf("QA of %s read during the run: %q, want pass", l.UID, v)
		}
	}

	if r := s.stop(); r.code != ExitOK {
		t.Fatalf("encode: exit %d\n%s", r.code, r)
	}
	final := c.must(0, "batch", "export", "b1", "--journal", "j.db", "--format", "jsonl")
	finalLines := map[string]bool{}
	for _, l := range exportRecords(final.stdout) {
		finalLines[l] = true
	}
	got := exportRecords(exp.stdout)
	if len(got) < len(passed) || len(got) > len(finalLines) {
		t.Fatalf("export during the run has %d records; %d PASS seen before it, %d in the end", len(got), len(passed), len(finalLines))
	}
	for _, l := range got {
		if !finalLines[l] {
			t.Errorf("record exported during the run is not in the final journal: %s", l)
		}
	}
	c.must(0, "journal", "check", "--journal", "j.db")
}

// exportRecords are the binding lines of a JSONL manifest (the header and
// the trailer differ between two exports by design).
func exportRecords(out string) []string {
	var recs []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.Contains(l, `"uid"`) {
			recs = append(recs, l)
		}
	}
	return recs
}
