package cmd

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/tagline-station/tagline/apdu"
	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/encoder"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/sdm"
	"github.com/tagline-station/tagline/station"
)

const testKeyHex = "00112233445566778899aabbccddeeff"

func TestExitCodeMapping(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("boom"), 1},
		{usageErrorf("", "bad flag"), 2},
		{fmt.Errorf("x: %w", keys.ErrMasterKey), 2},
		{fmt.Errorf("x: %w", sdm.ErrTemplate), 2},
		{fmt.Errorf("x: %w", batch.ErrNoBatch), 2},
		{&configError{path: "c", line: 3, msg: "bad"}, 2},
		{fmt.Errorf("x: %w", reader.ErrTagRemoved), 3},
		{fmt.Errorf("x: %w", reader.ErrStackUnavailable), 3},
		{&encoder.StepError{Step: encoder.StepAuth, Err: apdu.ErrAuthFailed}, 3},
		{&batch.DuplicateError{UID: "04", BatchID: "b"}, 3},
		{fmt.Errorf("x: %w", encoder.ErrReadBack), 4},
		{fmt.Errorf("x: %w", sdm.ErrBadMAC), 4},
		{fmt.Errorf("x: %w", batch.ErrLocked), 6},
		{fmt.Errorf("x: %w", batch.ErrCorrupt), 5},
		{fmt.Errorf("x: %w", batch.ErrForeign), 5},
		{fmt.Errorf("x: %w", batch.ErrWrongStation), 5},
		{withHint(fmt.Errorf("x: %w", batch.ErrLocked), "h"), 6},
		{withCode(ExitJournal, errors.New("x"), ""), 5},
		{silentExit(4), 4},
	} {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestRootHelpDocumentsExitCodes(t *testing.T) {
	c := newCLI(t)
	r := c.must(0, "--help")
	for _, want := range []string{"Exit codes:", "0  ok", "1  any other", "2  usage", "3  tag or reader", "4  verification", "5  journal"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("root --help lacks %q", want)
		}
	}
}

