package encoder_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tagline-station/tagline/encoder"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/reader/sim"
	"github.com/tagline-station/tagline/sdm"
)

func lrpJobFor(t testing.TB, d *keys.Deriver, tag *sim.Tag) encoder.Job {
	j := job(t, d, tag, true)
	j.LRP = true
	return j
}

func independentKeySet(t testing.TB) [5]keys.Key {
	ind := independentKeys(t, masterHex, testUID, 1)
	var want [5]keys.Key
	for n := range ind {
		want[n], _ = keys.NewKey(ind[n])
	}
	return want
}

// An LRP job personalises a factory tag with the same keys as an AES job,
// then switches it: the tag ends in LRP mode, its read-back and a phone's
// later read are LRP SUN messages (24-byte PICCData) that verify with the
// independently derived keys, and a changed digit does not.
func TestPersonaliseLRP(t *testing.T) {
	tag := sim.New(sim.Options{UID: testUID})
	card := present(t, tag)
	d := deriver(t, masterHex, 1)
	res, err := encoder.Personalise(context.Background(), card, lrpJobFor(t, d, tag), encoder.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := independentKeySet(t)
	if !tag.IsPersonalisedWith(want) || !tag.Snapshot().LRP {
		t.Fatalf("after an LRP job: keys ours %v, LRP %v", tag.IsPersonalisedWith(want), tag.Snapshot().LRP)
	}
	tp, _ := sdm.ParseTemplate(template)
	lt, _ := tp.LRP()
	if v, err := lt.Verify(res.URL, fixedLookup{want[1], want[2]}); err != nil || !v.LRP || !bytes.Equal(v.UID, testUID) {
		t.Fatalf("read-back %s: %+v %v", res.URL, v, err)
	}
	url := phoneRead(t, card)
	picc := url[strings.Index(url, "picc_data=")+len("picc_data=") : strings.Index(url, "&cmac=")]
	if len(picc) != 48 {
		t.Fatalf("phone read %s: picc_data of %d characters, want 48", url, len(picc))
	}
	v, err := tp.Verify(url, fixedLookup{want[1], want[2]})
	if err != nil || !v.LRP || uint32(v.Ctr) <= res.ReadCtr {
		t.Fatalf("phone read %s: %+v %v (read-back ctr %d)", url, v, err, res.ReadCtr)
	}
	bad := url[:len(url)-1] + map[bool]string{true: "1", false: "0"}[url[len(url)-1] == '0']
	if _, err := tp.Verify(bad, fixedLookup{want[1], want[2]}); !errors.Is(err, sdm.ErrBadMAC) {
		t.Fatalf("tampered LRP tap: %v", err)
	}
	// Presented again: recognised as done through LRP, no failure spent.
	res, err = encoder.Personalise(context.Background(), card, lrpJobFor(t, d, tag), encoder.Options{})
	if !errors.Is(err, encoder.ErrAlreadyOurs) {
		t.Fatalf("second presentation: %v", err)
	}
	if s := sum(tag.Snapshot().TotFailCtr); s != 0 {
		t.Fatalf("%d failed authentications", s)
	}
}

// A tag in LRP mode is refused by an AES job before anything is written,
// and costs no failed authentication.
func TestAESJobRefusesLRPTag(t *testing.T) {
	tag := sim.New(sim.Options{UID: testUID, LRP: true})
	card := present(t, tag)
	d := deriver(t, masterHex, 1)
	_, err := encoder.Personalise(context.Background(), card, job(t, d, tag, true), encoder.Options{})
	if !errors.Is(err, encoder.ErrLRPMode) {
		t.Fatalf("AES job on an LRP tag: %v", err)
	}
	s := tag.Snapshot()
	if !s.FactoryFresh || sum(s.TotFailCtr) != 0 {
		t.Fatalf("tag touched: fresh %v, failures %v", s.FactoryFresh, s.TotFailCtr)
	}
}

// An LRP job finishes a tag already switched to LRP mode with factory
// keys (personalised over LRP secure messaging), as a tag another tool
// switched would be.
func TestPersonaliseTagAlreadyInLRPMode(t *testing.T) {
	tag := sim.New(sim.Options{UID: testUID, LRP: true})
	card := present(t, tag)
	d := deriver(t, masterHex, 1)
	if _, err := encoder.Personalise(context.Background(), card, lrpJobFor(t, d, tag), encoder.Options{}); err != nil {
		t.Fatal(err)
	}
	if !tag.IsPersonalisedWith(independentKeySet(t)) || sum(tag.Snapshot().TotFailCtr) != 0 {
		t.Fatal("not personalised, or failures spent")
	}
}

// The tag is taken away after every exchange of an LRP job in turn (and
// during it): the next presentation finishes it, the tag ends in LRP mode
// with our keys, and recovery spends no failed authentication.
func TestLRPTornAtEveryExchange(t *testing.T) {
	d := deriver(t, masterHex, 1)
	want := independentKeySet(t)
	// The exchanges of an uninterrupted LRP job.
	probe := sim.New(sim.Options{UID: testUID})
	res, err := encoder.Personalise(context.Background(), present(t, probe), lrpJobFor(t, d, probe), encoder.Options{})
	if err != nil {
		t.Fatal(err)
	}
	total := res.Exchanges
	for _, during := range []bool{false, true} {
		for k := 0; k < total; k++ {
			t.Run(fmt.Sprintf("during=%v/after=%d", during, k), func(t *testing.T) {
				tag := sim.New(sim.Options{UID: testUID})
				r := sim.NewReader("sim0")
				r.Present(tag)
				if during {
					tag.RemoveDuring(k + 1)
				} else {
					tag.RemoveAfter(k)
				}
				card, _ := r.WaitTag(context.Background())
				_, err := encoder.Personalise(context.Background(), card, lrpJobFor(t, d, tag), encoder.Options{})
				if !errors.Is(err, reader.ErrTagRemoved) {
					t.Fatalf("first attempt: %v", err)
				}
				r.Present(tag)
				card, _ = r.WaitTag(context.Background())
				res, err := encoder.Personalise(context.Background(), card, lrpJobFor(t, d, tag), encoder.Options{})
				if err != nil && !errors.Is(err, encoder.ErrAlreadyOurs) {
					t.Fatalf("second attempt: %v", err)
				}
				s := tag.Snapshot()
				if !tag.IsPersonalisedWith(want) || !s.LRP {
					t.Fatalf("not finished (found %s): keys %v, LRP %v", res.Found, tag.IsPersonalisedWith(want), s.LRP)
				}
				if n := sum(s.TotFailCtr); n != 0 {
					t.Fatalf("%d failed authentications during recovery", n)
				}
				tp, _ := sdm.ParseTemplate(template)
				if v, err := tp.Verify(phoneRead(t, card), fixedLookup{want[1], want[2]}); err != nil || !v.LRP {
					t.Fatalf("phone read after recovery: %+v %v", v, err)
				}
			})
		}
	}
}

// A complete LRP tag of ours shown to an AES job is reported as already
// ours (the station then finds its binding), not as a tag to set aside,
// and a re-encode by an AES job is refused.
func TestAESJobOnOurLRPTag(t *testing.T) {
	tag := sim.New(sim.Options{UID: testUID})
	card := present(t, tag)
	d := deriver(t, masterHex, 1)
	if _, err := encoder.Personalise(context.Background(), card, lrpJobFor(t, d, tag), encoder.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := encoder.Personalise(context.Background(), card, job(t, d, tag, true), encoder.Options{}); !errors.Is(err, encoder.ErrAlreadyOurs) {
		t.Fatalf("AES job on a complete LRP tag of ours: %v", err)
	}
	j := job(t, d, tag, true)
	j.Reencode = true
	if _, err := encoder.Personalise(context.Background(), card, j, encoder.Options{}); !errors.Is(err, encoder.ErrLRPMode) {
		t.Fatalf("AES re-encode of an LRP tag: %v", err)
	}
	if n := sum(tag.Snapshot().TotFailCtr); n != 0 {
		t.Fatalf("%d failed authentications", n)
	}
}
