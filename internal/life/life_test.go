package life_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/encoder"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/reader/sim"
	"github.com/tagline-station/tagline/sdm"
	"github.com/tagline-station/tagline/serve"
	"github.com/tagline-station/tagline/station"
	"github.com/tagline-station/tagline/syncer"
)

const (
	masterHex = "5A17C0DE00112233445566778899AABB"
	// The tags are NTAG 424 DNA TT: {tt} mirrors the tamper loop inside
	// the encrypted file data.
	tmplRaw = "https://brand.example/t?picc_data={picc}&enc={tt}&cmac={mac}"
	token   = "life-test-sync-token-0123456789"
)

// world is one station (journal, batch, reader) and one backend.
type world struct {
	t      *testing.T
	master keys.Master
	tmpl   *sdm.Template
	store  *batch.Store
	b      batch.Batch
	r      *sim.Reader
	srv    *serve.Server
	base   string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	mb, _ := hex.DecodeString(masterHex)
	m, err := keys.NewMaster(mb)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := sdm.ParseTemplate(tmplRaw)
	if err != nil {
		t.Fatal(err)
	}
	s, err := batch.Open(filepath.Join(t.TempDir(), "journal.db"), batch.Options{StationID: "line-1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if rep, err := s.Check(); err != nil || !rep.OK() {
			t.Errorf("journal check: %v %v", err, rep.Problems)
		}
		s.Close()
	})
	b, err := s.CreateBatch(batch.Batch{ID: "b1", SKU: "WINE-750-RED", Target: 10, Template: tmplRaw, KeyVersion: 1})
	if err != nil {
		t.Fatal(err)
	}
	// The backend verifies both versions of the rollout from the start:
	// the brand turns it on before the line starts rekeying.
	srv, err := serve.New(serve.Config{
		Template: tmplRaw, Master: m, KeyVersions: []byte{1}, Rollout: serve.Rollout{From: 1, To: 2},
		DefaultURL: "https://brand.example/p", Tokens: map[string]string{token: "line-1"},
		DBPath: filepath.Join(t.TempDir(), "serve.db"), Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { hs.Close(); srv.Close() })
	return &world{t: t, master: m, tmpl: tp, store: s, b: b, r: sim.NewReader("line-1/r0"), srv: srv, base: hs.URL}
}

func (w *world) deriver(v byte) *keys.Deriver {
	d, err := keys.NewDeriver(keys.SchemeTagline, w.master, v)
	if err != nil {
		w.t.Fatal(err)
	}
	return d
}