// Every command has copy-pasteable examples and a short description.
func TestEveryCommandHasExample(t *testing.T) {
	root := newRootCmd(newEnv(nil, &bytes.Buffer{}, &bytes.Buffer{}))
	var walk func(*cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		n++
		if c.Example == "" {
			t.Errorf("%s has no Example", c.CommandPath())
		}
		if c.Short == "" {
			t.Errorf("%s has no Short", c.CommandPath())
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
	if n < 15 {
		t.Errorf("only %d commands", n)
	}
}

func TestUsageErrors(t *testing.T) {
	c := newCLI(t)
	for _, args := range [][]string{
		{"bogus"},
		{"batch", "bogus"},
		{"demo", "extra"},
		{"demo", "--count", "x"},
		{"demo", "--no-such-flag"},
		{"demo", "--count", "0"},
		{"batch", "show"},
		{"completion", "tcsh"},
		{"encode"},
	} {
		r := c.must(2, args...)
		if !strings.HasPrefix(r.stderr, "tagline: ") || !strings.Contains(r.stderr, "\nhint: ") {
			t.Errorf("%v: stderr %q is not 'tagline: ...' with a hint", args, r.stderr)
		}
		if regexp.MustCompile(`^tagline: [A-Z][a-z]`).MatchString(r.stderr) {
			t.Errorf("%v: error not lower case: %q", args, r.stderr)
		}
	}
	r := c.must(2, "bacth")
	if !strings.Contains(r.stderr, `did you mean "batch"`) {
		t.Errorf("no suggestion: %q", r.stderr)
	}
}

func TestDemoText(t *testing.T) {
	c := newCLI(t)
	r := c.must(0, "demo", "--count", "3")
	lines := regexp.MustCompile(`(?m)^PASS  (04[0-9A-F]{12})  DEMO-SKU  ctr 1  (https://sdm\.tagline\.example/tag\?picc_data=[0-9A-F]{32}&cmac=[0-9A-F]{16})$`).FindAllStringSubmatch(r.stdout, -1)
	if len(lines) != 3 {
		t.Fatalf("want 3 PASS lines:\n%s", r.stdout)
	}
	if !regexp.MustCompile(`(?m)^3 tags in [0-9.]+s \([0-9.]+ tags/s\): 3 passed$`).MatchString(r.stdout) {
		t.Errorf("no summary line with a rate:\n%s", r.stdout)
	}
	// The key file is created, named with its KCV, private, and never printed.
	key, err := os.ReadFile(c.path(demoKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(c.path(demoKeyFile))
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("demo key mode %v", fi.Mode().Perm())
	}
	m, err := keys.ParseMaster(key)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.stdout, "master key: tagline-demo.key, created now") || !strings.Contains(r.stdout, "kcv "+m.KCV()) {
		t.Errorf("output does not name the key file and its KCV:\n%s", r.stdout)
	}
	assertNoSecret(t, strings.TrimSpace(string(key)), r)
	k := keysFromFile(t, c.path(demoKeyFile), "tagline", 1)
	for _, l := range lines {
		v, err := checkSUN(k, l[2])
		if err != nil || v.UID != l[1] || v.Ctr != 1 {
			t.Errorf("%s: %v (%+v)", l[2], err, v)
		}
	}

	// A second run reuses the key and opens a new batch in the same journal.
	r2 := c.must(0, "demo", "--count", "1")
	key2, _ := os.ReadFile(c.path(demoKeyFile))
	if !bytes.Equal(key, key2) {
		t.Error("the demo key changed between runs")
	}
	if strings.Contains(r2.stdout, "created now") || !strings.Contains(r2.stdout, "kcv "+m.KCV()) {
		t.Errorf("second run:\n%s", r2.stdout)
	}
	var list []batchJSON
	if err := json.Unmarshal([]byte(c.must(0, "batch", "list", "--journal", demoJournal, "--json").stdout), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].SKU != demoSKU || list[0].KeyVersion != 1 || list[0].Stats.Done != 3 || list[1].Stats.Done != 1 ||
		!strings.HasPrefix(list[0].ID, "demo-") {
		t.Errorf("batches: %+v", list)
	}
}

func TestDemoJSONVerifies(t *testing.T) {
	c := newCLI(t)
	r := c.must(0, "demo", "--json", "--count", "4")
	ls := parseTagLines(t, r.stdout)
	if len(ls) != 4 {
		t.Fatalf("%d JSON lines", len(ls))
	}
	k := keysFromFile(t, c.path(demoKeyFile), "tagline", 1)
	seen := map[string]bool{}
	for _, l := range ls {
		if l.SKU != demoSKU || l.Outcome != "encoded" || !l.OK || l.Reader != "sim" || l.Exchanges == 0 || l.DurationMS <= 0 ||
			!strings.HasPrefix(l.Batch, "demo-") || !regexp.MustCompile(`^04[0-9A-F]{12}$`).MatchString(l.UID) {
			t.Errorf("line %+v", l)
		}
		v, err := checkSUN(k, l.URL)
		if err != nil {
			t.Fatalf("%s: %v", l.URL, err)
		}
		if v.UID != l.UID || v.Ctr != l.ReadCtr || l.ReadCtr != 1 {
			t.Errorf("url says %s/%d, line %s/%d", v.UID, v.Ctr, l.UID, l.ReadCtr)
		}
		seen[l.UID] = true
	}
	if len(seen) != 4 {
		t.Error("UIDs are not distinct")
	}
	// stdout is JSON only; the notes went to stderr.
	if !strings.Contains(r.stderr, "master key: tagline-demo.key") || !strings.Contains(r.stderr, "4 tags in") {
		t.Errorf("stderr: %q", r.stderr)
	}
	// A URL with a flipped MAC nibble does not verify: the check is real.
	bad := ls[0].URL[:len(ls[0].URL)-1] + flipHex(ls[0].URL[len(ls[0].URL)-1:])
	if _, err := checkSUN(k, bad); err == nil {
		t.Error("a tampered URL verified")
	}
}

func flipHex(s string) string {
	if s == "0" {
		return "1"
	}
	return "0"
}

func TestDemoSDMBackend(t *testing.T) {
	c := newCLI(t)
	// A 32-byte master key, which only the sdm-backend derivation accepts.
	const master = "47BBB68AFA73F31310BEEFCE5DDA692DBAD671A03FEAD5A9BBDBCF3CD6D4C521"
	kf := c.write("backend.key", master+"\n", 0o600)
	r := c.must(0, "demo", "--kdf", "sdm-backend", "--master-key-file", kf, "--count", "2", "--json")
	k := keysFromFile(t, kf, "sdm-backend", 1)
	for _, l := range parseTagLines(t, r.stdout) {
		if _, err := checkSUN(k, l.URL); err != nil {
			t.Errorf("%s: %v", l.URL, err)
		}
	}
	if _, err := os.Stat(c.path(demoKeyFile)); err == nil {
		t.Error("demo created its own key although --master-key-file was given")
	}
	assertNoSecret(t, master, r)
	// The tagline derivation refuses a 32-byte key, without echoing it.
	r = c.must(2, "demo", "--master-key-file", kf, "--count", "1")
	assertNoSecret(t, master, r)
}

// The test's own sdm-backend derivation matches the published vectors, so
// the check above is independent of package keys.
func TestSDMBackendTestDerivationMatchesVectors(t *testing.T) {
	var v struct {
		Cases []struct {
			MasterKey   string            `json:"master_key"`
			UID         string            `json:"uid"`
			MetaReadKey string            `json:"meta_read_key"`
			TagKeys     map[string]string `json:"tag_keys"`
		} `json:"cases"`
	}
	b, err := os.ReadFile(filepath.Join("..", "testdata", "vectors", "sdm_backend_kdf.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	for _, tc := range v.Cases {
		m, _ := hex.DecodeString(tc.MasterKey)
		uid, _ := hex.DecodeString(tc.UID)
		k := sdmBackendKeys(t, m)
		wantMeta, _ := hex.DecodeString(tc.MetaReadKey)
		wantFile, _ := hex.DecodeString(tc.TagKeys["2"])
		wm, _ := keys.NewKey(wantMeta)
		wf, _ := keys.NewKey(wantFile)
		if !k.meta.Equal(wm) || !k.fileRead(uid).Equal(wf) {
			t.Errorf("case %s/%s: derivation differs from the vector", tc.MasterKey[:8], tc.UID)
		}
	}
}

func TestDemoEnc(t *testing.T) {
	c := newCLI(t)
	kf := c.write("k.key", testKeyHex, 0o600)
	r := c.must(0, "demo", "--enc", "--master-key-file", kf, "--count", "2", "--json")
	k := keysFromFile(t, kf, "tagline", 1)
	for _, l := range parseTagLines(t, r.stdout) {
		if !strings.Contains(l.URL, "&enc=") {
			t.Fatalf("no enc in %s", l.URL)
		}
		v, err := checkSUN(k, l.URL)
		if err != nil {
			t.Fatalf("%s: %v", l.URL, err)
		}
		if string(v.FileData) != "DEMO-SKU        " {
			t.Errorf("enc data %q", v.FileData)
		}
	}
	c.must(2, "demo", "--enc", "--template", demoTemplate)
}

func TestBadTemplateHint(t *testing.T) {
	c := newCLI(t)
	for _, args := range [][]string{
		{"demo", "--template", "https://x.example/?m={mac}"},
		{"batch", "new", "--journal", "j.db", "--sku", "S", "--target", "1", "--key-version", "1", "--template", "ftp://x/{picc}"},
	} {
		r := c.must(2, args...)
		if !strings.Contains(r.stderr, "template") || !strings.Contains(r.stderr, "hint: a template is an https URL with {picc} and {mac}") {
			t.Errorf("%v: %s", args, r.stderr)
		}
	}
	if _, err := os.Stat(c.path("j.db")); err == nil {
		t.Error("a bad template created a journal")
	}
}

func TestBatchLifecycle(t *testing.T) {
	c := newCLI(t)
	j := c.path("station.db")
	r := c.must(0, "batch", "new", "--journal", j, "--id", "run-1", "--sku", "SKU-1", "--target", "3", "--key-version", "2",
		"--template", "https://brand.example/t?picc_data={picc}&cmac={mac}", "--notes", "first run")
	if !strings.Contains(r.stdout, "created batch run-1") {
		t.Errorf("new: %s", r.stdout)
	}
	c.must(2, "batch", "new", "--journal", j, "--id", "run-1", "--sku", "SKU-1", "--target", "3", "--key-version", "2",
		"--template", "https://brand.example/t?picc_data={picc}&cmac={mac}")
	c.must(2, "batch", "new", "--journal", j, "--sku", "SKU-1", "--target", "3", "--template", "https://brand.example/t?picc_data={picc}&cmac={mac}")
	c.must(2, "batch", "new", "--journal", j, "--sku", "SKU-1", "--target", "3", "--key-version", "0", "--template", "https://brand.example/t?picc_data={picc}&cmac={mac}")

	kf := c.write("master.key", testKeyHex, 0o600)
	r = c.must(0, "encode", "--journal", j, "--batch", "run-1", "--reader", "sim", "--sim-interval", "1ms",
		"--count", "3", "--master-key-file", kf, "--json")
	ls := parseTagLines(t, r.stdout)
	if len(ls) != 3 {
		t.Fatalf("%d results", len(ls))
	}
	k := keysFromFile(t, kf, "tagline", 2)
	for _, l := range ls {
		if _, err := checkSUN(k, l.URL); err != nil {
			t.Errorf("%s: %v", l.URL, err)
		}
	}

	var show batchJSON
	if err := json.Unmarshal([]byte(c.must(0, "batch", "show", "run-1", "--journal", j, "--json").stdout), &show); err != nil {
		t.Fatal(err)
	}
	if show.ID != "run-1" || show.Stats.Done != 3 || show.Progress != 1 || show.Status != batch.StatusOpen || show.KeyVersion != 2 || show.Notes != "first run" {
		t.Errorf("show: %+v", show)
	}
	txt := c.must(0, "batch", "show", "run-1", "--journal", j).stdout
	if !strings.Contains(txt, "3 of 3 (100.0%)") {
		t.Errorf("show text:\n%s", txt)
	}
	c.must(2, "batch", "show", "nope", "--journal", j)

	// Export twice: the same bytes, to stdout and atomically to a file.
	e1 := c.must(0, "batch", "export", "run-1", "--journal", j).stdout
	e2 := c.must(0, "batch", "export", "run-1", "--journal", j, "--format", "jsonl").stdout
	if e1 != e2 || strings.Count(e1, "\n") != 5 || !strings.Contains(e1, `"format":"tagline-manifest/1"`) {
		t.Fatalf("exports differ or are incomplete:\n%s\n%s", e1, e2)
	}
	for _, l := range ls {
		if !strings.Contains(e1, `"uid":"`+l.UID+`"`) {
			t.Errorf("manifest lacks %s", l.UID)
		}
	}
	out := c.path("out/manifest.csv")
	os.MkdirAll(filepath.Dir(out), 0o755)
	r = c.must(0, "batch", "export", "run-1", "--journal", j, "--format", "csv", "-o", out)
	if !strings.Contains(r.stderr, "wrote 3 records to") {
		t.Errorf("stderr %q", r.stderr)
	}
	csv1, _ := os.ReadFile(out)
	c.must(0, "batch", "export", "run-1", "--journal", j, "--format", "csv", "-o", out)
	csv2, _ := os.ReadFile(out)
	if !bytes.Equal(csv1, csv2) || len(csv1) == 0 {
		t.Error("csv exports differ")
	}
	if ents, _ := os.ReadDir(filepath.Dir(out)); len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
	c.must(2, "batch", "export", "run-1", "--journal", j, "--format", "xml")
	// --since past the last record gives header and trailer only.
	if s := c.must(0, "batch", "export", "run-1", "--journal", j, "--since", "3").stdout; strings.Count(s, "\n") != 2 {
		t.Errorf("since 3:\n%s", s)
	}

	// Close: no more tags; closing again is harmless.
	r = c.must(0, "batch", "close", "run-1", "--journal", j)
	if !strings.Contains(r.stdout, "closed batch run-1 (3 done of 3)") {
		t.Errorf("close: %s", r.stdout)
	}
	c.must(0, "batch", "close", "run-1", "--journal", j)
	r = c.must(2, "encode", "--journal", j, "--batch", "run-1", "--reader", "sim", "--count", "1", "--master-key-file", kf)
	if !strings.Contains(r.stderr, "batch is closed") || !strings.Contains(r.stderr, "hint: create a new batch") {
		t.Errorf("encode closed batch: %s", r.stderr)
	}
	lst := c.must(0, "batch", "list", "--journal", j).stdout
	if !regexp.MustCompile(`run-1\s+closed\s+SKU-1\s+2\s+3\s+3`).MatchString(lst) {
		t.Errorf("list:\n%s", lst)
	}
}

func TestBatchListWithoutJournal(t *testing.T) {
	c := newCLI(t)
	r := c.must(0, "batch", "list", "--journal", c.path("none.db"))
	if !strings.Contains(r.stdout, "no batches") {
		t.Errorf("%s", r.stdout)
	}
	if strings.TrimSpace(c.must(0, "batch", "list", "--journal", c.path("none.db"), "--json").stdout) != "[]" {
		t.Error("json list of no journal is not []")
	}
	c.must(5, "journal", "check", "--journal", c.path("none.db"))
	c.must(5, "batch", "show", "x", "--journal", c.path("none.db"))
	if _, err := os.Stat(c.path("none.db")); err == nil {
		t.Error("a read command created the journal")
	}
}

func TestJournalCheck(t *testing.T) {
	c := newCLI(t)
	c.must(0, "demo", "--count", "2")
	r := c.must(0, "journal", "check", "--journal", demoJournal)
	if !strings.Contains(r.stdout, "journal tagline-demo.db: ok") || !strings.Contains(r.stdout, "2 bindings") {
		t.Errorf("%s", r.stdout)
	}
	var rep journalCheckJSON
	if err := json.Unmarshal([]byte(c.must(0, "journal", "check", "--journal", demoJournal, "--json").stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Report == nil || rep.Report.Bindings != 2 || len(rep.OpenIntents) != 0 {
		t.Errorf("%+v", rep)
	}

	// Corrupt: truncated. Exit 5, clear message, file unchanged.
	good, _ := os.ReadFile(demoJournal)
	bad := c.write("bad.db", string(good[:8192]), 0o600)
	r = c.must(5, "journal", "check", "--journal", bad)
	if !strings.Contains(r.stderr, "journal is corrupt") || !strings.Contains(r.stderr, "truncated") || !strings.Contains(r.stderr, "hint:") {
		t.Errorf("%s", r.stderr)
	}
	if after, _ := os.ReadFile(bad); !bytes.Equal(after, good[:8192]) {
		t.Error("check changed a corrupt file")
	}
	r = c.must(5, "journal", "check", "--journal", bad, "--json")
	var jr journalCheckJSON
	if err := json.Unmarshal([]byte(r.stdout), &jr); err != nil || jr.OK || !strings.Contains(jr.Error, "corrupt") {
		t.Errorf("json: %v %+v", err, jr)
	}
	// Encoding into it is refused the same way.
	c.must(5, "batch", "new", "--journal", bad, "--sku", "S", "--target", "1", "--key-version", "1", "--template", demoTemplate)

	// Foreign: not a bbolt file.
	foreign := c.write("notes.db", "hello, not a journal\n", 0o600)
	r = c.must(5, "journal", "check", "--journal", foreign)
	if !strings.Contains(r.stderr, "not a tagline journal") {
		t.Errorf("%s", r.stderr)
	}
}

func TestJournalLocked(t *testing.T) {
	c := newCLI(t)
	c.must(0, "demo", "--count", "1")
	st, err := batch.Open(demoJournal, batch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	start := time.Now()
	// Nothing answers for the journal (no station serves a copy), so
	// the reader is told it is busy, not that it is broken.
	r := c.must(ExitBusy, "journal", "check", "--journal", demoJournal)
	if !strings.Contains(r.stderr, "journal is locked") || !strings.Contains(r.stderr, "hint: a running station holds the journal") {
		t.Errorf("%s", r.stderr)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("locked check took %v", d)
	}
	r = c.must(ExitBusy, "demo", "--count", "1")
	if !strings.Contains(r.stderr, "locked") {
		t.Errorf("%s", r.stderr)
	}
}

func TestKeysCheck(t *testing.T) {
	c := newCLI(t)
	kf := c.write("master.key", testKeyHex+"\n", 0o600)
	m, _ := keys.ParseMaster([]byte(testKeyHex))
	r := c.must(0, "keys", "check", "--master-key-file", kf)
	for _, want := range []string{"length             16 bytes", "kcv                " + m.KCV(), "kdf                tagline", "key version        1", "meta-read key kcv"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("lacks %q:\n%s", want, r.stdout)
		}
	}
	assertNoSecret(t, testKeyHex, r)
	var kj keysCheckJSON
	r = c.must(0, "keys", "check", "--master-key-file", kf, "--kdf", "sdm-backend", "--key-version", "3", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &kj); err != nil {
		t.Fatal(err)
	}
	if kj.Length != 16 || kj.KCV != m.KCV() || kj.KDF != "sdm-backend" || kj.KeyVersion != 3 || len(kj.MetaReadKCV) != 6 {
		t.Errorf("%+v", kj)
	}
	assertNoSecret(t, testKeyHex, r)

	// From the environment variable; and with no key at all.
	c.env[envMasterKeyFile] = kf
	if r := c.must(0, "keys", "check"); !strings.Contains(r.stdout, kf) {
		t.Errorf("env source: %s", r.stdout)
	}
	delete(c.env, envMasterKeyFile)
	r = c.must(2, "keys", "check")
	if !strings.Contains(r.stderr, "no master key given") || !strings.Contains(r.stderr, "hint: give the master key with --master-key-file") {
		t.Errorf("%s", r.stderr)
	}

	// A world-readable key file is used but warned about.
	loose := c.write("loose.key", testKeyHex, 0o644)
	if r := c.must(0, "keys", "check", "--master-key-file", loose); !strings.Contains(r.stderr, "can be read by other users") {
		t.Errorf("no warning: %s", r.stderr)
	}
}

func TestBadMasterKeyIsNotEchoed(t *testing.T) {
	c := newCLI(t)
	for _, secret := range []string{
		"00112233445566778899aabbccddeeg0",   // one typo
		"00112233445566778899aabbccddee",     // too short
		"correct horse battery staple 12345", // not hex at all
		"00112233445566778899aabbccddeeff0",  // odd
	} {
		kf := c.write("bad.key", secret, 0o600)
		for _, args := range [][]string{
			{"keys", "check", "--master-key-file", kf},
			{"demo", "--master-key-file", kf, "--count", "1"},
		} {
			r := c.must(2, args...)
			if !strings.Contains(r.stderr, "bad master key") {
				t.Errorf("%v: %s", args, r.stderr)
			}
			assertNoSecret(t, secret, r)
			assertNoSecret(t, secret[:16], r)
		}
	}
}

// assertNoSecret fails when s (or its upper- or lower-case form) appears
// anywhere in the output.
func assertNoSecret(t *testing.T, s string, r result) {
	t.Helper()
	all := r.stdout + r.stderr
	for _, v := range []string{s, strings.ToUpper(s), strings.ToLower(s)} {
		if strings.Contains(all, v) {
			t.Fatalf("output contains the secret %q", v)
		}
	}
}

func TestEncodeSimText(t *testing.T) {
	c := newCLI(t)
	c.must(0, "demo", "--count", "1")
	id := demoBatchID(t, c)
	r := c.must(0, "encode", "--journal", demoJournal, "--batch", id, "--reader", "sim", "--count", "2", "--no-tui",
		"--sim-interval", "1ms", "--master-key-file", demoKeyFile, "--over-target")
	if n := len(regexp.MustCompile(`(?m)^PASS  04[0-9A-F]{12}  DEMO-SKU  ctr 1  https://`).FindAllString(r.stdout, -1)); n != 2 {
		t.Errorf("%d PASS lines:\n%s", n, r.stdout)
	}
	if !strings.Contains(r.stdout, "2 tags in") || !strings.Contains(r.stdout, "batch "+id+": 3 of 1 done") {
		t.Errorf("summary:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "is simulated: its tags are marked so") {
		t.Errorf("no sim note: %s", r.stderr)
	}
	// Two simulated readers, one journal.
	r = c.must(0, "encode", "--journal", demoJournal, "--batch", id, "--readers", "sim:a,sim:b", "--count", "4", "--json",
		"--sim-interval", "1ms", "--master-key-file", demoKeyFile, "--over-target")
	ls := parseTagLines(t, r.stdout)
	readers := map[string]int{}
	for _, l := range ls {
		readers[l.Reader]++
	}
	if len(ls) < 4 || len(readers) != 2 {
		t.Errorf("results per reader: %v", readers)
	}
	c.must(2, "encode", "--journal", demoJournal, "--batch", id, "--readers", "sim:a,sim:a", "--count", "1", "--master-key-file", demoKeyFile)
	c.must(2, "encode", "--journal", demoJournal, "--batch", id, "--reader", "sim", "--all-readers", "--master-key-file", demoKeyFile)
	c.must(2, "encode", "--journal", demoJournal, "--batch", id, "--master-key-file", demoKeyFile)
	c.must(2, "encode", "--journal", demoJournal, "--batch", "nope", "--reader", "sim", "--master-key-file", demoKeyFile)
}

func demoBatchID(t *testing.T, c *cli) string {
	t.Helper()
	var list []batchJSON
	if err := json.Unmarshal([]byte(c.must(0, "batch", "list", "--journal", demoJournal, "--json").stdout), &list); err != nil || len(list) == 0 {
		t.Fatalf("no batch: %v", err)
	}
	return list[len(list)-1].ID
}

func TestEncodeReencodeNeedsConfirmation(t *testing.T) {
	c := newCLI(t)
	c.must(0, "demo", "--count", "1")
	id := demoBatchID(t, c)
	args := []string{"encode", "--journal", demoJournal, "--batch", id, "--reader", "sim", "--count", "1", "--reencode",
		"--sim-interval", "1ms", "--master-key-file", demoKeyFile, "--no-tui"}
	r := c.must(2, args...)
	if !strings.Contains(r.stderr, "needs confirmation") || !strings.Contains(r.stderr, "hint: pass --yes") {
		t.Errorf("%s", r.stderr)
	}
	c.stdinTTY, c.stdin = true, "n\n"
	r = c.must(1, args...)
	if !strings.Contains(r.stderr, "Continue? [y/N]") || !strings.Contains(r.stderr, "not confirmed") {
		t.Errorf("%s", r.stderr)
	}
	c.stdin = "y\n"
	c.must(0, args...)
	c.stdinTTY, c.stdin = false, ""
	c.must(0, append(args, "--yes")...)
}

// Ctrl-C while the station waits: it stops cleanly and exits 0.
func TestEncodeInterruptIsClean(t *testing.T) {
	c := newCLI(t)
	c.must(0, "demo", "--count", "1")
	id := demoBatchID(t, c)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.ctx = ctx
	c.stdout = &syncBuffer{}
	first := c.stdout.when("PASS")
	done := make(chan result, 1)
	go func() {
		done <- c.run("encode", "--journal", demoJournal, "--batch", id, "--reader", "sim", "--no-tui",
			"--sim-interval", "1h", "--master-key-file", demoKeyFile, "--over-target")
	}()
	waitOrFail(t, first, 20*time.Second, "the first tag")
	cancel()
	var r result
	select {
	case r = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("encode did not stop after the interrupt")
	}
	if r.code != 0 || !strings.Contains(r.stderr, "stopping: finishing the tag in progress") || !strings.Contains(r.stdout, "1 tag in") {
		t.Errorf("%s", r)
	}
	c.ctx, c.stdout = nil, nil
	// Nothing is left half-done.
	var rep journalCheckJSON
	json.Unmarshal([]byte(c.must(0, "journal", "check", "--journal", demoJournal, "--json").stdout), &rep)
	if len(rep.OpenIntents) != 0 {
		t.Errorf("open intents after a clean stop: %+v", rep.OpenIntents)
	}
}

func TestReadersListsSim(t *testing.T) {
	c := newCLI(t)
	r := c.must(0, "readers")
	if !regexp.MustCompile(`(?m)^sim\s+sim\s+simulated\s+sim$`).MatchString(r.stdout) {
		t.Errorf("%s", r.stdout)
	}
	var rj readersJSON
	if err := json.Unmarshal([]byte(c.must(0, "readers", "--json").stdout), &rj); err != nil {
		t.Fatal(err)
	}
	if len(rj.Readers) == 0 || rj.Readers[0].Kind != reader.KindSim || len(rj.Stacks) != 2 {
		t.Errorf("%+v", rj)
	}
	for _, s := range rj.Stacks {
		if !s.Available && !strings.Contains(r.stdout, string(s.Kind)+": unavailable (") {
			t.Errorf("stack %s unavailable but not reported:\n%s", s.Kind, r.stdout)
		}
	}
}

func TestCompletionAndVersion(t *testing.T) {
	c := newCLI(t)
	for sh, want := range map[string]string{"bash": "__start_tagline", "zsh": "#compdef tagline", "fish": "complete -c tagline", "powershell": "Register-ArgumentCompleter"} {
		if r := c.must(0, "completion", sh); !strings.Contains(r.stdout, want) {
			t.Errorf("%s completion lacks %q", sh, want)
		}
	}
	r := c.must(0, "version")
	if !strings.HasPrefix(r.stdout, "tagline ") || !strings.Contains(r.stdout, "go1.") {
		t.Errorf("%s", r.stdout)
	}
	var v versionInfo
	if err := json.Unmarshal([]byte(c.must(0, "version", "--json").stdout), &v); err != nil || v.Go == "" || v.Version == "" {
		t.Errorf("%v %+v", err, v)
	}
}

func TestConfigPrecedence(t *testing.T) {
	c := newCLI(t)
	kf := c.write("cfg/master.key", testKeyHex, 0o600)
	flagKey := c.write("flag.key", "ffeeddccbbaa99887766554433221100", 0o600)
	c.write("cfg/config.toml", `# station config
station_id      = "line1"   # trailing comment
journal         = "station.db"
master_key_file = 'master.key'
template        = "https://sdm.tagline.example/tag?picc_data={picc}&cmac={mac}"
kdf             = "sdm-backend"
reader          = "sim"
`, 0o600)
	cfgPath := c.path("cfg/config.toml")
	mcfg, _ := keys.ParseMaster([]byte(testKeyHex))
	mflag, _ := keys.ParseMaster([]byte("ffeeddccbbaa99887766554433221100"))

	// --config: relative paths are taken from the config file's folder.
	r := c.must(0, "--config", cfgPath, "keys", "check", "--json")
	var kj keysCheckJSON
	json.Unmarshal([]byte(r.stdout), &kj)
	if kj.Source != kf || kj.KCV != mcfg.KCV() || kj.KDF != "sdm-backend" {
		t.Errorf("config values: %+v", kj)
	}
	// The environment variable beats the config file, the flag beats both.
	c.env[envMasterKeyFile] = flagKey
	json.Unmarshal([]byte(c.must(0, "--config", cfgPath, "keys", "check", "--json").stdout), &kj)
	if kj.KCV != mflag.KCV() {
		t.Errorf("env did not override config: %+v", kj)
	}
	delete(c.env, envMasterKeyFile)
	json.Unmarshal([]byte(c.must(0, "--config", cfgPath, "keys", "check", "--json", "--master-key-file", flagKey, "--kdf", "tagline").stdout), &kj)
	if kj.KCV != mflag.KCV() || kj.KDF != "tagline" {
		t.Errorf("flags did not override config: %+v", kj)
	}

	// $TAGLINE_CONFIG is used without --config; journal, template, station
	// and reader come from it.
	c.env[envConfig] = cfgPath
	r = c.must(0, "batch", "new", "--sku", "S", "--target", "2", "--key-version", "1", "--id", "b1")
	if !strings.Contains(r.stdout, filepath.Join(c.dir, "cfg", "station.db")) {
		t.Errorf("journal from config: %s", r.stdout)
	}
	st, err := batch.Open(c.path("cfg/station.db"), batch.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if st.StationID() != "line1" {
		t.Errorf("station id %q", st.StationID())
	}
	st.Close()
	r = c.must(0, "encode", "--batch", "b1", "--count", "1", "--json", "--sim-interval", "1ms")
	for _, l := range parseTagLines(t, r.stdout) {
		if _, err := checkSUN(keysFromFile(t, kf, "sdm-backend", 1), l.URL); err != nil {
			t.Errorf("encode with config key and kdf: %v", err)
		}
	}
	// --journal beats the config file.
	c.must(0, "batch", "list", "--journal", c.path("other.db"))
	if _, err := os.Stat(c.path("other.db")); err == nil {
		t.Error("batch list created a journal")
	}
	// --config beats $TAGLINE_CONFIG.
	empty := c.write("empty.toml", "", 0o600)
	c.must(2, "--config", empty, "keys", "check")

	// The per-user default is read when nothing else names a file.
	delete(c.env, envConfig)
	c.write("home/.config/tagline/config.toml", `master_key_file = "`+kf+`"`+"\n", 0o600)
	if r := c.must(0, "keys", "check"); !strings.Contains(r.stdout, kf) {
		t.Errorf("default config not read: %s", r.stdout)
	}

	// A named config that does not exist is an error; version ignores config.
	c.must(2, "--config", c.path("missing.toml"), "keys", "check")
	c.must(0, "--config", c.path("missing.toml"), "version")
}

func TestConfigErrors(t *testing.T) {
	c := newCLI(t)
	for _, tc := range []struct{ text, want string }{
		{"journal = \"a\"\njornal = \"b\"\n", `:2: unknown key "jornal"`},
		{"# c\n\n[station]\n", `:3: tables ([station]) are not supported`},
		{"journal = a.db\n", `:1: journal: values must be quoted strings`},
		{"journal = \"a.db\n", `:1: journal: unterminated string`},
		{"kdf = \"hkdf\"\n", `:1: kdf: `},
		{"template = \"http://x/{picc}\"\n", `:1: template: `},
		{"journal = \"a\"\njournal = \"b\"\n", `:2: journal is set twice (first on line 1)`},
		{"station_id = \"-x\"\n", `:1: station_id: `},
		{"reader = \"pcsc:\"\n", `:1: reader: `},
		{"journal \"a\"\n", `:1: expected key = "value"`},
		{"journal = \"a\" junk\n", `:1: journal: unexpected "junk"`},
	} {
		p := c.write("bad.toml", tc.text, 0o600)
		r := c.must(2, "--config", p, "batch", "list")
		if !strings.Contains(r.stderr, "tagline: config "+p+tc.want) || !strings.Contains(r.stderr, "hint: the config file holds lines") {
			t.Errorf("%q: %s", tc.text, r.stderr)
		}
	}
}

func TestParseConfigValues(t *testing.T) {
	cfg, err := parseConfig("/etc/tagline/config.toml", "\ufeffjournal = \"j\\\"1.db\"\nmaster_key_file = '/abs/k'\nreader = \"libnfc:pn532_uart:/dev/ttyUSB0\"\n")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Journal != `/etc/tagline/j"1.db` || cfg.MasterKeyFile != "/abs/k" || cfg.Reader != "libnfc:pn532_uart:/dev/ttyUSB0" {
		t.Errorf("%+v", cfg)
	}
}

func TestParseReaderSpec(t *testing.T) {
	for in, want := range map[string]readerSpec{
		"sim":                            {Kind: reader.KindSim, Name: "sim", Raw: "sim"},
		"sim:2":                          {Kind: reader.KindSim, Name: "sim:2", Raw: "sim:2"},
		"pcsc:ACS ACR122U 00 00":         {Kind: reader.KindPCSC, Name: "ACS ACR122U 00 00", Raw: "pcsc:ACS ACR122U 00 00"},
		"Virtual PCD 00 00":              {Kind: reader.KindPCSC, Name: "Virtual PCD 00 00", Raw: "Virtual PCD 00 00"},
		"libnfc":                         {Kind: reader.KindLibNFC, Name: "", Raw: "libnfc"},
		"libnfc:pn532_uart:/dev/ttyUSB0": {Kind: reader.KindLibNFC, Name: "pn532_uart:/dev/ttyUSB0", Raw: "libnfc:pn532_uart:/dev/ttyUSB0"},
	} {
		got, err := parseReaderSpec(in)
		if err != nil || got != want {
			t.Errorf("%q: %+v %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "pcsc:", " "} {
		if _, err := parseReaderSpec(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestLogFile(t *testing.T) {
	c := newCLI(t)
	lf := c.path("tagline.log")
	r := c.must(0, "--log", lf, "demo", "--count", "1")
	b, _ := os.ReadFile(lf)
	if !strings.Contains(string(b), "tag result") || !strings.Contains(string(b), "outcome=encoded") {
		t.Errorf("log:\n%s", b)
	}
	if strings.Contains(r.stdout+r.stderr, "level=") {
		t.Error("log lines reached the screen")
	}
	key, _ := os.ReadFile(demoKeyFile)
	if strings.Contains(strings.ToLower(string(b)), strings.TrimSpace(string(key))) {
		t.Error("the log holds the key")
	}
	c.must(2, "--log", c.path("no/such/dir/x.log"), "version")
}

// On a terminal encode hands the lanes' events to the operator UI and
// prints no per-tag lines; quitting the UI stops the station cleanly.
func TestEncodeOperatorUI(t *testing.T) {
	c := newCLI(t)
	c.must(0, "demo", "--count", "1")
	id := demoBatchID(t, c)
	var got uiConfig
	results := 0
	c.stdoutTTY = true
	c.runUI = func(ctx context.Context, cfg uiConfig) error {
		got = cfg
		for ev := range cfg.Events {
			if ev.Result != nil {
				results++
				if results == 2 {
					return nil // the operator presses q
				}
			}
		}
		return nil
	}
	r := c.must(0, "encode", "--journal", demoJournal, "--batch", id, "--reader", "sim", "--sim-interval", "1ms", "--master-key-file", demoKeyFile, "--over-target")
	if got.Batch.ID != id || got.Gate == nil || len(got.Readers) != 1 || got.Readers[0] != "sim" || got.Logger == nil || got.Stats.Done != 1 {
		t.Errorf("ui config: %+v", got)
	}
	if strings.Contains(r.stdout, "PASS") || !regexp.MustCompile(`(?m)^\d+ tags in .*: \d+ passed; batch `).MatchString(r.stdout) {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	// --no-tui and --json keep the plain output on a terminal.
	c.runUI = func(context.Context, uiConfig) error { t.Error("UI started with --no-tui"); return nil }
	r = c.must(0, "encode", "--journal", demoJournal, "--batch", id, "--reader", "sim", "--count", "1", "--no-tui", "--sim-interval", "1ms", "--master-key-file", demoKeyFile, "--over-target")
	if !strings.Contains(r.stdout, "PASS  ") {
		t.Errorf("no plain line: %s", r.stdout)
	}
	c.must(0, "encode", "--journal", demoJournal, "--batch", id, "--reader", "sim", "--count", "1", "--json", "--sim-interval", "1ms", "--master-key-file", demoKeyFile, "--over-target")
}

// A run's exit code is the worst of its tags: a verification failure (4)
// beats a tag error (3); passes alone give 0.
func TestTallyExitCode(t *testing.T) {
	now := time.Now()
	var tl tally
	tl.add(&station.Result{Outcome: manifest.Encoded}, now)
	tl.add(&station.Result{Outcome: manifest.Finished}, now)
	if tl.failureError() != nil || tl.Passed != 2 {
		t.Fatalf("%+v", tl)
	}
	tl.add(&station.Result{Outcome: manifest.Duplicate, Err: &batch.DuplicateError{UID: "04", BatchID: "b"}}, now)
	if exitCode(tl.failureError()) != ExitTag {
		t.Errorf("duplicate: %d", exitCode(tl.failureError()))
	}
	tl.add(&station.Result{Outcome: manifest.Failed, Err: &encoder.StepError{Step: encoder.StepReadBack, Err: fmt.Errorf("%w: mac", encoder.ErrReadBack)}}, now)
	if exitCode(tl.failureError()) != ExitVerify {
		t.Errorf("read-back: %d", exitCode(tl.failureError()))
	}
	tl.add(&station.Result{Outcome: manifest.Failed, Err: errors.New("something odd")}, now)
	if exitCode(tl.failureError()) != ExitVerify || tl.Failed != 2 || tl.Total != 5 {
		t.Errorf("%+v", tl)
	}
	var j tally
	j.add(&station.Result{Outcome: manifest.Failed, Err: &encoder.StepError{Step: encoder.StepJournal, Err: batch.ErrLocked}}, now)
	if exitCode(j.failureError()) != ExitBusy {
		t.Errorf("journal: %d", exitCode(j.failureError()))
	}
	var u tally
	u.add(&station.Result{Outcome: manifest.Failed, Err: errors.New("odd")}, now)
	if exitCode(u.failureError()) != ExitTag {
		t.Errorf("unknown tag failure: %d", exitCode(u.failureError()))
	}
}

// Tags whose encoding started and did not finish are listed with what to
// do, and are not an error.
func TestJournalCheckListsOpenIntents(t *testing.T) {
	c := newCLI(t)
	j := c.path("j.db")
	c.must(0, "batch", "new", "--journal", j, "--id", "b1", "--sku", "S", "--target", "2", "--key-version", "1", "--template", demoTemplate)
	st, err := batch.Open(j, batch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, uid := range []string{"04A1B2C3D4E5F6", "04000000000001"} {
		if err := st.BeginIntent(batch.Intent{UID: manifest.UID(uid), BatchID: "b1", KeyVersion: 1, MasterKCV: "ABCDEF"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.FailIntent("04A1B2C3D4E5F6", "change keys: tag removed", batch.KeysMayHaveChanged); err != nil {
		t.Fatal(err)
	}
	st.Close()
	r := c.must(0, "journal", "check", "--journal", j)
	for _, want := range []string{
		"2 open intents (tags started and not finished):",
		"04A1B2C3D4E5F6  batch b1  started",
		"last error: change keys: tag removed",
		"what to do: the tag may hold some new keys: present it again at a station encoding batch b1",
		"04000000000001  batch b1",
		// An intent with no recorded failure is what a killed station
		// leaves behind: its keys may have changed too.
		"last attempt has no recorded outcome",
		"what to do: the tag may hold some new keys (no outcome was recorded: the station stopped during the attempt, or is still at work on the tag): present it again at a station encoding batch b1 (same master key, key version 1)",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "not changed") {
		t.Errorf("an open intent is said to have untouched keys:\n%s", r.stdout)
	}
	var rep journalCheckJSON
	if err := json.Unmarshal([]byte(c.must(0, "journal", "check", "--journal", j, "--json").stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.OpenIntents) != 2 || rep.OpenIntents[1].Action == "" || !rep.OpenIntents[1].KeysMayHaveChanged ||
		!rep.OpenIntents[0].KeysMayHaveChanged || rep.OpenIntents[0].State != batch.IntentInProgress || rep.OpenIntents[1].State != batch.IntentFailed {
		t.Errorf("%+v", rep.OpenIntents)
	}
	if s := c.must(0, "batch", "show", "b1", "--journal", j).stdout; !strings.Contains(s, "tagline journal check lists the open intents") {
		t.Errorf("show:\n%s", s)
	}
}
