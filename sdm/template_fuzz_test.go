package sdm

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseTemplate: no input panics, and a template that is accepted is
// one a phone sends unchanged, fits the NDEF file with valid settings, and
// the URL read back from its NDEF bytes matches it.
func FuzzParseTemplate(f *testing.F) {
	for _, s := range []string{
		"https://sdm.tagline.example/tag?picc_data={picc}&cmac={mac}",
		"https://brand.example/t?picc_data={picc}&enc={enc}&cmac={mac}",
		"https://brand.example/t?u={uid}&c={ctr}&m={mac}",
		"https://brand.example/t/{uid}/{ctr}/{mac}",
		"https://www.my424dna.com/?picc_data={picc}&enc={enc}&cmac={mac}",
		"https://x.example/t#p={picc}&m={mac}",
		"https://x.example/t?p={picc}&m={mac}&n=a b",
		"https://x.example/café?p={picc}&m={mac}",
		"https://u:p@x.example:443/a/../t?p={picc}&m={mac}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		tp, err := ParseTemplate(raw)
		if err != nil {
			return
		}
		if !utf8.ValidString(raw) || strings.ContainsAny(raw, "# %\"'<>\\^`|[]") || !strings.HasPrefix(raw, "https://") {
			t.Fatalf("accepted %q", raw)
		}
		for i := 0; i < len(raw); i++ {
			if raw[i] < 0x21 || raw[i] > 0x7e {
				t.Fatalf("accepted byte %#x in %q", raw[i], raw)
			}
		}
		ndef, err := tp.NDEF(make([]byte, EncDataLen))
		if err != nil || len(ndef) > NDEFFileSize {
			t.Fatalf("%q: ndef %d bytes: %v", raw, len(ndef), err)
		}
		if err := tp.Settings(1, 2).Validate(NDEFFileSize); err != nil {
			t.Fatalf("%q: settings: %v", raw, err)
		}
		u, err := URLFromNDEF(ndef)
		if err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		if _, err := tp.match(u); err != nil {
			t.Fatalf("%q: the url of its own ndef file %q does not match", raw, u)
		}
		if err := tp.roundTrip(); err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
	})
}
