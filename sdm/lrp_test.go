package sdm

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/tagline-station/tagline/keys"
)

// lrpSunURL is what a tag in LRP mode mirrors for tp (an LRP layout).
func lrpSunURL(t testing.TB, tp *Template, meta, file keys.Key, uid []byte, ctr Counter, piccRand [8]byte) string {
	t.Helper()
	plain := []byte("file data 16 by.")
	ndef, err := tp.NDEF(plain)
	if err != nil {
		t.Fatal(err)
	}
	u, err := URLFromNDEF(ndef)
	if err != nil {
		t.Fatal(err)
	}
	prefixLen := len(u) - len(tp.rest)
	b := []byte(u[prefixLen:])
	put := func(name string, v []byte) { copy(b[tp.pos[name]:], strings.ToUpper(hexs(v))) }
	if tp.Encrypted() {
		enc := EncryptPICCDataLRP(meta, piccRand, uid, ctr, true, true, []byte{1, 2, 3, 4, 5})
		put(PhPICC, enc[:])
	} else {
		put(PhUID, uid)
		put(PhCtr, []byte{byte(ctr >> 16), byte(ctr >> 8), byte(ctr)})
	}
	in := tp.pos[PhMAC]
	if tp.HasEnc() {
		in = tp.pos[PhEnc]
		ct, err := EncryptFileDataLRP(file, uid, ctr, plain)
		if err != nil {
			t.Fatal(err)
		}
		put(PhEnc, ct)
	}
	mac := MACLRP(file, uid, ctr, b[in:tp.pos[PhMAC]])
	put(PhMAC, mac[:])
	return u[:prefixLen] + string(b)
}

func lrpKeys(t testing.TB) (meta, file keys.Key) {
	meta, _ = keys.NewKey([]byte("meta-read key 01"))
	file, _ = keys.NewKey([]byte("file-read key 02"))
	return meta, file
}

// A template takes the taps of tags in either mode; its LRP layout only
// those of LRP tags. Each tap gives back the UID, counter and file data.
func TestLRPTapsVerify(t *testing.T) {
	meta, file := lrpKeys(t)
	uid := []byte{0x04, 0x2E, 0x1D, 0x22, 0x2A, 0x63, 0x80}
	for _, raw := range fuzzTemplates {
		tp, err := ParseTemplate(raw)
		if err != nil {
			t.Fatal(err)
		}
		lt, err := tp.LRP()
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if !lt.IsLRP() || tp.IsLRP() {
			t.Fatalf("%s: modes mixed up", raw)
		}
		url := lrpSunURL(t, lt, meta, file, uid, 0x6A, [8]byte{0xAA, 0xE1, 0x50, 0x89, 0x39, 0xEC, 0xF6, 0xFF})
		for _, v := range []*Template{tp, lt} {
			got, err := v.Verify(url, lookup{meta, file})
			if err != nil {
				t.Fatalf("%s: genuine LRP tap %s: %v", raw, url, err)
			}
			if !got.LRP || !bytes.Equal(got.UID, uid) || got.Ctr != 0x6A {
				t.Fatalf("%s: got %+v", raw, got)
			}
			if tp.HasEnc() && string(got.FileData) != "file data 16 by." {
				t.Fatalf("%s: file data %q", raw, got.FileData)
			}
		}
		aes := sunURL(t, tp, meta, file, uid, 0x6A)
		if got, err := tp.Verify(aes, lookup{meta, file}); err != nil || got.LRP {
			t.Fatalf("%s: AES tap through the either-mode template: %+v %v", raw, got, err)
		}
		if _, err := lt.Verify(aes, lookup{meta, file}); err == nil {
			t.Fatalf("%s: the LRP layout took an AES tap", raw)
		}
	}
}

