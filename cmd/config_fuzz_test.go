package cmd

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
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
		var b strings.Builder
		for _, kv := range [][2]string{
			{"station_id", cfg.StationID}, {"journal", cfg.Journal}, {"reader", cfg.Reader},
			{"master_key_file", cfg.MasterKeyFile}, {"template", cfg.Template}, {"kdf", cfg.KDF},
		} {
			if kv[1] != "" {
				fmt.Fprintf(&b, "%s = %s\n", kv[0], strconv.Quote(kv[1]))
			}
		}
		again, err := parseConfig(path, b.String())
		if err != nil {
			t.Fatalf("canonical form of %q refused: %v\n%s", text, err, b.String())
		}
		if again != cfg {
			t.Fatalf("%q: read back %+v, want %+v", text, again, cfg)
		}
	})
}
