package conformance

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/tagline-station/tagline/internal/vectors"
	"github.com/tagline-station/tagline/lrp"
)

// The LRP vectors (testdata/vectors/lrp_vectors.json) join the dispatch
// table from here so that the shared table stays as it was.
func init() {
	byAlgorithm["lrp-plaintexts-updated-keys"] = checkLRPKeys
	byAlgorithm["lrp-eval"] = checkLRPEval
	byAlgorithm["lrp-lricb"] = checkLRICB
	byAlgorithm["lrp-cmac"] = checkLRPCMAC
}

// number reads a JSON number input.
func number(t *testing.T, v vectors.Vector, name string) int {
	t.Helper()
	f, ok := v.Inputs[name].(float64)
	if !ok {
		t.Fatalf("vector %s: no numeric input %q", v.Name, name)
	}
	return int(f)
}

func checkLRPKeys(t *testing.T, v vectors.Vector) {
	l := lrp.New(key(t, v.In(t, "key")))
	checkKey(t, v, "plaintext_0", l.Plaintext(0))
	checkKey(t, v, "plaintext_15", l.Plaintext(15))
	checkKey(t, v, "updated_key_0", l.UpdatedKey(0))
	checkKey(t, v, "updated_key_2", l.UpdatedKey(2))
}

func checkLRPEval(t *testing.T, v vectors.Vector) {
	s, _ := v.Inputs["nibbles"].(string)
	n := make([]byte, len(s))
	for i := range s {
		b, err := hex.DecodeString("0" + s[i:i+1])
		if err != nil || s == "" {
			t.Fatalf("vector %s: nibbles %q", v.Name, s)
		}
		n[i] = b[0]
	}
	l := lrp.New(key(t, v.In(t, "key")))
	checkKey(t, v, "result", l.EvalNibbles(number(t, v, "updated_key"), n, v.Bool("final")))
}

func checkLRICB(t *testing.T, v vectors.Vector) {
	l := lrp.New(key(t, v.In(t, "key")))
	u, ctr := number(t, v, "updated_key"), v.In(t, "counter")
	plain := v.In(t, "plaintext")
	if v.Bool("pad") {
		plain = lrp.Pad(plain)
	}
	c := l.LRICB(u, ctr)
	ct, err := c.Encrypt(plain)
	if err != nil {
		t.Fatal(err)
	}
	vectors.Check(t, v, "ciphertext", ct)
	vectors.Check(t, v, "next_counter", c.Counter())
	back, err := l.LRICB(u, ctr).Decrypt(v.Out(t, "ciphertext"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back, plain) {
		vectors.Errorf(t, v, "decryption gives %X, want %X", back, plain)
	}
}

func checkLRPCMAC(t *testing.T, v vectors.Vector) {
	l := lrp.New(key(t, v.In(t, "key")))
	k1, k2 := l.Subkeys()
	if msg := v.In(t, "message"); len(msg) > 0 && len(msg)%16 == 0 {
		checkKey(t, v, "kx", k1)
	} else {
		checkKey(t, v, "kx", k2)
	}
	m := l.CMAC(v.In(t, "message"))
	vectors.Check(t, v, "mac", m[:])
}
