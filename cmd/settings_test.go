package cmd

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// The one precedence rule: flag, then environment, then config file, then
// the default; and the config file is not read when an earlier source
// gives the value.
func TestLookupPrecedence(t *testing.T) {
	s := setting{flag: "token-file", env: envSyncTokenFile, key: "token_file"}
	for _, tc := range []struct {
		name, flag, envVal, cfgVal string
		want, wantFrom             string
	}{
		{"flag", "f", "e", "c", "f", "--token-file"},
		{"env", "", "e", "c", "e", "$" + envSyncTokenFile},
		{"config", "", "", "c", "c", "token_file in the config file"},
		{"none", "", "", "", "", ""},
	} {
		e := newEnv(strings.NewReader(""), io.Discard, io.Discard)
		e.getenv = func(k string) string {
			if k == envSyncTokenFile {
				return tc.envVal
			}
			return ""
		}
		e.cfg = &config{TokenFile: tc.cfgVal}
		got, from, err := e.lookup(s, tc.flag)
		if err != nil || got != tc.want || from != tc.wantFrom {
			t.Errorf("%s: got %q from %q (%v), want %q from %q", tc.name, got, from, err, tc.want, tc.wantFrom)
		}
	}
	// A broken config file matters only when it is consulted.
	e := newEnv(strings.NewReader(""), io.Discard, io.Discard)
	e.getenv = func(string) string { return "" }
	e.configFlag = "/nonexistent/tagline.toml"
	if v, _, err := e.lookup(s, "flag"); err != nil || v != "flag" {
		t.Errorf("flag given: %q, %v", v, err)
	}
	if _, _, err := e.lookup(s, ""); !errors.Is(err, errConfig) {
		t.Errorf("config consulted: %v", err)
	}
}

// lookupFlag: a flag with a default counts as given only on the command
// line, and its default comes after the config file.
func TestLookupFlagDefault(t *testing.T) {
	s := setting{flag: "listen", key: "listen"}
	for _, tc := range []struct {
		args   []string
		cfg    string
		want   string
		wantBy string
	}{
		{nil, "", "127.0.0.1:8424", "--listen"},
		{nil, ":9000", ":9000", "listen in the config file"},
		{[]string{"--listen", ":1"}, ":9000", ":1", "--listen"},
	} {
		c := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }}
		var v string
		c.Flags().StringVar(&v, "listen", "127.0.0.1:8424", "")
		if err := c.ParseFlags(tc.args); err != nil {
			t.Fatal(err)
		}
		e := newEnv(strings.NewReader(""), io.Discard, io.Discard)
		e.getenv = func(string) string { return "" }
		e.cfg = &config{Listen: tc.cfg}
		got, from, err := e.lookupFlag(c, s)
		if err != nil || got != tc.want || from != tc.wantBy {
			t.Errorf("%v cfg %q: got %q from %q (%v)", tc.args, tc.cfg, got, from, err)
		}
	}
}

func TestParseConfigServe(t *testing.T) {
	text := "store = \"bolt:serve.db\"\nkey_versions = [1, 2]\ntoken_file = \"sync.tokens\"\n\n[redirects]\n\"CAP-30-BLUE\" = \"https://brand.example/cap\"\n"
	cfg, err := parseConfig("/etc/tagline/config.toml", text)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Store != "bolt:serve.db" || len(cfg.KeyVersions) != 2 || cfg.KeyVersions[1] != 2 ||
		cfg.TokenFile != "/etc/tagline/sync.tokens" || cfg.Redirects["CAP-30-BLUE"] != "https://brand.example/cap" {
		t.Errorf("%+v", cfg)
	}
	for text, want := range map[string]string{
		"key_versions = [1, \"x\"]\n":         `:1: key_versions: must be a list of numbers 1 to 255`,
		"listen = 8424\n":                     `:1: listen: must be a quoted string`,
		"[redirects]\nA = \"u\"\nB = 3\n":     `:3: redirects.B: must be SKU = "URL" pairs`,
		"[serve]\nstore = \"bolt:x\"\n":       `:1: tables ([serve]) are not supported`,
		"[redirects.x]\nA = \"u\"\n":          `:1: tables ([redirects.x]) are not supported`,
		"journal = \"a\"\n\n\nstor = \"x\"\n": `:4: unknown key "stor"`,
	} {
		_, err := parseConfig("c.toml", text)
		if err == nil || !strings.Contains(err.Error(), "config c.toml"+want) {
			t.Errorf("%q: %v, want %s", text, err, want)
		}
	}
}
