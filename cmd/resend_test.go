package cmd

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tagline-station/tagline/reader/sim"
)

// The sync position is the backend's: pointed at a new, empty backend, a
// plain sync sends everything again (the backend answers where to start),
// the new backend then knows the tags, and --resend is taken as the same
// records again.
func TestSyncToANewBackendSendsEverything(t *testing.T) {
	c := newCLI(t)
	l := newLine(t, c, "b1", 3)
	tok := c.write("sync.token", testSyncToken+"\n", 0o600)
	serveArgs := func(db string) []string {
		return []string{"--listen", "127.0.0.1:0", "--store", "bolt:" + c.path(db), "--template", demoTemplate,
			"--master-key-file", l.keyFile, "--token-file", tok}
	}
	old, stopOld := startServe(t, c, serveArgs("old.db")...)
	c.must(0, "sync", "--endpoint", "http://"+old, "--journal", l.journal, "--token-file", tok)
	stopOld()

	fresh, _ := startServe(t, c, serveArgs("new.db")...)
	if code, ans, _ := tap(t, fresh, l.phoneRead(0), true); code != http.StatusNotFound || ans["result"] != "unknown_tag" {
		t.Fatalf("before the sync: %d %v", code, ans)
	}
	s := parseSyncJSON(t, c.must(0, "sync", "--chunk", "2", "--endpoint", "http://"+fresh, "--journal", l.journal, "--token-file", tok, "--json").stdout)
	if !s.OK || s.Records != 3 || s.SyncedUpto != 3 || s.Pending != 0 {
		t.Fatalf("sync to a new backend: %+v", s)
	}
	if code, ans, _ := tap(t, fresh, l.phoneRead(1), true); code != http.StatusOK || ans["result"] != "genuine" {
		t.Fatalf("after the sync: %d %v", code, ans)
	}
	// Again, in other chunks: the backend holds them already and keeps
	// the counter it accepted.
	s = parseSyncJSON(t, c.must(0, "sync", "--resend", "--endpoint", "http://"+fresh, "--journal", l.journal, "--token-file", tok, "--json").stdout)
	if !s.OK || s.Records != 3 {
		t.Fatalf("second --resend: %+v", s)
	}
	if code, ans, _ := tap(t, fresh, l.phoneRead(2), true); code != http.StatusOK || ans["result"] != "genuine" {
		t.Fatalf("tag 2 after a second --resend: %d %v", code, ans)
	}
}

// Two journals that claim one station (the host name of a cloned station
// image, say) are told apart by their identities: the backend keeps the
// first and refuses the second with what to do; the first goes on.
func TestSecondJournalOfAStationIsRefused(t *testing.T) {
	c := newCLI(t)
	first := newLine(t, c, "b1", 2)
	tok := c.write("sync.token", testSyncToken+"\n", 0o600)
	addr, _ := startServe(t, c, "--listen", "127.0.0.1:0", "--store", "bolt:"+c.path("serve.db"), "--template", demoTemplate,
		"--master-key-file", first.keyFile, "--token-file", tok)
	c.must(0, "sync", "--endpoint", "http://"+addr, "--journal", first.journal, "--token-file", tok)

	other := newCLI(t)
	second := newLine(t, other, "b2", 1)
	r := c.must(ExitFailure, "sync", "--endpoint", "http://"+addr, "--journal", second.journal, "--token-file", tok)
	if !strings.Contains(r.stderr, "station line-1 is synced from another journal") || !strings.Contains(r.stderr, "--station-id") {
		t.Errorf("second journal: %s", r.stderr)
	}
	if !strings.Contains(r.stderr, "hint: two journals claim this station id") {
		t.Errorf("hint: %s", r.stderr)
	}
	c.must(0, "sync", "--resend", "--endpoint", "http://"+addr, "--journal", first.journal, "--token-file", tok)
}

// A station pointed at a new, empty backend sends it everything, also
// what the old backend acknowledged, while it goes on encoding.
func TestStationSyncsEverythingToANewBackend(t *testing.T) {
	c := newCLI(t)
	keyFile := c.write("master.key", testKeyHex+"\n", 0o600)
	tok := c.write("sync.token", testSyncToken+"\n", 0o600)
	c.must(0, "batch", "new", "--journal", "j.db", "--id", "b1", "--sku", "SKU-1", "--target", "100", "--key-version", "1", "--template", demoTemplate)
	serveArgs := func(db string) []string {
		return []string{"--listen", "127.0.0.1:0", "--store", "bolt:" + c.path(db), "--template", demoTemplate,
			"--master-key-file", keyFile, "--token-file", tok, "--accept-simulated"}
	}
	s := &syncLine{t: t, tags: map[string]*sim.Tag{}}
	c.simPresented = func(tag *sim.Tag) {
		s.mu.Lock()
		s.tags[strings.ToUpper(hexUID(tag.UID()))] = tag
		s.mu.Unlock()
	}
	encode := func(addr string) []tagLine {
		r := c.must(0, "encode", "--journal", "j.db", "--batch", "b1", "--reader", "sim", "--count", "2", "--json",
			"--sim-interval", "1ms", "--master-key-file", keyFile, "--sync", "http://"+addr, "--token-file", tok)
		return parseTagLines(t, r.stdout)
	}
	old, stopOld := startServe(t, c, serveArgs("old.db")...)
	first := encode(old)
	if len(first) != 2 {
		t.Fatalf("%d results", len(first))
	}
	c.must(0, "sync", "--endpoint", "http://"+old, "--journal", "j.db", "--token-file", tok)
	stopOld()

	fresh, _ := startServe(t, c, serveArgs("new.db")...)
	encode(fresh)
	sum := parseSyncJSON(t, c.must(0, "sync", "--endpoint", "http://"+fresh, "--journal", "j.db", "--token-file", tok, "--json").stdout)
	if sum.Records != 0 || sum.Pending != 0 {
		t.Errorf("the station left work for sync: %+v", sum)
	}
	for _, l := range first {
		if code, ans, _ := tap(t, fresh, s.phoneRead(l.UID), true); code != http.StatusOK || ans["result"] != "genuine" {
			t.Errorf("tag %s of the old backend's time at the new one: %d %v", l.UID, code, ans)
		}
	}
}
