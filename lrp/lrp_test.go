package lrp

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/tagline-station/tagline/keys"
)

func testKey(t *testing.T, b byte) keys.Key {
	t.Helper()
	k, err := keys.NewKey(bytes.Repeat([]byte{b}, 16))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// The published vectors are checked in internal/conformance; these tests
// pin the properties the vectors do not show.

func TestLRICBRoundTripAdvancesOneCounter(t *testing.T) {
	l := New(testKey(t, 7))
	plain := bytes.Repeat([]byte("0123456789abcdef"), 3)
	enc := l.LRICB(1, []byte{0, 0, 0, 1})
	ct, err := enc.Encrypt(plain)
	if err != nil {
		t.Fatal(err)
	}
	if got := enc.Counter(); !bytes.Equal(got, []byte{0, 0, 0, 4}) {
		t.Fatalf("counter after 3 blocks = %X, want 00000004", got)
	}
	// Equal plaintext blocks encrypt differently: each has its own counter.
	if bytes.Equal(ct[:16], ct[16:32]) {
		t.Fatal("two blocks under different counters gave the same ciphertext")
	}
	back, err := l.LRICB(1, []byte{0, 0, 0, 1}).Decrypt(ct)
	if err != nil || !bytes.Equal(back, plain) {
		t.Fatalf("round trip = %X, %v", back, err)
	}
	// Another updated key does not decrypt it.
	other, _ := l.LRICB(0, []byte{0, 0, 0, 1}).Decrypt(ct)
	if bytes.Equal(other, plain) {
		t.Fatal("updated key 0 decrypted what updated key 1 encrypted")
	}
}

func TestCounterWrapsAndKeepsItsLength(t *testing.T) {
	c := []byte{0xFF, 0xFF}
	increment(c)
	if !bytes.Equal(c, []byte{0, 0}) {
		t.Fatalf("FFFF + 1 = %X", c)
	}
	c = []byte{0x12, 0xFF}
	increment(c)
	if !bytes.Equal(c, []byte{0x13, 0x00}) {
		t.Fatalf("12FF + 1 = %X", c)
	}
}

func TestLRICBRefusesPartialBlocks(t *testing.T) {
	l := New(testKey(t, 1))
	for _, n := range []int{0, 1, 15, 17} {
		if _, err := l.LRICB(0, []byte{0}).Encrypt(make([]byte, n)); err != ErrBlocks {
			t.Errorf("%d bytes: err = %v, want ErrBlocks", n, err)
		}
	}
}

// The constant-time selection must pick the same plaintext as indexing.
func TestPlaintextSelection(t *testing.T) {
	l := New(testKey(t, 3))
	for i := 0; i < 16; i++ {
		if got := l.plaintext(byte(i)); got != l.p[i] {
			t.Fatalf("plaintext(%d) is not p[%d]", i, i)
		}
	}
}

func TestEvalMatchesNibbles(t *testing.T) {
	l := New(testKey(t, 5))
	x := []byte{0x4B, 0x07}
	a := l.eval(2, x, true)
	b := l.EvalNibbles(2, []byte{4, 0xB, 0, 7}, true)
	k, _ := keys.NewKey(a[:])
	if !k.Equal(b) {
		t.Fatal("eval over bytes differs from eval over their nibbles")
	}
}

func TestDerivedSecretsDoNotPrint(t *testing.T) {
	l := New(testKey(t, 9))
	for _, s := range []string{fmt.Sprintf("%x", l.Plaintext(0)), fmt.Sprintf("%v", l.UpdatedKey(1))} {
		if len(s) > 20 {
			t.Fatalf("a derived secret printed as %q", s)
		}
	}
}

func TestCMACTruncatedTakesOddBytes(t *testing.T) {
	l := New(testKey(t, 2))
	full := l.CMAC([]byte("abc"))
	tr := l.CMACTruncated([]byte("abc"))
	for i := range tr {
		if tr[i] != full[2*i+1] {
			t.Fatalf("byte %d of MACt is not CMAC byte %d", i, 2*i+1)
		}
	}
}

// A Primitive or Cipher printed, logged or marshalled by mistake shows none
// of its plaintexts or updated keys, under any verb or nested in a struct.
func TestPrimitiveDoesNotPrint(t *testing.T) {
	l := New(testKey(t, 9))
	c := l.LRICB(1, []byte{0, 0, 0, 1})
	var secrets []string
	for _, b := range append(l.p[:], l.uk[:]...) {
		secrets = append(secrets, hex.EncodeToString(b[:4]), fmt.Sprint(b[:4])[1:10])
	}
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "lrp", l, "cipher", c)
	holder := struct {
		P *Primitive
		C *Cipher
	}{l, c}
	outs := []string{fmt.Sprintf("%v %+v %#v %x %s %d", l, l, l, l, l, l), fmt.Sprintf("%v %+v %#v %x", c, c, c, c),
		fmt.Sprintf("%v %+v %#v", holder, holder, holder), logged.String()}
	for _, out := range outs {
		for _, s := range secrets {
			if strings.Contains(strings.ToLower(out), s) {
				t.Fatalf("%q shows derived secret bytes %s", out, s)
			}
		}
	}
	if _, err := json.Marshal(holder); err == nil {
		t.Fatal("a Primitive marshalled to JSON")
	}
}
