package cmd

import (
	"net/http"
	"testing"
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
