package cmd

import (
	"strings"
	"testing"
)

// FuzzParseReaderSpec: any --reader value parses or is refused without a
// panic; an alias, when there is one, is a valid one and the spec behind
// it parses on its own to the same reader.
func FuzzParseReaderSpec(f *testing.F) {
	for _, s := range []string{
		"sim", "sim:2", "pcsc:ACS ACR122U PICC Interface 00 00", "Virtual PCD 00 01", "libnfc",
		"libnfc:pn532_uart:/dev/ttyUSB0", "left=pcsc:ACS ACR122U PICC Interface 00 00", "right=sim",
		"a=b=c", "=sim", "left=", "pcsc:Odd=Name 00 00", "  r.1 = libnfc ", "é=sim", "x=pcsc:",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sp, err := parseReaderSpec(s)
		if err != nil {
			return
		}
		if sp.Alias == "" {
			return
		}
		if err := checkAlias(sp.Alias); err != nil {
			t.Fatalf("%q: alias %q accepted: %v", s, sp.Alias, err)
		}
		_, rest, _ := strings.Cut(s, "=")
		bare, err := parseBareSpec(strings.TrimSpace(rest))
		if err != nil || bare.Kind != sp.Kind || bare.Name != sp.Name {
			t.Fatalf("%q: %+v, but its reader alone is %+v, %v", s, sp, bare, err)
		}
	})
}
