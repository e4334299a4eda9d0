package cmd

import (
	"reflect"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
)

// FuzzParseConfig: no input panics, and what a config file is accepted as
// is written back in the canonical form and read again to the same values
// (so every accepted value passed its own check).
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		"station_id      = \"line3-st1\"\njournal         = \"/var/lib/tagline/journal.db\"\nreader          = \"pcsc:ACS ACR122U PICC Interface 00 00\"\nmaster_key_file = \"/etc/tagline/master.key\"\ntemplate        = \"https://sdm.tagline.example/tag?picc_data={picc}&cmac={mac}\"\nkdf             = \"tagline\"\n",
		"\ufeff# comment\n\njournal = 'relative/j.db' # trailing\n",
		"journal = \"a\\tb\\u00e9\"\n",
		"[station]\n",
		"journal = \"a\" junk\n",
		"reader = \"libnfc:pn532_uart:/dev/ttyUSB0\"\nkdf = \"sdm-backend\"\n",
		"store = \"bolt:/var/lib/tagline/serve.db\"\nlisten = \":8424\"\nkey_versions = [1, 2]\ntoken_file = \"sync.tokens\"\nlog_level = \"debug\"\ndefault_redirect = \"https://brand.example/\"\n[redirects]\n\"CAP-30-BLUE\" = \"https://brand.example/cap\"\n",
		"redirects = { A = \"https://a.example/\" }\nkey_versions = [3]\n",
	} {
		f.Add(s)
	}
	const path = "/etc/tagline/config.toml"
	f.Fuzz(func(t *testing.T, text string) {
		cfg, err := parseConfig(path, text)
		if err != nil {
			if !strings.Contains(err.Error(), "config "+path) {
				t.Fatalf("error without the file: %v", err)
			}
			return
		}
		canon, err := toml.Marshal(cfg)
		if err != nil {
			t.Fatalf("%q: accepted config does not marshal: %v", text, err)
		}
		again, err := parseConfig(path, string(canon))
		if err != nil {
			t.Fatalf("canonical form of %q refused: %v\n%s", text, err, canon)
		}
		if !reflect.DeepEqual(again, cfg) {
			t.Fatalf("%q: read back %+v, want %+v", text, again, cfg)
		}
	})
}
