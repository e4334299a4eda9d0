package qa_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/tagline-station/tagline/encoder"
	"github.com/tagline-station/tagline/qa"
	"github.com/tagline-station/tagline/reader/sim"
)

// With Config.Genuine, a presented tag whose originality signature fails
// is reported not_genuine even though its SUN message verifies; a tag with
// its own (trusted) signature passes; NXP's key alone refuses the
// simulator's signature.
func TestVerifyTagReportsNotGenuine(t *testing.T) {
	wd := newWorld(t)
	b := wd.batch("b1", "SKU-1")
	tags := wd.encode(b, uid(1, 1), uid(1, 2), uid(1, 3))
	simTrust := []*ecdsa.PublicKey{encoder.NXPOriginalityKey(), sim.OriginalityTestKey()}
	v := wd.verifier(qa.Config{Genuine: simTrust})
	wantPass(t, wd.present(v, tags[0]))

	// tags[1] answers tags[0]'s signature, copied from a genuine chip
	// onto a clone; then one signed by another key.
	c := encoder.New(wd.connect(tags[0]), encoder.Options{})
	if err := c.SelectApplication(context.Background()); err != nil {
		t.Fatal(err)
	}
	copied, err := c.ReadSig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wd.r.Remove()
	other, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, sig := range [][]byte{copied, sim.SignOriginality(other, uid(1, 2))} {
		tags[1].SetOriginalitySignature(sig)
		res := wd.present(v, tags[1])
		wantFail(t, res, qa.ReasonNotGenuine)
		if !strings.Contains(res.Detail, "not a genuine NXP chip") {
			t.Errorf("detail %q", res.Detail)
		}
	}

	nxpOnly := wd.verifier(qa.Config{Genuine: []*ecdsa.PublicKey{encoder.NXPOriginalityKey()}})
	wantFail(t, wd.present(nxpOnly, tags[2]), qa.ReasonNotGenuine)
}
