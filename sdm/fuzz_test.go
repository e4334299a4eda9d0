package sdm

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tagline-station/tagline/keys"
)

// fuzzTemplates are the shapes a station writes: encrypted PICCData, plain
// UID and counter, and encrypted file data.
var fuzzTemplates = []string{
	"https://brand.example/t?picc_data={picc}&cmac={mac}",
	"https://www.brand.example/t?u={uid}&c={ctr}&m={mac}",
	"https://brand.example/t?picc_data={picc}&enc={enc}&cmac={mac}",
}

// FuzzURLFromNDEF reads arbitrary NDEF file contents, which come from tags
// in the field (a foreign tag, a torn write, a hostile card). URLFromNDEF
// must never panic; what it accepts must be exactly one short URI record
// whose bytes it rebuilds; and Verify must refuse a forged URL without
// panicking whatever it holds.
func FuzzURLFromNDEF(f *testing.F) {
	for _, raw := range fuzzTemplates {
		tp, err := ParseTemplate(raw)
		if err != nil {
			f.Fatal(err)
		}
		ndef, err := tp.NDEF([]byte("SKU-0000-0000-01"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(ndef)
	}
	f.Add(make([]byte, 32))
	m, _ := keys.NewMaster(bytes.Repeat([]byte{0x5A}, 16))
	d, err := keys.NewDeriver(keys.SchemeTagline, m, 1)
	if err != nil {
		f.Fatal(err)
	}
	var tps []*Template
	for _, raw := range fuzzTemplates {
		tp, _ := ParseTemplate(raw)
		tps = append(tps, tp)
	}
	f.Fuzz(func(t *testing.T, file []byte) {
		url, err := URLFromNDEF(file)
		if err != nil {
			return
		}
		n := int(file[0])<<8 | int(file[1])
		prefix := ""
		for _, p := range uriPrefixes {
			if p.code == file[6] {
				prefix = p.prefix
			}
		}
		if !strings.HasPrefix(url, prefix) {
			t.Fatalf("url %q lacks the prefix of code %02X", url, file[6])
		}
		again := append([]byte{byte(n >> 8), byte(n), 0xD1, 0x01, byte(n - 4), 'U', file[6]}, url[len(prefix):]...)
		if !bytes.Equal(again, file[:2+n]) {
			t.Fatalf("% X read as %q, which rebuilds as % X", file[:2+n], url, again)
		}
		for _, tp := range tps {
			// The MAC of fuzzed content is a 2^-64 forgery; anything
			// else that verifies is a bug.
			if v, err := tp.Verify(url, d); err == nil {
				t.Fatalf("forged url %q verified (uid %X)", url, v.UID)
			}
		}
	})
}
