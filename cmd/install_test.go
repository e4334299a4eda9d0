package cmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tagline-station/tagline/batch"
)

// completions runs cobra's hidden __complete command as a shell does at
// Tab and returns the offered values (descriptions cut off).
func completions(t *testing.T, c *cli, args ...string) []string {
	t.Helper()
	r := c.must(0, append([]string{"__complete"}, args...)...)
	var vals []string
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if strings.HasPrefix(l, ":") {
			continue // the directive line
		}
		v, _, _ := strings.Cut(l, "\t")
		vals = append(vals, v)
	}
	return vals
}

func TestCompleteBatchIDs(t *testing.T) {
	c := newCLI(t)
	j := c.path("station.db")
	for _, id := range []string{"20250101-001", "20250101-002", "other"} {
		c.must(0, "batch", "new", "--journal", j, "--id", id, "--sku", "S", "--target", "1", "--key-version", "1", "--template", simTemplate)
	}
	c.must(0, "batch", "close", "20250101-001", "--journal", j)

	// Open batches first, then closed ones; the prefix typed is honoured.
	if got := completions(t, c, "encode", "--journal", j, "--batch", ""); !slices.Equal(got, []string{"20250101-002", "other", "20250101-001"}) {
		t.Errorf("encode --batch: %q", got)
	}
	if got := completions(t, c, "batch", "show", "--journal", j, "2025"); !slices.Equal(got, []string{"20250101-002", "20250101-001"}) {
		t.Errorf("batch show 2025: %q", got)
	}
	if got := completions(t, c, "batch", "export", "other", "--journal", j, ""); slices.Contains(got, "other") {
		t.Errorf("batch export takes one ID, completion offered more: %q", got)
	}
	// The journal named in the config file is used without --journal.
	c.env[envConfig] = c.write("c.toml", `journal = "station.db"`+"\n", 0o600)
	if got := completions(t, c, "verify", "--batch", "o"); !slices.Equal(got, []string{"other"}) {
		t.Errorf("verify --batch o with the config's journal: %q", got)
	}
	delete(c.env, envConfig)

	// A missing journal is not created by completing.
	if got := completions(t, c, "encode", "--journal", c.path("none.db"), "--batch", ""); len(got) != 0 {
		t.Errorf("missing journal: %q", got)
	}
	if _, err := os.Stat(c.path("none.db")); err == nil {
		t.Error("completion created a journal")
	}
}

// A station holds its journal for writing for hours: completion must give
// up quickly instead of hanging the operator's shell, and must leave the
// station's lock alone.
func TestCompleteBatchIDsJournalHeld(t *testing.T) {
	c := newCLI(t)
	j := c.path("station.db")
	c.must(0, "batch", "new", "--journal", j, "--id", "b1", "--sku", "S", "--target", "1", "--key-version", "1", "--template", simTemplate)
	st, err := batch.Open(j, batch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	start := time.Now()
	got := completions(t, c, "encode", "--journal", j, "--batch", "")
	if d := time.Since(start); d > completionBudget+2*time.Second {
		t.Errorf("completion took %v with the journal held", d)
	}
	if len(got) != 0 {
		t.Errorf("completion read a journal held by a writer: %q", got)
	}
	if _, err := st.ListBatches(); err != nil {
		t.Errorf("the writer lost its journal: %v", err)
	}
}

func TestCompleteReadersFormatsKDF(t *testing.T) {
	c := newCLI(t)
	got := completions(t, c, "encode", "--reader", "")
	if len(got) < 2 || got[0] != "sim" || got[1] != "libnfc" {
		t.Errorf("encode --reader: %q", got)
	}
	if got := completions(t, c, "verify", "--reader", "si"); !slices.Equal(got, []string{"sim"}) {
		t.Errorf("verify --reader si: %q", got)
	}
	if got := completions(t, c, "batch", "export", "--format", ""); !slices.Equal(got, []string{"csv", "jsonl"}) && !slices.Equal(got, []string{"jsonl", "csv"}) {
		t.Errorf("--format: %q", got)
	}
	if got := completions(t, c, "batch", "new", "--kdf", ""); !slices.Equal(got, []string{"tagline", "sdm-backend"}) {
		t.Errorf("--kdf: %q", got)
	}
}

func TestConfigShow(t *testing.T) {
	c := newCLI(t)
	sys := c.write("etc/tagline/config.toml", "journal = \"/var/lib/tagline/journal.db\"\nkdf = \"sdm-backend\"\nmaster_key_file = \"master.key\"\nstore = \"postgres://tagline:s3cret@db.internal/tagline\"\n", 0o644)
	key := c.write("etc/tagline/master.key", testKeyHex, 0o600)
	user := c.write("home/.config/tagline/config.toml", "kdf = \"tagline\"\n", 0o600)

	var res configShowJSON
	r := c.must(0, "config", "show", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.FilesRead, []string{sys, user}) {
		t.Errorf("files read: %q", res.FilesRead)
	}
	want := map[string]shownSetting{
		"journal":         {Key: "journal", Value: "/var/lib/tagline/journal.db", Source: "file", Where: sys},
		"kdf":             {Key: "kdf", Value: "tagline", Source: "file", Where: user},
		"master_key_file": {Key: "master_key_file", Value: key, Source: "file", Where: sys},
		"store":           {Key: "store", Value: "postgres://tagline:xxxxx@db.internal/tagline", Source: "file", Where: sys},
		"listen":          {Key: "listen", Value: "127.0.0.1:8424", Source: "default"},
		"reader":          {Key: "reader", Source: "unset"},
	}
	for _, s := range res.Settings {
		if w, ok := want[s.Key]; ok && s != w {
			t.Errorf("%s: got %+v, want %+v", s.Key, s, w)
		}
		delete(want, s.Key)
	}
	if len(want) > 0 {
		t.Errorf("not shown: %v", want)
	}
	// No secret, ever: not the key's hex, not the store's password.
	for _, out := range []string{r.stdout, c.must(0, "config", "show").stdout} {
		if strings.Contains(strings.ToUpper(out), strings.ToUpper(testKeyHex)) || strings.Contains(out, "s3cret") {
			t.Errorf("config show printed a secret:\n%s", out)
		}
	}

	// The environment beats the files, and a flag beats the environment.
	c.env[envMasterKeyFile] = "/run/keys/m.key"
	txt := c.must(0, "config", "show", "--journal", "j.db").stdout
	for _, line := range []string{`(?m)^master_key_file\s+/run/keys/m\.key\s+env \$TAGLINE_MASTER_KEY_FILE$`, `(?m)^journal\s+j\.db\s+flag --journal$`, `(?m)^reader\s+-\s+unset$`} {
		if !regexp.MustCompile(line).MatchString(txt) {
			t.Errorf("config show lacks %q:\n%s", line, txt)
		}
	}
	if !strings.Contains(txt, "system file: "+sys) {
		t.Errorf("config show does not name the system file:\n%s", txt)
	}
}

func TestManPages(t *testing.T) {
	c := newCLI(t)
	c.env["SOURCE_DATE_EPOCH"] = "1767225600" // 2026-01-01
	dir := c.path("man")
	c.must(0, "man", "--dir", dir)
	for _, name := range []string{"tagline.1", "tagline-encode.1", "tagline-batch-new.1", "tagline-config-show.1", "tagline-config.5"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), ".TH ") || !strings.Contains(string(b), "Jan 2026") {
			t.Errorf("%s is not a dated man page:\n%.300s", name, b)
		}
	}
	enc, _ := os.ReadFile(filepath.Join(dir, "tagline-encode.1"))
	if !strings.Contains(string(enc), `\fB--batch\fP`) {
		t.Errorf("tagline-encode.1 does not document --batch:\n%.500s", enc)
	}
	c.must(2, "man")
}