// Every character of a tap's dynamic part matters: one changed hex digit
// in PICCRand, PICCData, file data or MAC, a wrong key, or an AES MAC over
// an LRP layout is refused.
func TestLRPTamperedTapsRefused(t *testing.T) {
	meta, file := lrpKeys(t)
	uid := []byte{0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66}
	for _, raw := range fuzzTemplates {
		tp, _ := ParseTemplate(raw)
		lt, _ := tp.LRP()
		url := lrpSunURL(t, lt, meta, file, uid, 9, [8]byte{1, 2, 3, 4, 5, 6, 7, 8})
		prefix := len(url) - len(lt.rest)
		for name, p := range lt.pos {
			for i := 0; i < lt.width(name); i++ {
				at := prefix + p + i
				c := byte('0')
				if url[at] == '0' {
					c = '1'
				}
				bad := url[:at] + string(c) + url[at+1:]
				if _, err := tp.Verify(bad, lookup{meta, file}); err == nil {
					t.Fatalf("%s: {%s} digit %d changed, still verified", raw, name, i)
				}
			}
		}
		other, _ := keys.NewKey([]byte("another key 0123"))
		if _, err := tp.Verify(url, lookup{meta, other}); !errors.Is(err, ErrBadMAC) {
			t.Fatalf("%s: wrong file-read key: %v", raw, err)
		}
	}
}

// The LRP layout moves everything after {picc} by 16 characters and keeps
// the rest of the file settings.
func TestLRPSettingsOffsets(t *testing.T) {
	tp, _ := ParseTemplate("https://brand.example/t?picc_data={picc}&enc={enc}&cmac={mac}")
	lt, err := tp.LRP()
	if err != nil {
		t.Fatal(err)
	}
	a, l := tp.Settings(1, 2), lt.Settings(1, 2)
	if l.PICCOffset != a.PICCOffset || l.ENCOffset != a.ENCOffset+16 || l.MACOffset != a.MACOffset+16 || l.MACInOffset != a.MACInOffset+16 {
		t.Fatalf("aes %+v\nlrp %+v", a, l)
	}
	n1, _ := tp.NDEF([]byte("file data 16 by."))
	n2, _ := lt.NDEF([]byte("file data 16 by."))
	if len(n2) != len(n1)+16 {
		t.Fatalf("ndef %d and %d bytes", len(n1), len(n2))
	}
}

// A template that fits the NDEF file only with AES's shorter {picc} has no
// LRP layout, and LRP says why.
func TestLRPLayoutMustFit(t *testing.T) {
	raw := "https://brand.example/t?p={picc}&m={mac}&x=" + strings.Repeat("a", 170)
	tp, err := ParseTemplate(raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tp.LRP(); !errors.Is(err, ErrTemplate) {
		t.Fatalf("LRP of a template that does not fit: %v", err)
	}
}

// BenchmarkVerifyLRP is the cost of one LRP tap in serve and verify.
func BenchmarkVerifyLRP(b *testing.B) {
	meta, file := lrpKeys(b)
	tp, _ := ParseTemplate(fuzzTemplates[0])
	lt, _ := tp.LRP()
	url := lrpSunURL(b, lt, meta, file, []byte{4, 1, 2, 3, 4, 5, 6}, 7, [8]byte{1})
	for b.Loop() {
		if _, err := tp.Verify(url, lookup{meta, file}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyAES is the same for an AES tap, for comparison.
func BenchmarkVerifyAES(b *testing.B) {
	meta, file := lrpKeys(b)
	tp, _ := ParseTemplate(fuzzTemplates[0])
	picc := EncryptPICCData(meta, []byte{4, 1, 2, 3, 4, 5, 6}, 7, true, true, []byte{1, 2, 3, 4, 5})
	mac := MAC(file, []byte{4, 1, 2, 3, 4, 5, 6}, 7, nil)
	url := "https://brand.example/t?picc_data=" + strings.ToUpper(hexs(picc[:])) + "&cmac=" + strings.ToUpper(hexs(mac[:]))
	for b.Loop() {
		if _, err := tp.Verify(url, lookup{meta, file}); err != nil {
			b.Fatal(err)
		}
	}
}
