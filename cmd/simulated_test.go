package cmd

import (
	"strings"
	"testing"
)

// Simulated tags never pass for real: the demo's batch is marked, its
// manifest and sync records say so, a backend refuses them unless it was
// started for trials, and the batch takes no real reader.
func TestSimulatedTagsNeverPassForReal(t *testing.T) {
	c := newCLI(t)
	c.must(0, "demo", "--count", "2")
	id := demoBatchID(t, c)
	show := c.must(0, "batch", "show", id, "--journal", demoJournal, "--json")
	if !strings.Contains(show.stdout, `"simulated": true`) {
		t.Errorf("batch show: %s", show.stdout)
	}
	tok := c.write("sync.token", testSyncToken+"\n", 0o600)
	serveArgs := []string{"--listen", "127.0.0.1:0", "--template", demoTemplate, "--master-key-file", demoKeyFile, "--token-file", tok}

	addr, stop := startServe(t, c, append(serveArgs, "--store", "bolt:"+c.path("real.db"))...)
	r := c.must(ExitFailure, "sync", "--endpoint", "http://"+addr, "--journal", demoJournal, "--token-file", tok)
	if !strings.Contains(r.stderr, "a simulated batch: this backend takes real tags only") {
		t.Errorf("real backend's refusal: %s", r.stderr)
	}
	stop()

	addr, stop = startServe(t, c, append(serveArgs, "--store", "bolt:"+c.path("trial.db"), "--accept-simulated")...)
	defer stop()
	c.must(0, "sync", "--endpoint", "http://"+addr, "--journal", demoJournal, "--token-file", tok)

	// The same from the config file.
	cfg := c.write("serve.toml", "accept_simulated = true\n", 0o600)
	addr, stopCfg := startServe(t, c, append(serveArgs, "--store", "bolt:"+c.path("trial2.db"), "--config", cfg)...)
	defer stopCfg()
	c.must(0, "sync", "--endpoint", "http://"+addr, "--journal", demoJournal, "--token-file", tok, "--resend")

	r = c.must(ExitUsage, "encode", "--journal", demoJournal, "--batch", id, "--reader", "pcsc:x", "--master-key-file", demoKeyFile)
	if !strings.Contains(r.stderr, "holds simulated tags") {
		t.Errorf("real reader on a simulated batch: %s", r.stderr)
	}
	r = c.must(ExitUsage, "encode", "--journal", demoJournal, "--batch", id, "--readers", "sim,pcsc:x", "--master-key-file", demoKeyFile)
	if !strings.Contains(r.stderr, "this run names both") {
		t.Errorf("mixed run: %s", r.stderr)
	}
}

// A new batch's first simulated run marks it, and its manifest says so.
func TestFirstSimulatedRunMarksTheBatch(t *testing.T) {
	c := newCLI(t)
	kf := c.write("master.key", testKeyHex+"\n", 0o600)
	c.must(0, "batch", "new", "--journal", "j.db", "--id", "b1", "--sku", "S", "--target", "5", "--key-version", "1", "--template", demoTemplate)
	c.must(0, "encode", "--journal", "j.db", "--batch", "b1", "--reader", "sim", "--count", "1", "--sim-interval", "1ms", "--master-key-file", kf, "--no-tui")
	exp := c.must(0, "batch", "export", "b1", "--journal", "j.db")
	if !strings.Contains(exp.stdout, `"simulated":true}`) {
		t.Errorf("manifest: %s", exp.stdout)
	}
}