func TestVersionFromBuild(t *testing.T) {
	oldV, oldC := version, commit
	t.Cleanup(func() { version, commit = oldV, oldC })
	version, commit = "1.4.0", "0123456789abcdef0123456789abcdef01234567"
	c := newCLI(t)
	var v versionInfo
	if err := json.Unmarshal([]byte(c.must(0, "version", "--json").stdout), &v); err != nil || v.Version != "1.4.0" {
		t.Errorf("version --json with -X version=1.4.0: %+v %v", v, err)
	}
	if out := c.must(0, "version").stdout; !strings.HasPrefix(out, "tagline 1.4.0 (commit 0123456789ab, ") {
		t.Errorf("version: %q", out)
	}
	version = ""
	if v := buildVersion(); v.Version == "" || v.Version == "1.4.0" {
		t.Errorf("without -X: %+v", v)
	}
}

// A key of the user's file replaces the system's whole: a list or a table
// is not merged entry by entry, and relative paths stay relative to the
// file that names them.
func TestConfigLayersReplaceWholeValues(t *testing.T) {
	c := newCLI(t)
	sys := c.write("etc/tagline/config.toml", "key_versions = [1, 2]\ntoken_file = \"sync.token\"\n[redirects]\n\"A\" = \"https://brand.example/a\"\n\"B\" = \"https://brand.example/b\"\n", 0o644)
	c.write("home/.config/tagline/config.toml", "redirects = { \"C\" = \"https://brand.example/c\" }\njournal = \"j.db\"\n", 0o600)
	var res configShowJSON
	if err := json.Unmarshal([]byte(c.must(0, "config", "show", "--json").stdout), &res); err != nil {
		t.Fatal(err)
	}
	got := map[string]shownSetting{}
	for _, s := range res.Settings {
		got[s.Key] = s
	}
	if s := got["redirects"]; s.Value != "C=https://brand.example/c" || s.Source != "file" || !strings.HasSuffix(s.Where, "home/.config/tagline/config.toml") {
		t.Errorf("redirects: %+v", s)
	}
	if s := got["key_versions"]; s.Value != "1, 2" || s.Where != sys {
		t.Errorf("key_versions: %+v", s)
	}
	if s := got["token_file"]; s.Value != c.path("etc/tagline/sync.token") {
		t.Errorf("token_file relative to the system file: %+v", s)
	}
	if s := got["journal"]; s.Value != c.path("home/.config/tagline/j.db") {
		t.Errorf("journal relative to the user's file: %+v", s)
	}
}
