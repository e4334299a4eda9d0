//go:build cgo

package readerpaths

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/reader/sim"
	"github.com/tagline-station/tagline/reader/vpcd"
	"github.com/tagline-station/tagline/sdm"
	"github.com/tagline-station/tagline/station"
)

// lifeEnv is a journal with one batch whose tags the station encodes in
// process, and the Life that rekeys (to version 2) or resets them.
type lifeEnv struct {
	store *batch.Store
	st    *station.Station
	life  *station.Life
	d2    *keys.Deriver
}

func newLifeEnv(t *testing.T, rekey bool) *lifeEnv {
	t.Helper()
	s, err := batch.Open(filepath.Join(t.TempDir(), "j.db"), batch.Options{StationID: "line-1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if r, err := s.Check(); err != nil || !r.OK() {
			t.Errorf("journal check: %v %v", err, r.Problems)
		}
		s.Close()
	})
	b, err := s.CreateBatch(batch.Batch{ID: "b1", SKU: "SKU-1", Target: 1000, Template: templateURL, KeyVersion: keyVersion})
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := hex.DecodeString(masterHex)
	m, _ := keys.NewMaster(mb)
	d1, _ := keys.NewDeriver(keys.SchemeTagline, m, keyVersion)
	d2, _ := keys.NewDeriver(keys.SchemeTagline, m, keyVersion+1)
	tp, _ := sdm.ParseTemplate(templateURL)
	st, err := station.New(station.Config{Journal: s, Batch: b, Deriver: d1, Template: tp})
	if err != nil {
		t.Fatal(err)
	}
	cfg := station.LifeConfig{Journal: s, Master: m, Batch: &b, ToVersion: keyVersion + 1}
	if !rekey {
		cfg.ToVersion = 0
	}
	l, err := station.NewLife(cfg, rekey)
	if err != nil {
		t.Fatal(err)
	}
	return &lifeEnv{store: s, st: st, life: l, d2: d2}
}

// encoded is a tag personalised and bound by the station, in process.
func (le *lifeEnv) encoded(t *testing.T, u []byte) *sim.Tag {
	t.Helper()
	tag := sim.New(sim.Options{UID: u})
	r := sim.NewReader("enc")
	r.Present(tag)
	c, err := r.WaitTag(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if res := le.st.Encode(testCtx(t), c, "enc"); res.Outcome != manifest.Encoded {
		t.Fatalf("encode: %+v", res)
	}
	r.Remove()
	reactivate(tag)
	return tag
}

func (le *lifeEnv) run(ctx context.Context, rekey bool, rt reader.Tag) station.LifeResult {
	if rekey {
		return le.life.Rekey(ctx, rt, "vpcd")
	}
	return le.life.Reset(ctx, rt, "vpcd")
}

func failedAuths(tag *sim.Tag) (n int) {
	for _, c := range tag.Snapshot().TotFailCtr {
		n += c
	}
	return n
}

// TestPCSCRekeyTorn and TestPCSCResetTorn tear a rekey and a reset at each
// of their exchanges through libpcsclite, pcscd and vpcd, in both ways of
// TestPCSCTagRemoved (the command lost, or executed with its answer lost),
// and present the same tag again: it must be finished, journaled, with no
// failed authentication.
func TestPCSCRekeyTorn(t *testing.T) { testPCSCLifeTorn(t, true) }
func TestPCSCResetTorn(t *testing.T) { testPCSCLifeTorn(t, false) }

func testPCSCLifeTorn(t *testing.T, rekey bool) {
	env := startPCSC(t, 2)
	le := newLifeEnv(t, rekey)
	series := byte(0x40)
	if !rekey {
		series = 0x50
	}
	// A clean run over pcscd counts the flow's exchanges.
	probe := le.encoded(t, uidN(series, 0xFF))
	card := env.insert(t, 0, probe, vpcd.Options{})
	rt := env.waitTag(t, 0)
	clean := le.run(testCtx(t), rekey, rt)
	if !clean.Outcome.Passed() || clean.Outcome == manifest.AlreadyDone {
		t.Fatalf("clean run: %+v", clean)
	}
	env.takeOut(t, 0, card, rt)
	i := 0
	for _, executed := range []bool{false, true} {
		for k := 0; k < clean.Exchanges; k++ {
			slot := i % 2
			u := uidN(series, byte(i))
			i++
			t.Run(fmt.Sprintf("executed=%v/exchange=%d", executed, k+1), func(t *testing.T) {
				pcscLifeTornCase(t, env, le, rekey, le.encoded(t, u), executed, k, slot)
			})
		}
	}
}

func pcscLifeTornCase(t *testing.T, env *pcscEnv, le *lifeEnv, rekey bool, tag *sim.Tag, executed bool, k, slot int) {
	if err := env.readers[slot].WaitRemoved(testCtx(t)); err != nil {
		t.Fatalf("reader %d: WaitRemoved: %v", slot, err)
	}
	// The card numbers command APDUs from 1, pcsc's GET DATA first.
	n := k + 2
	opts := vpcd.Options{RemoveAfter: n}
	if executed {
		opts.OnAPDU = func(m int, capdu, rapdu []byte) {
			if m == n && rapdu == nil {
				tag.RemoveDuring(1)
				tag.Process(capdu)
			}
		}
	}
	card := env.insert(t, slot, tag, opts)
	rt := env.waitTag(t, slot)
	first := le.run(testCtx(t), rekey, rt)
	if first.Outcome != manifest.Failed || !errors.Is(first.Err, reader.ErrTagRemoved) {
		t.Fatalf("first attempt: %+v, want the tag removed", first)
	}
	select {
	case <-card.Done():
	case <-time.After(testTimeout):
		t.Fatalf("the vpcd card did not leave")
	}
	env.takeOut(t, slot, card, rt)
	before := failedAuths(tag)
	reactivate(tag)
	card = env.insert(t, slot, tag, vpcd.Options{})
	rt = env.waitTag(t, slot)
	res := le.run(testCtx(t), rekey, rt)
	want := manifest.Rekeyed
	if !rekey {
		want = manifest.Reclaimed
	}
	if res.Outcome != want {
		t.Fatalf("second attempt: %+v", res)
	}
	if n := failedAuths(tag); n != 0 || before != 0 {
		t.Fatalf("failed authentications: %d before, %d after", before, n)
	}
	if rekey {
		ks, _ := le.d2.Tag(tag.UID())
		if !tag.IsPersonalisedWith(ks.Keys) {
			t.Fatal("the tag does not hold the version 2 keys")
		}
		if bd, _, _ := le.store.Lookup(res.UID); bd.KeyVersion != 2 {
			t.Fatalf("binding %+v", bd)
		}
	} else {
		if !tag.IsReclaimed() {
			t.Fatal("the tag is not factory")
		}
		if _, ok, _ := le.store.Reclaimed(res.UID); !ok {
			t.Fatal("no reclaim journaled")
		}
	}
	if ops, _ := le.store.OpenOps(); len(ops) != 0 {
		t.Fatalf("operations left open: %+v", ops)
	}
	rt.Close()
	card.Remove()
}
