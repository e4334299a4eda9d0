package cmd

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tagline-station/tagline/batch"
)

const simTemplate = "https://brand.example/t?picc_data={picc}&cmac={mac}"

// An all-zero master key (with sdm-backend: tags left with the factory
// keys) or one byte repeated is refused for a production batch, and
// accepted for a batch created with --test, which says so everywhere.
func TestWeakMasterKeyNeedsTestBatch(t *testing.T) {
	c := newCLI(t)
	j := c.path("j.db")
	zero := c.write("zero.key", strings.Repeat("00", 16)+"\n", 0o600)
	ones := c.write("ones.key", strings.Repeat("11", 16)+"\n", 0o600)
	c.must(0, "batch", "new", "--journal", j, "--id", "prod", "--sku", "S", "--target", "1", "--key-version", "1",
		"--kdf", "sdm-backend", "--template", simTemplate)
	for _, kf := range []string{zero, ones} {
		r := c.must(2, "encode", "--journal", j, "--batch", "prod", "--reader", "sim", "--count", "1", "--no-tui",
			"--sim-interval", "1ms", "--master-key-file", kf)
		if !strings.Contains(r.stderr, "anyone can guess") || !strings.Contains(r.stderr, "hint:") || !strings.Contains(r.stderr, "batch new --test") {
			t.Errorf("weak key on a production batch:\n%s", r.stderr)
		}
	}
	if st := batchShowJSON(t, c, j, "prod"); st.Stats.Done != 0 || st.Test {
		t.Fatalf("production batch after refusals: %+v", st)
	}

	r := c.must(0, "batch", "new", "--journal", j, "--id", "trial", "--sku", "S", "--target", "1", "--key-version", "1",
		"--kdf", "sdm-backend", "--test", "--template", simTemplate)
	if !strings.Contains(r.stdout, "created test batch trial") || !strings.Contains(r.stdout, "kdf: sdm-backend") {
		t.Errorf("batch new --test: %s", r.stdout)
	}
	r = c.must(0, "encode", "--journal", j, "--batch", "trial", "--reader", "sim", "--count", "1", "--no-tui",
		"--sim-interval", "1ms", "--master-key-file", zero)
	if !strings.Contains(r.stderr, "is a test batch") {
		t.Errorf("encode into a test batch says nothing:\n%s", r.stderr)
	}
	if st := batchShowJSON(t, c, j, "trial"); st.Stats.Done != 1 || !st.Test || st.KDF != "sdm-backend" {
		t.Fatalf("test batch: %+v", st)
	}
	if s := c.must(0, "batch", "show", "trial", "--journal", j).stdout; !strings.Contains(s, "test batch") || !strings.Contains(s, "sdm-backend") {
		t.Errorf("show:\n%s", s)
	}
	if s := c.must(0, "batch", "list", "--journal", j).stdout; !strings.Contains(s, "open (test)") {
		t.Errorf("list:\n%s", s)
	}
	m := c.must(0, "batch", "export", "trial", "--journal", j).stdout
	if h, _, _ := strings.Cut(m, "\n"); !strings.Contains(h, `"kdf":"sdm-backend"`) || !strings.Contains(h, `"test":true`) {
		t.Errorf("manifest header: %s", h)
	}
	m = c.must(0, "batch", "export", "trial", "--journal", j, "--format", "csv").stdout
	if !strings.Contains(m, ",kdf=sdm-backend,test=true") {
		t.Errorf("csv manifest:\n%s", m)
	}

	// demo's batches are test batches: its own random key and an all-zero
	// one both work.
	c.must(0, "demo", "--count", "1", "--journal", c.path("demo.db"))
	r = c.must(0, "demo", "--count", "1", "--journal", c.path("demo.db"), "--kdf", "sdm-backend", "--master-key-file", zero)
	if !strings.Contains(r.stderr, "all zeros") {
		t.Errorf("demo with a zero key gives no warning:\n%s", r.stderr)
	}
	var list []batchJSON
	if err := json.Unmarshal([]byte(c.must(0, "batch", "list", "--journal", c.path("demo.db"), "--json").stdout), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || !list[0].Test || !list[1].Test || list[1].KDF != "sdm-backend" {
		t.Errorf("demo batches: %+v", list)
	}
}

// A batch is pinned to the derivation it was created with: encode refuses
// another, and with no --kdf uses the batch's.
func TestBatchPinsKeyDerivation(t *testing.T) {
	c := newCLI(t)
	j := c.path("j.db")
	kf := c.write("master.key", testKeyHex, 0o600)
	c.must(0, "batch", "new", "--journal", j, "--id", "b", "--sku", "S", "--target", "4", "--key-version", "1", "--template", simTemplate)
	if st := batchShowJSON(t, c, j, "b"); st.KDF != "tagline" {
		t.Fatalf("default kdf %q", st.KDF)
	}
	c.must(0, "encode", "--journal", j, "--batch", "b", "--reader", "sim", "--count", "1", "--no-tui", "--sim-interval", "1ms", "--master-key-file", kf)
	r := c.must(2, "encode", "--journal", j, "--batch", "b", "--reader", "sim", "--count", "1", "--no-tui", "--sim-interval", "1ms",
		"--master-key-file", kf, "--kdf", "sdm-backend")
	if !strings.Contains(r.stderr, "differs from batch b's key derivation tagline") || !strings.Contains(r.stderr, "hint:") {
		t.Errorf("other kdf:\n%s", r.stderr)
	}
	// The config file's kdf is held to the same rule.
	cfg := c.write("home/.config/tagline/config.toml", "kdf = \"sdm-backend\"\n", 0o600)
	_ = cfg
	r = c.run("encode", "--journal", j, "--batch", "b", "--reader", "sim", "--count", "1", "--no-tui", "--sim-interval", "1ms", "--master-key-file", kf)
	if r.code != 2 || !strings.Contains(r.stderr, "kdf in the config file") {
		t.Errorf("config kdf: %s", r)
	}
	if st := batchShowJSON(t, c, j, "b"); st.Stats.Done != 1 {
		t.Fatalf("a refused run encoded tags: %+v", st)
	}
	c.must(0, "batch", "new", "--journal", j, "--id", "s", "--sku", "S", "--target", "4", "--key-version", "1", "--template", simTemplate)
	if st := batchShowJSON(t, c, j, "s"); st.KDF != "sdm-backend" {
		t.Fatalf("batch new with kdf in the config file: %q", st.KDF)
	}
}

func batchShowJSON(t *testing.T, c *cli, j, id string) batchJSON {
	t.Helper()
	var b batchJSON
	if err := json.Unmarshal([]byte(c.must(0, "batch", "show", id, "--journal", j, "--json").stdout), &b); err != nil {
		t.Fatal(err)
	}
	return b
}

var _ = batch.DefaultKDF

// A SKU with a tab (or any control character) is refused at batch new:
// the journal, the CSV manifest and the screen would each show it
// differently.
func TestBatchNewRefusesControlCharactersInSKU(t *testing.T) {
	c := newCLI(t)
	j := c.path("j.db")
	for _, sku := range []string{"A\tB", "A\x7fB", "\u0085AB"} {
		r := c.must(2, "batch", "new", "--journal", j, "--sku", sku, "--target", "1", "--key-version", "1", "--template", simTemplate)
		if !strings.Contains(r.stderr, "control character") {
			t.Errorf("sku %q: %s", sku, r.stderr)
		}
	}
	if s := c.must(0, "batch", "list", "--journal", j).stdout; !strings.Contains(s, "no batches") {
		t.Errorf("a batch was created:\n%s", s)
	}
}
