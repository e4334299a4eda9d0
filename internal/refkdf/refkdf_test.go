package refkdf_test

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/tagline-station/tagline/internal/refkdf"
	"github.com/tagline-station/tagline/internal/vectors"
	"github.com/tagline-station/tagline/keys"
)

// UIDs to derive for; the first is the README's example.
var uids = []string{"04DE5F1EACC040", "04000000000000", "04FFFFFFFFFFFF", "04112233445566"}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameKeys fails unless the reference keys are the ones package keys
// derives, slot by slot.
func sameKeys(t *testing.T, what string, ref [refkdf.Slots][16]byte, got keys.KeySet) {
	t.Helper()
	for n := range ref {
		k, err := keys.NewKey(ref[n][:])
		if err != nil {
			t.Fatal(err)
		}
		if !got.Keys[n].Equal(k) {
			t.Errorf("%s slot %d: package keys has check value %s, the README's derivation %s", what, n, got.Keys[n].KCV(), k.KCV())
		}
	}
}

func TestTaglineMatchesPackageKeys(t *testing.T) {
	for _, mh := range []string{"00112233445566778899AABBCCDDEEFF", "2B7E151628AED2A6ABF7158809CF4F3C"} {
		mb := mustHex(t, mh)
		m, err := keys.NewMaster(mb)
		if err != nil {
			t.Fatal(err)
		}
		for _, ver := range []byte{1, 2, 255} {
			d, err := keys.NewDeriver(keys.SchemeTagline, m, ver)
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range uids {
				ref, err := refkdf.Tagline(mb, mustHex(t, u), ver)
				if err != nil {
					t.Fatal(err)
				}
				ks, err := d.Tag(mustHex(t, u))
				if err != nil {
					t.Fatal(err)
				}
				sameKeys(t, mh[:8]+"/"+u, ref, ks)
			}
		}
	}
}

func TestSDMBackendMatchesPackageKeysAndVectors(t *testing.T) {
	cases := vectors.SDMBackendKDF(t)
	if len(cases) < 4 {
		t.Fatalf("%d cases", len(cases))
	}
	for _, c := range cases {
		mb, uid := mustHex(t, c.MasterKey), mustHex(t, c.UID)
		ref, err := refkdf.SDMBackend(mb, uid)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.ToUpper(hex.EncodeToString(ref[1][:])); got != strings.ToUpper(c.MetaReadKey) {
			t.Errorf("%s: meta-read key differs from sdm-backend's", c.UID)
		}
		if got := strings.ToUpper(hex.EncodeToString(ref[2][:])); got != strings.ToUpper(c.TagKeys["2"]) {
			t.Errorf("%s: file-read key differs from sdm-backend's", c.UID)
		}
		m, err := keys.NewMaster(mb)
		if err != nil {
			t.Fatal(err)
		}
		d, err := keys.NewDeriver(keys.SchemeSDMBackend, m, 1)
		if err != nil {
			t.Fatal(err)
		}
		ks, err := d.Tag(uid)
		if err != nil {
			t.Fatal(err)
		}
		sameKeys(t, c.MasterKey[:8]+"/"+c.UID, ref, ks)
	}
}

// A wrong master key gives other keys: the comparison above can fail.
func TestOtherMasterOtherKeys(t *testing.T) {
	a, _ := refkdf.Tagline(mustHex(t, "00112233445566778899AABBCCDDEEFF"), mustHex(t, uids[0]), 1)
	b, _ := refkdf.Tagline(mustHex(t, "00112233445566778899AABBCCDDEEFE"), mustHex(t, uids[0]), 1)
	for n := range a {
		if a[n] == b[n] {
			t.Errorf("slot %d does not depend on the master key", n)
		}
	}
	if _, err := refkdf.Tagline(make([]byte, 32), mustHex(t, uids[0]), 1); err == nil {
		t.Error("a 32-byte master key accepted by the tagline derivation")
	}
}
