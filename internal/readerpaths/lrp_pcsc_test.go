//go:build cgo

package readerpaths

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tagline-station/tagline/encoder"
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/reader/sim"
	"github.com/tagline-station/tagline/reader/vpcd"
)

// TestPCSCPersonaliseLRP runs an LRP job through libpcsclite, pcscd, the
// vpcd driver and reader/vpcd: the tag is personalised, switched to LRP
// mode and read back; then it is taken away before the switch on a second
// tag, and presented again, which finishes it. A phone's tap through pcscd
// is an LRP SUN message that verifies, and no authentication ever fails.
func TestPCSCPersonaliseLRP(t *testing.T) {
	f := newFixture(t)
	env := startPCSC(t, 2)
	tag := sim.New(sim.Options{UID: uidN(9, 1)})
	card := env.insert(t, 0, tag, vpcd.Options{})
	rt := env.waitTag(t, 0)
	j := f.job(rt.UID())
	j.LRP = true
	res, err := encoder.Personalise(testCtx(t), rt, j, encoder.Options{})
	if err != nil {
		t.Fatalf("LRP job through pcscd: %v", err)
	}
	if !tag.Snapshot().LRP {
		t.Fatal("the tag is not in LRP mode after an LRP job")
	}
	f.checkOurKeys(t, tag)
	if v := f.verifyURL(t, res.URL, tag.UID()); !v.LRP {
		t.Fatalf("read-back %s is not an LRP SUN message", res.URL)
	}
	env.takeOut(t, 0, card, rt)
	reactivate(tag)
	env.insert(t, 0, tag, vpcd.Options{})
	url := f.checkPhoneRead(t, env.waitTag(t, 0), tag.UID(), res.ReadCtr)
	if i := strings.Index(url, "picc_data="); i < 0 || strings.Index(url, "&cmac=")-i-len("picc_data=") != 48 {
		t.Fatalf("phone read through pcscd %s: not 48 characters of picc_data", url)
	}

	// Torn just before the switch: an LRP job ends with AuthenticateEV2First
	// (2 exchanges), SetConfiguration and the read-back (select, read);
	// the tag leaves after the authentication. Behind vpcd it also
	// answered pcsc's GET DATA at connection, one exchange more.
	tag2 := sim.New(sim.Options{UID: uidN(9, 2)})
	probe := sim.New(sim.Options{UID: uidN(9, 3)})
	pres, err := encoder.Personalise(testCtx(t), presentSim(t, probe), encoder.Job{Deriver: f.deriver, Template: f.template, LRP: true}, encoder.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tag2.RemoveAfter(pres.Exchanges - 3 + 1)
	card2 := env.insert(t, 1, tag2, vpcd.Options{})
	rt2 := env.waitTag(t, 1)
	j2 := f.job(rt2.UID())
	j2.LRP = true
	if _, err := encoder.Personalise(testCtx(t), rt2, j2, encoder.Options{}); err == nil {
		t.Fatal("no error although the tag left before the switch")
	}
	if tag2.Snapshot().LRP {
		t.Fatal("the tag switched although it left before the switch")
	}
	env.takeOut(t, 1, card2, rt2)
	reactivate(tag2)
	env.insert(t, 1, tag2, vpcd.Options{})
	rt2 = env.waitTag(t, 1)
	res2, err := encoder.Personalise(testCtx(t), rt2, j2, encoder.Options{})
	if err != nil {
		t.Fatalf("second presentation through pcscd: %v", err)
	}
	if !tag2.Snapshot().LRP || res2.Found != encoder.FoundOurs || !bytes.Equal(res2.UID, tag2.UID()) {
		t.Fatalf("second presentation: lrp %v, found %s, uid %X", tag2.Snapshot().LRP, res2.Found, res2.UID)
	}
	f.checkOurKeys(t, tag2)
}

// presentSim connects a tag through the in-process simulated reader.
func presentSim(t *testing.T, tag *sim.Tag) reader.Tag {
	t.Helper()
	r := sim.NewReader("probe")
	r.Present(tag)
	c, err := r.WaitTag(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	return c
}
