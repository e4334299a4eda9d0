package sdm

import (
	"strings"
	"testing"
)

// FuzzVerifyLRP feeds arbitrary URLs, seeded with genuine LRP taps of each
// template shape (and the sdm-backend example's PICCData), to Verify, the
// parser that serve and verify run on every phone's request. It must never
// panic, and whatever it accepts must be one of the genuine taps: a
// mutation that verifies is a forgery (2^-64 for a changed MAC, a bug for
// anything else). Upper and lower case of hex digits and of the scheme
// and host prefix are the same tap.
func FuzzVerifyLRP(f *testing.F) {
	meta, file := lrpKeys(f)
	uid := []byte{0x04, 0x2E, 0x1D, 0x22, 0x2A, 0x63, 0x80}
	var tps []*Template
	genuine := map[string]bool{}
	for i, raw := range fuzzTemplates {
		tp, err := ParseTemplate(raw)
		if err != nil {
			f.Fatal(err)
		}
		lt, err := tp.LRP()
		if err != nil {
			f.Fatal(err)
		}
		tps = append(tps, tp, lt)
		url := lrpSunURL(f, lt, meta, file, uid, Counter(i+1), [8]byte{byte(i), 0xE1, 0x50, 0x89, 0x39, 0xEC, 0xF6, 0xFF})
		genuine[strings.ToUpper(url)] = true
		f.Add(url)
	}
	f.Add("https://brand.example/t?picc_data=AAE1508939ECF6FF26BCE407959AB1A5EC022819A35CD293&cmac=5E3DB82C19E3865F")
	f.Add("https://brand.example/t?picc_data=&cmac=")
	f.Fuzz(func(t *testing.T, url string) {
		for _, tp := range tps {
			v, err := tp.Verify(url, lookup{meta, file})
			if err != nil || !v.LRP {
				continue
			}
			if !genuine[strings.ToUpper(url)] {
				t.Fatalf("%s verified %q, which no tag produced (uid %X)", tp.raw, url, v.UID)
			}
		}
	})
}
