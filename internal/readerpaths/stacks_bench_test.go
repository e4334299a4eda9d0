//go:build cgo

package readerpaths

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tagline-station/tagline/encoder"
	"github.com/tagline-station/tagline/internal/pcscdtest"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/reader/sim"
	"github.com/tagline-station/tagline/reader/vpcd"
)

func init() {
	pathBenches = append(pathBenches,
		namedBench{"pcsc", benchPCSCPath},
		namedBench{"libnfc", benchLibNFCPath},
	)
	laneBenches = append(laneBenches,
		namedBench{"pcsc", func(b *testing.B) { laneSizes(b, benchPCSCLanes) }},
	)
}

// supplied is a tag inserted into a vpcd reader and connected.
type supplied struct {
	tag  *sim.Tag
	card *vpcd.Card
	rt   reader.Tag
}

// fillReaders inserts a fresh tag into each of the first k vpcd readers and
// returns them connected once pcscd has seen them: one 400 ms poll for all
// of them instead of one per tag. The cards go in at once; the PC/SC calls
// (WaitTag connects) are made one after the other (see emptyReaders).
func fillReaders(tb testing.TB, env *pcscEnv, k int) []supplied {
	tb.Helper()
	xs := make([]supplied, k)
	for i := range xs {
		tag := sim.New(sim.Options{})
		card, err := vpcd.Insert(testCtx(tb), env.d.Addr(i), tag, vpcd.Options{})
		if err != nil {
			emptyReaders(tb, env, xs)
			tb.Fatal(err)
		}
		xs[i] = supplied{tag: tag, card: card}
	}
	for i := range xs {
		rt, err := env.readers[i].WaitTag(testCtx(tb))
		if err != nil {
			emptyReaders(tb, env, xs)
			tb.Fatalf("reader %d: WaitTag: %v", i, err)
		}
		xs[i].rt = rt
	}
	return xs
}

// emptyReaders takes the tags out and waits until pcscd has seen them all
// leave. The PC/SC calls are made one after the other: with 16 goroutines
// disconnecting and waiting at once, libpcsclite 1.9.9 crashed (SIGSEGV in
// SCardDisconnect while other threads were in SCardReleaseContext and
// SCardEstablishContext), two runs out of three of -benchtime 2s.
func emptyReaders(tb testing.TB, env *pcscEnv, xs []supplied) {
	tb.Helper()
	for _, x := range xs {
		if x.rt != nil {
			x.rt.Close()
		}
		if x.card != nil {
			x.card.Remove()
		}
	}
	for i, x := range xs {
		if x.rt == nil {
			continue
		}
		if err := env.readers[i].WaitRemoved(testCtx(tb)); err != nil {
			tb.Errorf("reader %d: WaitRemoved: %v", i, err)
		}
	}
}

// benchPCSCPath: through libpcsclite, pcscd, the vpcd driver and
// reader/vpcd. Tags are inserted 16 at a time (all the readers pcscd
// allows), so that pcscd's polls for insertion and removal are waited for
// once per 16 tags, and then personalised one after the other with nothing
// else going on; only the personalisations are timed.
func benchPCSCPath(b *testing.B) {
	env := startPCSC(b, pcscdtest.MaxReaders)
	f := newFixture(b)
	ctx := context.Background()
	apdus := 0
	b.StopTimer()
	b.ResetTimer()
	for done := 0; done < b.N; {
		xs := fillReaders(b, env, min(len(env.readers), b.N-done))
		for _, x := range xs {
			b.StartTimer()
			res, err := encoder.Personalise(ctx, x.rt, f.job(x.rt.UID()), encoder.Options{})
			b.StopTimer()
			if err != nil {
				emptyReaders(b, env, xs)
				b.Fatalf("tag %d: %v", done, err)
			}
			if done == 0 {
				f.verifyURL(b, res.URL, x.tag.UID())
				f.checkOurKeys(b, x.tag)
			}
			apdus += res.Exchanges
			done++
		}
		emptyReaders(b, env, xs)
	}
	reportPath(b, apdus)
}

// benchLibNFCPath: through libnfc, its pn532_uart driver, a pty and the
// PN532 emulator.
func benchLibNFCPath(b *testing.B) {
	env := startLibNFC(b)
	ctx := context.Background()
	benchPath(b, func(b *testing.B) (reader.Tag, *sim.Tag, func()) {
		tag := sim.New(sim.Options{})
		env.emu.SetTag(tag)
		rt, err := env.dev.WaitTag(ctx)
		if err != nil {
			b.Fatal(err)
		}
		return rt, tag, func() {
			rt.Close()
			env.emu.RemoveTag()
			if err := env.dev.WaitRemoved(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// changer is a tag changer in a vpcd reader: the card stays inserted and
// connected, and a fresh simulated tag is loaded behind it for every tag of
// a lane. The lanes benchmark uses it so that pcscd's 400 ms insertion poll
// (a vpcd artefact: a real reader reports a tag in milliseconds) neither
// enters the timed time nor forces the lanes into lockstep rounds.
type changer struct {
	mu  sync.Mutex
	tag *sim.Tag
}

func (c *changer) load(t *sim.Tag) {
	c.mu.Lock()
	c.tag = t
	c.mu.Unlock()
}

func (c *changer) current() *sim.Tag {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tag
}

func (c *changer) UID() []byte                 { return c.current().UID() }
func (c *changer) ATS() []byte                 { return c.current().ATS() }
func (c *changer) Process(capdu []byte) []byte { return c.current().Process(capdu) }

// benchPCSCLanes runs one goroutine per lane, each calling station.Encode
// for b.N tags on its own vpcd reader, all lanes sharing one station and
// one journal; everything from the first tag to the last is timed. Each
// lane's tags go through one connection (see changer): the per-tag
// SCardConnect and GET DATA are not in the measure.
func benchPCSCLanes(b *testing.B, lanes int) (int, time.Duration) {
	f := newFixture(b)
	env := startPCSC(b, lanes)
	store, st := f.journal(b, "bench", 0)
	changers := make([]*changer, lanes)
	rts := make([]reader.Tag, lanes)
	tags := make([][]*sim.Tag, lanes)
	for l := range lanes {
		for range b.N + 1 {
			tags[l] = append(tags[l], sim.New(sim.Options{Timing: sim.Timing106()}))
		}
		changers[l] = &changer{tag: tags[l][b.N]} // a spare for connecting
		env.insert(b, l, changers[l], vpcd.Options{})
		rts[l] = env.waitTag(b, l)
	}
	ctx := context.Background()
	busy := make([]time.Duration, lanes)
	errs := make([]error, lanes)
	b.ResetTimer()
	var wg sync.WaitGroup
	for l := range lanes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range b.N {
				changers[l].load(tags[l][i])
				res := st.Encode(ctx, rts[l], env.d.ReaderName(l))
				if res.Outcome != manifest.Encoded {
					errs[l] = fmt.Errorf("lane %d tag %d: %s: %s (%v)", l, i, res.Outcome, res.Reason, res.Err)
					return
				}
				busy[l] += res.Duration
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	var total time.Duration
	for l := range lanes {
		if errs[l] != nil {
			b.Fatal(errs[l])
		}
		total += busy[l]
	}
	if s, err := store.Stats("bench"); err != nil || s.Done != lanes*b.N {
		b.Fatalf("journal: %+v %v, want %d bindings", s, err, lanes*b.N)
	}
	return lanes * b.N, total
}
