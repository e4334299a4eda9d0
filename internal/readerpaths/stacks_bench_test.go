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
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/reader/sim"
	"github.com/tagline-station/tagline/reader/vpcd"
	"github.com/tagline-station/tagline/station"
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
	err  error
}

// pcscSupply keeps a fresh simulated tag connected in each vpcd reader of
// a pcscd. take(i) returns reader i's tag once pcscd has seen it;
// recycle(i) takes it away and inserts a fresh one in the background. With
// many readers, pcscd's 400 ms polls for removal and insertion overlap the
// work on the other readers instead of adding up, which keeps benchmarks
// with a large b.N (make bench) from spending minutes waiting.
type pcscSupply struct {
	env    *pcscEnv
	newTag func() *sim.Tag
	ctx    context.Context
	ready  []chan supplied
	wg     sync.WaitGroup
}

func newPCSCSupply(tb testing.TB, env *pcscEnv, newTag func() *sim.Tag) *pcscSupply {
	ctx, cancel := context.WithCancel(context.Background())
	s := &pcscSupply{env: env, newTag: newTag, ctx: ctx, ready: make([]chan supplied, len(env.readers))}
	for i := range s.ready {
		s.ready[i] = make(chan supplied, 1) // at most one tag per reader
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.ready[i] <- s.insert(i)
		}()
	}
	tb.Cleanup(func() {
		cancel()
		s.wg.Wait()
		for _, ch := range s.ready {
			select {
			case x := <-ch:
				if x.err == nil {
					x.rt.Close()
					x.card.Remove()
				}
			default:
			}
		}
	})
	return s
}

func (s *pcscSupply) insert(i int) supplied {
	tag := s.newTag()
	card, err := vpcd.Insert(s.ctx, s.env.d.Addr(i), tag, vpcd.Options{})
	if err != nil {
		return supplied{err: err}
	}
	rt, err := s.env.readers[i].WaitTag(s.ctx)
	if err != nil {
		card.Remove()
		return supplied{err: fmt.Errorf("reader %d: WaitTag: %w", i, err)}
	}
	return supplied{tag: tag, card: card, rt: rt}
}

func (s *pcscSupply) take(tb testing.TB, i int) supplied {
	tb.Helper()
	x := <-s.ready[i]
	if x.err != nil {
		tb.Fatal(x.err)
	}
	return x
}

func (s *pcscSupply) recycle(i int, x supplied) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		x.rt.Close()
		x.card.Remove()
		if err := s.env.readers[i].WaitRemoved(s.ctx); err != nil {
			s.ready[i] <- supplied{err: fmt.Errorf("reader %d: WaitRemoved: %w", i, err)}
			return
		}
		s.ready[i] <- s.insert(i)
	}()
}

// benchPCSCPath: through libpcsclite, pcscd, the vpcd driver and
// reader/vpcd. The tags rotate over all 16 readers pcscd allows, so that
// insertion and removal (pcscd's polls) happen while other tags are being
// personalised, outside the timer.
func benchPCSCPath(b *testing.B) {
	env := startPCSC(b, pcscdtest.MaxReaders)
	supply := newPCSCSupply(b, env, func() *sim.Tag { return sim.New(sim.Options{}) })
	f := newFixture(b)
	ctx := context.Background()
	apdus := 0
	b.StopTimer()
	b.ResetTimer()
	for i := range b.N {
		slot := i % len(env.readers)
		x := supply.take(b, slot)
		b.StartTimer()
		res, err := encoder.Personalise(ctx, x.rt, f.job(x.rt.UID()), encoder.Options{})
		b.StopTimer()
		if err != nil {
			b.Fatalf("tag %d: %v", i, err)
		}
		if i == 0 {
			f.verifyURL(b, res.URL, x.tag.UID())
			f.checkOurKeys(b, x.tag)
		}
		apdus += res.Exchanges
		supply.recycle(slot, x)
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
				if res.Outcome != station.Encoded {
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
