package keys

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var secretHex = "C9EB67DF090AFF47C3B19A2516680B9D"

func mustMaster(t *testing.T, h string) Master {
	t.Helper()
	b, _ := hex.DecodeString(h)
	m, err := NewMaster(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Printing a key by any route shows the check value, never the bytes.
func TestSecretsDoNotPrint(t *testing.T) {
	b, _ := hex.DecodeString(secretHex)
	k, _ := NewKey(b)
	m := mustMaster(t, secretHex)
	type holder struct {
		K Key
		M Master
	}
	var logBuf bytes.Buffer
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("x", "key", k, "master", m)
	outs := []string{
		fmt.Sprint(k), fmt.Sprintf("%x", k), fmt.Sprintf("%X", k), fmt.Sprintf("%#v", k),
		fmt.Sprintf("%v", holder{k, m}), fmt.Sprintf("%+v", holder{k, m}), fmt.Sprintf("%#v", holder{k, m}),
		fmt.Sprintf("%s", m), fmt.Sprintf("%x", m), logBuf.String(),
	}
	for _, o := range outs {
		if strings.Contains(strings.ToUpper(o), secretHex[:8]) || strings.Contains(o, string(b[:4])) {
			t.Errorf("key bytes leaked: %q", o)
		}
		if !strings.Contains(o, "kcv") {
			t.Errorf("output %q does not show the check value", o)
		}
	}
	if _, err := json.Marshal(holder{k, m}); !errors.Is(err, ErrSecretMarshal) {
		t.Errorf("json marshal of a key: %v", err)
	}
}

func TestKCVIdentifiesWithoutRevealing(t *testing.T) {
	a := mustMaster(t, secretHex)
	b := mustMaster(t, "00112233445566778899AABBCCDDEEFF")
	if a.KCV() == b.KCV() || len(a.KCV()) != 6 {
		t.Fatalf("kcv %s %s", a.KCV(), b.KCV())
	}
	if a.KCV() != mustMaster(t, secretHex).KCV() {
		t.Fatal("kcv not stable")
	}
}

func TestParseMasterErrorsDoNotEchoInput(t *testing.T) {
	bad := []string{
		"C9EB67DF090AFF47C3B19A2516680B9",  // odd
		"C9EB67DF090AFF47C3B19A2516680B",   // 15 bytes
		"C9EB67DF090AFF47C3B19A2516680BZZ", // not hex, not 16/32 raw
		"",
	}
	for _, in := range bad {
		_, err := ParseMaster([]byte(in))
		if err == nil {
			t.Errorf("%q accepted", in)
			continue
		}
		if !errors.Is(err, ErrMasterKey) {
			t.Errorf("%q: error %v does not wrap ErrMasterKey", in, err)
		}
		if len(in) > 6 && strings.Contains(err.Error(), in[:6]) {
			t.Errorf("error echoes the key: %v", err)
		}
	}
	good := map[string]string{
		secretHex:                                secretHex,
		"  " + strings.ToLower(secretHex) + "\n": secretHex,
		"0x" + secretHex:                         secretHex,
	}
	for in, want := range good {
		m, err := ParseMaster([]byte(in))
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if !m.Equal(mustMaster(t, want)) {
			t.Errorf("%q parsed to another key", in)
		}
	}
	raw, _ := hex.DecodeString(secretHex)
	raw[0] = 'Q' // make sure it is not mistaken for hex text
	if m, err := ParseMaster(raw); err != nil || m.Len() != 16 {
		t.Errorf("raw key: %v", err)
	}
}

func TestLoadMasterSources(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "master.key")
	os.WriteFile(f, []byte(secretHex+"\n"), 0o600)
	want := mustMaster(t, secretHex)
	m, err := LoadMaster(Source{File: f})
	if err != nil || !m.Equal(want) {
		t.Fatalf("file: %v", err)
	}
	m, err = LoadMaster(Source{File: "-", Stdin: strings.NewReader(secretHex)})
	if err != nil || !m.Equal(want) {
		t.Fatalf("stdin: %v", err)
	}
	t.Setenv("TAGLINE_TEST_KEY", secretHex)
	m, err = LoadMaster(Source{Env: "TAGLINE_TEST_KEY"})
	if err != nil || !m.Equal(want) {
		t.Fatalf("env: %v", err)
	}
	_, err = LoadMaster(Source{File: filepath.Join(dir, "missing")})
	if !errors.Is(err, ErrMasterKey) {
		t.Fatalf("missing file: %v", err)
	}
	os.WriteFile(f, []byte("not a key at all"), 0o600)
	_, err = LoadMaster(Source{File: f})
	if !errors.Is(err, ErrMasterKey) || !strings.Contains(err.Error(), f) || strings.Contains(err.Error(), "not a key") {
		t.Fatalf("bad file content: %v", err)
	}
	_, err = LoadMaster(Source{})
	if !errors.Is(err, ErrMasterKey) || !strings.Contains(err.Error(), "--master-key-file") {
		t.Fatalf("no source: %v", err)
	}
}

// Every tag key differs from every other key of the tag and from the same
// slot of another tag, except the meta-read key, which must not depend on
// the UID.
func TestTaglineDerivationSeparatesKeys(t *testing.T) {
	d, err := NewDeriver(SchemeTagline, mustMaster(t, secretHex), 1)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := d.Tag([]byte{0x04, 1, 2, 3, 4, 5, 6})
	b, _ := d.Tag([]byte{0x04, 1, 2, 3, 4, 5, 7})
	seen := map[[16]byte]string{}
	for i, ks := range []KeySet{a, b} {
		for n, k := range ks.Keys {
			if n == SlotSDMMeta && i == 1 {
				if !k.Equal(a.Keys[SlotSDMMeta]) {
					t.Fatal("meta-read key depends on the uid")
				}
				continue
			}
			if prev, dup := seen[k.b]; dup {
				t.Fatalf("tag %d key %d equals %s", i, n, prev)
			}
			seen[k.b] = fmt.Sprintf("tag %d key %d", i, n)
		}
	}
	d2, _ := NewDeriver(SchemeTagline, mustMaster(t, secretHex), 2)
	c, _ := d2.Tag([]byte{0x04, 1, 2, 3, 4, 5, 6})
	for n := range c.Keys {
		if c.Keys[n].Equal(a.Keys[n]) {
			t.Fatalf("key %d does not depend on the key version", n)
		}
	}
	if _, err := d.Tag([]byte{1, 2, 3, 4}); !errors.Is(err, ErrUID) {
		t.Fatalf("4-byte uid: %v", err)
	}
}

// The tagline derivation as the README states it, recomputed from the
// AN10922 definition with a plain CMAC: D = 01 || M is at most 13 bytes
// here, so AN10922 pads to 32 bytes and differs from CMAC(D); this test
// pins the exact bytes so the README and the code cannot drift apart.
func TestTaglineDerivationMatchesREADME(t *testing.T) {
	d, _ := NewDeriver(SchemeTagline, mustMaster(t, "00112233445566778899AABBCCDDEEFF"), 1)
	uid := []byte{0x04, 0xDE, 0x5F, 0x1E, 0xAC, 0xC0, 0x40}
	ks, _ := d.Tag(uid)
	master, _ := NewKey(mustHex("00112233445566778899AABBCCDDEEFF"))
	for n := 0; n < NumSlots; n++ {
		var m []byte
		if n == SlotSDMMeta {
			m = []byte("TLMETA\x01")
		} else {
			m = append(append([]byte{}, uid...), 'T', 'L', 'K', byte(n), 1)
		}
		want, err := Diversify(master, m)
		if err != nil {
			t.Fatal(err)
		}
		if !ks.Keys[n].Equal(want) {
			t.Errorf("slot %d does not follow the documented input", n)
		}
	}
	if _, err := NewDeriver(SchemeTagline, mustMaster(t, strings.Repeat("AB", 32)), 1); !errors.Is(err, ErrMasterKey) {
		t.Fatalf("32-byte master for the tagline scheme: %v", err)
	}
}

func TestDiversifyRejectsBadInput(t *testing.T) {
	if _, err := Diversify(FactoryKey, nil); !errors.Is(err, ErrDiversificationInput) {
		t.Fatal(err)
	}
	if _, err := Diversify(FactoryKey, make([]byte, 32)); !errors.Is(err, ErrDiversificationInput) {
		t.Fatal(err)
	}
	// 31 bytes: D is exactly 32 bytes, the K1 path.
	if _, err := Diversify(FactoryKey, make([]byte, 31)); err != nil {
		t.Fatal(err)
	}
}

func TestParseScheme(t *testing.T) {
	for in, want := range map[string]Scheme{"": SchemeTagline, "tagline": SchemeTagline, "sdm-backend": SchemeSDMBackend} {
		if got, err := ParseScheme(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	if _, err := ParseScheme("an10922"); err == nil {
		t.Error("unknown scheme accepted")
	}
}

func mustHex(s string) []byte { b, _ := hex.DecodeString(s); return b }

func BenchmarkDeriveTag(b *testing.B) {
	m, _ := NewMaster(mustHex(secretHex))
	d, _ := NewDeriver(SchemeTagline, m, 1)
	uid := []byte{0x04, 1, 2, 3, 4, 5, 6}
	for b.Loop() {
		d.Tag(uid)
	}
}
