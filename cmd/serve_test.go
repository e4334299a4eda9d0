package cmd

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func TestServeBadTemplate(t *testing.T) {
	c := newCLI(t)
	kf := c.write("master.key", testKeyHex, 0o600)
	r := c.must(2, "serve", "--store", "bolt:"+c.path("serve.db"), "--master-key-file", kf, "--template", "https://sdm.tagline.example/tag?m={mac}")
	if !strings.HasPrefix(r.stderr, "tagline: --template: ") || !strings.Contains(r.stderr, "\nhint: a template is an https URL with {picc} and {mac}") {
		t.Errorf("stderr: %s", r.stderr)
	}
	if _, err := os.Stat(c.path("serve.db")); err == nil {
		t.Error("a store was created for a bad template")
	}
	// A template whose path cannot be routed is a usage error too.
	r = c.must(2, "serve", "--store", "bolt:"+c.path("serve.db"), "--master-key-file", kf, "--template", "https://sdm.tagline.example?p={picc}&m={mac}")
	if !strings.Contains(r.stderr, "\nhint: ") {
		t.Errorf("stderr: %s", r.stderr)
	}
}

func TestServeLogFileAndStationTokens(t *testing.T) {
	c := newCLI(t)
	l := newLine(t, c, "b1", 1)
	tokFile := c.write("sync.token", testSyncToken+"\n", 0o600)
	// The token may upload for another station only.
	tokens := c.write("serve.tokens", "# token station\n"+testSyncToken+" line-2\n", 0o600)
	logFile := c.path("serve.log")
	addr, stop := startServe(t, c, "--log", logFile, "--log-level", "debug", "--listen", "127.0.0.1:0", "--store", "bolt:"+c.path("serve.db"),
		"--template", demoTemplate, "--master-key-file", l.keyFile, "--token-file", tokens)
	r := c.must(1, "sync", "--endpoint", "http://"+addr, "--journal", l.journal, "--token-file", tokFile)
	if !strings.Contains(r.stderr, "403 Forbidden") || !strings.Contains(r.stderr, "hint: the token is not allowed to upload for this station") {
		t.Errorf("stderr: %s", r.stderr)
	}
	res := stop()
	if res.code != 0 || res.stderr != "" {
		t.Fatalf("serve with --log: %s", res)
	}
	raw, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	var sawStop bool
	for _, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			continue // lines the root logger wrote before serve took over
		}
		if m["msg"] == "serve stopped" {
			sawStop = true
		}
	}
	if !sawStop || strings.Contains(string(raw), testSyncToken) || strings.Contains(string(raw), strings.ToUpper(testKeyHex)) {
		t.Errorf("log:\n%s", raw)
	}
}

// A port out of range is a usage error (exit 2) with a hint, found before
// the store is opened.
func TestServeListenPortOutOfRange(t *testing.T) {
	c := newCLI(t)
	kf := c.write("master.key", testKeyHex, 0o600)
	for _, addr := range []string{"127.0.0.1:99999", "127.0.0.1:-1", "127.0.0.1"} {
		r := c.must(2, "serve", "--store", "bolt:"+c.path("serve.db"), "--master-key-file", kf, "--template", demoTemplate, "--listen", addr)
		if !strings.HasPrefix(r.stderr, "tagline: --listen ") || !strings.Contains(r.stderr, "\nhint: --listen takes host:port with a port from 0 to 65535") {
			t.Errorf("%s: stderr: %s", addr, r.stderr)
		}
	}
	if _, err := os.Stat(c.path("serve.db")); err == nil {
		t.Error("a store was created for a bad --listen")
	}
}
