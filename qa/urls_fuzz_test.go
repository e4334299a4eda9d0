package qa

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// FuzzURLLines: any input is refused with ErrInputLimit or a read error,
// or yields trimmed, non-empty URLs on increasing lines within the bounds.
func FuzzURLLines(f *testing.F) {
	f.Add([]byte("# captured by phone 1\nhttps://sdm.tagline.example/tag?picc_data=00112233445566778899AABBCCDDEEFF&cmac=0011223344556677\n\n"))
	f.Add([]byte(`{"reader":"sim0","uid":"0451A001000001","url":"https://sdm.tagline.example/tag?picc_data=EF&cmac=01","read_ctr":1}` + "\r\n" + `{"url":null}` + "\n" + `{"url": "  "}`))
	f.Add([]byte("a\r\nb\rc\n\x00\xff\n" + strings.Repeat("x", 70)))
	lim := URLLimits{MaxLineBytes: 64, MaxLines: 20, MaxBytes: 512}
	f.Fuzz(func(t *testing.T, data []byte) {
		lines, err := readURLLines(bytes.NewReader(data), lim)
		if err != nil {
			if !errors.Is(err, ErrInputLimit) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		prev := 0
		for _, l := range lines {
			if l.n <= prev || l.n > lim.MaxLines {
				t.Fatalf("line %d after %d", l.n, prev)
			}
			prev = l.n
			if len(l.url) > lim.MaxLineBytes {
				t.Fatalf("url %q on line %d", l.url, l.n)
			}
		}
		if len(data) > int(lim.MaxBytes) {
			t.Fatalf("%d bytes accepted", len(data))
		}
	})
}