func (w *world) present(tag *sim.Tag) reader.Tag {
	w.t.Helper()
	w.r.Present(tag)
	c, err := w.r.WaitTag(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

// phoneTap reads the tag as a phone does, verifies the URL with sdm at
// key version v, and has the backend verify it.
func (w *world) phoneTap(tag *sim.Tag, v byte) serve.TapAnswer {
	w.t.Helper()
	u, err := encoder.New(w.present(tag), encoder.Options{}).ReadURL(context.Background())
	w.r.Remove()
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.tmpl.Verify(u, w.deriver(v)); err != nil {
		w.t.Fatalf("sdm: the tap does not verify with key version %d: %v", v, err)
	}
	pu, _ := url.Parse(u)
	return w.srv.Verify(context.Background(), "https://brand.example"+pu.RequestURI())
}

// sync pushes the journal's pending bindings to the backend.
func (w *world) sync() {
	w.t.Helper()
	if _, err := syncer.Run(context.Background(), w.store, syncer.Options{Endpoint: w.base + "/v1/sync", Token: token, MaxAttempts: 1}); err != nil {
		w.t.Fatal(err)
	}
}

func failedAuths(tag *sim.Tag) (n int) {
	for _, c := range tag.Snapshot().TotFailCtr {
		n += c
	}
	return n
}

// TestWholeLife follows one tag from the factory back to the factory.
// Each stage proves its step with the real station, journal, sync and
// backend; no authentication ever fails on the tag.
func TestWholeLife(t *testing.T) {
	w := newWorld(t)
	uid := []byte{0x04, 0x11, 0x1F, 0xE0, 0x00, 0x00, 0x01}
	tag := sim.New(sim.Options{UID: uid, TagTamper: true})

	// 1. Factory.
	if !tag.IsFactoryFresh() {
		t.Fatal("a new tag is not factory-fresh")
	}

	// 2. Genuine-chip check: the station trusts NXP's originality key and
	//    the simulator's test key, and refuses a chip whose signature
	//    verifies with neither before any key is tried.
	d1 := w.deriver(1)
	st, err := station.New(station.Config{Journal: w.store, Batch: w.b, Deriver: d1, Template: w.tmpl, Now: time.Now,
		Genuine: []*ecdsa.PublicKey{encoder.NXPOriginalityKey(), sim.OriginalityTestKey()}})
	if err != nil {
		t.Fatal(err)
	}
	fake := sim.New(sim.Options{UID: []byte{0x04, 0x11, 0x1F, 0xE0, 0x00, 0x00, 0x02}})
	fake.SetOriginalitySignature(sim.SignOriginality(otherSigner(t), []byte{0x04, 0x11, 0x1F, 0xE0, 0x00, 0x00, 0x02}))
	if res := st.Encode(context.Background(), w.present(fake), "r0"); res.Outcome != manifest.Failed || !errors.Is(res.Err, encoder.ErrNotGenuine) ||
		!fake.IsFactoryFresh() || failedAuths(fake) != 0 {
		t.Fatalf("a chip with a forged signature: %+v (factory %v, failed authentications %d)", res, fake.IsFactoryFresh(), failedAuths(fake))
	}
	w.r.Remove()

	// 3. Personalise (AES) with the station, journaled.
	if res := st.Encode(context.Background(), w.present(tag), "r0"); res.Outcome != manifest.Encoded {
		t.Fatalf("personalise: %+v", res)
	}
	w.r.Remove()
	// 3b. Personalise with LRP: to be added with the LRP work.

	// 4. Phone tap, verified by sdm and by serve once the station synced.
	if a := w.phoneTap(tag, 1); a.Result != serve.ResultUnknown {
		t.Fatalf("tap before the sync: %+v", a)
	}
	w.sync()
	if a := w.phoneTap(tag, 1); a.Result != serve.ResultGenuine || a.KeyVersion != 1 || a.SKU != "WINE-750-RED" || a.Tamper != sdm.TamperClosed {
		t.Fatalf("tap with version 1: %+v", a)
	}

	// 5. Rekey to version 2.
	l, err := station.NewLife(station.LifeConfig{Journal: w.store, Master: w.master, Batch: &w.b, ToVersion: 2}, true)
	if err != nil {
		t.Fatal(err)
	}
	if res := l.Rekey(context.Background(), w.present(tag), "r0"); res.Outcome != manifest.Rekeyed {
		t.Fatalf("rekey: %+v", res)
	}
	w.r.Remove()

	// 6. Tap with the new version: genuine during the rollout before the
	//    sync, and after it with the binding of version 2.
	if a := w.phoneTap(tag, 2); a.Result != serve.ResultGenuine || a.KeyVersion != 2 {
		t.Fatalf("tap with version 2 before the sync: %+v", a)
	}
	w.sync()
	if b, _, ok, _ := w.srv.Store().Lookup(context.Background(), "04111FE0000001"); !ok || b.KeyVersion != 2 {
		t.Fatalf("backend binding after the sync: %+v", b)
	}
	if a := w.phoneTap(tag, 2); a.Result != serve.ResultGenuine || a.KeyVersion != 2 {
		t.Fatalf("tap with version 2 after the sync: %+v", a)
	}

	// 7. Tamper loop opened (NTAG 424 DNA TT): the next tap is still
	//    genuine and says the package was opened, and stays so.
	tag.OpenTamperLoop()
	if a := w.phoneTap(tag, 2); a.Result != serve.ResultGenuine || a.Tamper != sdm.TamperOpened {
		t.Fatalf("tap with the loop open: %+v", a)
	}
	tag.CloseTamperLoop()
	if a := w.phoneTap(tag, 2); a.Result != serve.ResultGenuine || a.Tamper != sdm.TamperOpened {
		t.Fatalf("tap with the loop closed again: %+v", a)
	}

	// 8. Reset (reclaim) to the factory state, journaled.
	rl, err := station.NewLife(station.LifeConfig{Journal: w.store, Master: w.master}, false)
	if err != nil {
		t.Fatal(err)
	}
	if res := rl.Reset(context.Background(), w.present(tag), "r0"); res.Outcome != manifest.Reclaimed || res.From != 2 {
		t.Fatalf("reset: %+v", res)
	}
	w.r.Remove()
	if _, ok, _ := w.store.Reclaimed("04111FE0000001"); !ok {
		t.Fatal("no reclaim in the journal")
	}

	// 9. Factory again: keys, versions, settings and files as delivered
	//    (the SDM read counter, which a real tag keeps, aside), and a
	//    phone reads no URL from it.
	if !tag.IsReclaimed() {
		t.Fatal("the tag is not factory after the reset")
	}
	if _, err := encoder.New(w.present(tag), encoder.Options{}).ReadURL(context.Background()); err == nil {
		t.Fatal("a phone still reads a url from the reset tag")
	}
	w.r.Remove()

	// 10. Rework: the reclaimed tag is encoded again like a new one; its
	//     earlier bindings stay in the journal's history.
	if res := st.Encode(context.Background(), w.present(tag), "r0"); res.Outcome != manifest.Encoded {
		t.Fatalf("encoding the reclaimed tag again: %+v", res)
	}
	w.r.Remove()
	if old, _ := w.store.Superseded("04111FE0000001"); len(old) != 2 {
		t.Fatalf("history after the rework: %+v", old)
	}
	if n := failedAuths(tag); n != 0 {
		t.Fatalf("%d failed authentications in the tag's life", n)
	}
}

// otherSigner is a P-224 key that is neither NXP's nor the simulator's.
func otherSigner(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestWholeLifeLRP follows a tag of an LRP batch the same way: LRP
// personalisation, LRP taps before and after a rekey, and a reset that
// brings back factory keys, files and settings. LRP mode itself stays:
// the switch is irreversible on the chip.
func TestWholeLifeLRP(t *testing.T) {
	w := newWorld(t)
	b, err := w.store.CreateBatch(batch.Batch{ID: "b2", SKU: "WINE-750-WHITE", Target: 10, Template: tmplRaw, KeyVersion: 1, LRP: true})
	if err != nil {
		t.Fatal(err)
	}
	uid := []byte{0x04, 0x11, 0x1F, 0xE0, 0x00, 0x00, 0x03}
	tag := sim.New(sim.Options{UID: uid, TagTamper: true})
	st, err := station.New(station.Config{Journal: w.store, Batch: b, Deriver: w.deriver(1), Template: w.tmpl, Now: time.Now,
		Genuine: []*ecdsa.PublicKey{encoder.NXPOriginalityKey(), sim.OriginalityTestKey()}})
	if err != nil {
		t.Fatal(err)
	}
	if res := st.Encode(context.Background(), w.present(tag), "r0"); res.Outcome != manifest.Encoded || !tag.Snapshot().LRP {
		t.Fatalf("personalise with lrp: %+v (lrp %v)", res, tag.Snapshot().LRP)
	}
	w.r.Remove()
	w.sync()
	if a := w.phoneTap(tag, 1); a.Result != serve.ResultGenuine || a.KeyVersion != 1 || a.SKU != "WINE-750-WHITE" {
		t.Fatalf("lrp tap with version 1: %+v", a)
	}

	l, err := station.NewLife(station.LifeConfig{Journal: w.store, Master: w.master, Batch: &b, ToVersion: 2}, true)
	if err != nil {
		t.Fatal(err)
	}
	if res := l.Rekey(context.Background(), w.present(tag), "r0"); res.Outcome != manifest.Rekeyed {
		t.Fatalf("rekey of an lrp tag: %+v", res)
	}
	w.r.Remove()
	w.sync()
	if a := w.phoneTap(tag, 2); a.Result != serve.ResultGenuine || a.KeyVersion != 2 {
		t.Fatalf("lrp tap with version 2: %+v", a)
	}

	rl, err := station.NewLife(station.LifeConfig{Journal: w.store, Master: w.master}, false)
	if err != nil {
		t.Fatal(err)
	}
	if res := rl.Reset(context.Background(), w.present(tag), "r0"); res.Outcome != manifest.Reclaimed || res.From != 2 {
		t.Fatalf("reset of an lrp tag: %+v", res)
	}
	w.r.Remove()
	if !tag.IsReclaimed() || !tag.Snapshot().LRP {
		t.Fatalf("after the reset: factory %v, lrp %v (lrp mode stays)", tag.IsReclaimed(), tag.Snapshot().LRP)
	}
	if n := failedAuths(tag); n != 0 {
		t.Fatalf("%d failed authentications in the lrp tag's life", n)
	}
}
