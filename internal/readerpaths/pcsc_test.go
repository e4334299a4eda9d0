//go:build cgo

package readerpaths

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tagline-station/tagline/encoder"
	"github.com/tagline-station/tagline/internal/pcscdtest"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/reader/pcsc"
	"github.com/tagline-station/tagline/reader/sim"
	"github.com/tagline-station/tagline/reader/vpcd"
	"github.com/tagline-station/tagline/station"
)

// pcscEnv is a private pcscd with vpcd readers and the PC/SC stack open on
// it, one reader.Reader per slot.
type pcscEnv struct {
	d       *pcscdtest.Daemon
	st      *pcsc.Stack
	readers []reader.Reader
}

// startPCSC starts pcscd with n vpcd readers (skipped when pcscd or the
// vpcd driver is missing, unless CI=true) and opens the stack.
func startPCSC(tb testing.TB, n int) *pcscEnv {
	tb.Helper()
	d := pcscdtest.Setup(tb, n)
	st, err := pcsc.Open(testCtx(tb))
	if err != nil {
		tb.Fatalf("pcsc.Open: %v", err)
	}
	tb.Cleanup(func() { st.Close() })
	e := &pcscEnv{d: d, st: st}
	for i := range n {
		r, err := st.Reader(d.ReaderName(i))
		if err != nil {
			tb.Fatalf("Reader(%q): %v", d.ReaderName(i), err)
		}
		tb.Cleanup(func() { r.Close() })
		e.readers = append(e.readers, r)
	}
	return e
}

// insert puts tag into vpcd reader i (the card is removed at cleanup).
func (e *pcscEnv) insert(tb testing.TB, i int, tag reader.Emulated, opts vpcd.Options) *vpcd.Card {
	tb.Helper()
	return e.d.Insert(tb, i, tag, opts)
}

// waitTag waits until pcscd has seen the tag in reader i (it polls vpcd
// every 400 ms) and connects it.
func (e *pcscEnv) waitTag(tb testing.TB, i int) reader.Tag {
	tb.Helper()
	rt, err := e.readers[i].WaitTag(testCtx(tb))
	if err != nil {
		tb.Fatalf("reader %d: WaitTag: %v", i, err)
	}
	tb.Cleanup(func() { rt.Close() })
	return rt
}

// takeOut disconnects the tag, takes the card out of reader i and waits
// until pcscd has seen it leave.
func (e *pcscEnv) takeOut(tb testing.TB, i int, card *vpcd.Card, rt reader.Tag) {
	tb.Helper()
	rt.Close()
	card.Remove()
	if err := e.readers[i].WaitRemoved(testCtx(tb)); err != nil {
		tb.Fatalf("reader %d: WaitRemoved: %v", i, err)
	}
}

// apduLog records what a vpcd card received and answered.
type apduLog struct {
	mu sync.Mutex
	c  [][]byte
	r  [][]byte
}

func (l *apduLog) record(n int, capdu, rapdu []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.c = append(l.c, capdu)
	l.r = append(l.r, rapdu)
}

func (l *apduLog) get() (c, r [][]byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.c), slices.Clone(l.r)
}

// getDataUID is the PC/SC pseudo-APDU GET DATA (UID) that reader/pcsc
// sends when it connects; vpcd passes it on to the tag.
var getDataUID = []byte{0xFF, 0xCA, 0x00, 0x00, 0x00}

// TestPCSCPersonalise personalises a simulated tag through libpcsclite,
// pcscd, the vpcd driver and reader/vpcd with the encoder of the
// in-process path, then reads it as a phone would on a second tap.
func TestPCSCPersonalise(t *testing.T) {
	f := newFixture(t)
	ref := referenceFlow(t, false)
	env := startPCSC(t, 2)

	tag := sim.New(sim.Options{UID: uidN(1, 1)})
	var log apduLog
	card := env.insert(t, 0, tag, vpcd.Options{OnAPDU: log.record})
	rt := env.waitTag(t, 0)

	// Behind vpcd the reader reports no UID: GET DATA went to the tag,
	// which does not know it.
	if uid := rt.UID(); len(uid) != 0 {
		t.Fatalf("pcsc reported uid %X behind vpcd, where the tag answers GET DATA itself", uid)
	}
	c, r := log.get()
	if len(c) != 1 || !bytes.Equal(c[0], getDataUID) || !bytes.Equal(r[0], []byte{0x6E, 0x00}) {
		t.Fatalf("exchanges at connection: % X -> % X, want GET DATA answered 6E00", c, r)
	}

	j := f.job(rt.UID())
	var hooked []byte
	j.BeforeWrite = func(_ context.Context, uid []byte, found encoder.Found) error {
		if found != encoder.FoundFactory || !tag.IsFactoryFresh() {
			t.Errorf("journal hook: found %q, tag factory-fresh %v", found, tag.IsFactoryFresh())
		}
		hooked = uid
		return nil
	}
	start := time.Now()
	res, err := encoder.Personalise(testCtx(t), rt, j, encoder.Options{})
	if err != nil {
		t.Fatalf("Personalise through pcscd: %v", err)
	}
	t.Logf("personalised %X through pcscd in %v, %d exchanges", res.UID, time.Since(start), res.Exchanges)
	if !bytes.Equal(res.UID, tag.UID()) || !bytes.Equal(hooked, tag.UID()) || res.Found != encoder.FoundFactory {
		t.Fatalf("result uid %X found %q, hook saw %X; tag is %X", res.UID, res.Found, hooked, tag.UID())
	}

	// The same commands as on the in-process path without a reader UID,
	// GetCardUID included: the encoder asked the tag for its UID.
	c, _ = log.get()
	sent := flow{cmds: c[1:]}
	if !slices.Equal(sent.ids(), ref.ids()) {
		t.Fatalf("commands through pcscd %v\ndiffer from the in-process flow %v", sent.ids(), ref.ids())
	}
	if res.Exchanges != len(ref.cmds) {
		t.Errorf("%d exchanges, the in-process flow has %d", res.Exchanges, len(ref.cmds))
	}
	if !slices.Contains(sent.ids(), cmdGetCardUID) {
		t.Fatalf("the encoder did not ask the tag for its uid (GetCardUID): %v", sent.ids())
	}

	v := f.verifyURL(t, res.URL, tag.UID())
	if uint32(v.Ctr) != res.ReadCtr {
		t.Errorf("read-back counter %d, url says %d", res.ReadCtr, v.Ctr)
	}
	f.checkOurKeys(t, tag)

	// A phone's tap: the tag leaves and comes back, and is read without
	// keys through pcscd.
	env.takeOut(t, 0, card, rt)
	reactivate(tag)
	env.insert(t, 0, tag, vpcd.Options{})
	url := f.checkPhoneRead(t, env.waitTag(t, 0), tag.UID(), res.ReadCtr)
	t.Logf("phone read through pcscd: %s", url)
}

// TestPCSCTagRemoved takes the tag out of the field in the middle of the
// flow through pcscd, at several points and in two ways: the vpcd card
// closes its socket on receiving command k, which never reaches the tag
// (command-lost), or the tag executes command k and leaves the field with
// its answer (answer-lost: the socket is closed first, then the tag runs
// the command under its own RemoveDuring hook). The encoder must report
// reader.ErrTagRemoved, and the same tag inserted again must be finished.
//
// The cases run one after the other, alternating between two readers so
// that a case does not wait for pcscd to see the previous tag leave. They
// would be faster concurrently, one per reader, but concurrent PC/SC
// connects and disconnects can crash libpcsclite 1.9.9 (see the package
// documentation); TestPCSCEightLanes is where concurrency is tested.
func TestPCSCTagRemoved(t *testing.T) {
	f := newFixture(t)
	ref := referenceFlow(t, false)
	env := startPCSC(t, 2)
	for i, c := range tearCases() {
		t.Run(c.String(), func(t *testing.T) { pcscTornCase(t, f, ref, env, c, i, i%env.d.Readers()) })
	}
}

// pcscTornCase is case i of TestPCSCTagRemoved on vpcd reader slot.
func pcscTornCase(t *testing.T, f fixture, ref flow, env *pcscEnv, c tearCase, i, slot int) {
	// The reader's previous tag was taken out without waiting.
	if err := env.readers[slot].WaitRemoved(testCtx(t)); err != nil {
		t.Fatalf("reader %d: WaitRemoved: %v", slot, err)
	}
	tag := sim.New(sim.Options{UID: uidN(2, byte(i))})
	// vpcd numbers the card's command APDUs from 1, and pcsc's GET
	// DATA at connection is number 1.
	n := c.at(t, ref) + 1
	opts := vpcd.Options{RemoveAfter: n}
	if c.executed {
		opts.OnAPDU = func(m int, capdu, rapdu []byte) {
			if m == n && rapdu == nil {
				// The socket is closed: the reader has lost the
				// tag. The tag still executes the command and
				// leaves the field before answering.
				tag.RemoveDuring(1)
				if r := tag.Process(capdu); r != nil {
					t.Errorf("torn command % X answered % X", capdu, r)
				}
			}
		}
	}
	start := time.Now()
	step := func(what string) { t.Logf("%6.0f ms  %s", float64(time.Since(start).Microseconds())/1000, what) }
	card := env.insert(t, slot, tag, opts)
	rt := env.waitTag(t, slot)
	step(fmt.Sprintf("reader %d connected the tag; tear at card apdu %d", slot, n))
	res, err := encoder.Personalise(testCtx(t), rt, f.job(rt.UID()), encoder.Options{})
	step(fmt.Sprintf("first attempt: %v", err))
	if !errors.Is(err, reader.ErrTagRemoved) {
		t.Fatalf("%v: first attempt: %v after %d exchanges; want reader.ErrTagRemoved", c, err, res.Exchanges)
	}
	// The torn command has run on the tag once the card has left.
	select {
	case <-card.Done():
	case <-time.After(testTimeout):
		t.Fatalf("the vpcd card did not leave (%d apdus received)", card.APDUs())
	}
	alreadyOurs := c.checkTorn(t, ref, tag, res, err)
	if got := card.APDUs(); got != n {
		t.Errorf("the card received %d command APDUs, want %d", got, n)
	}
	if c.executed != tag.Removed() {
		t.Errorf("tag left by its own hook: %v, want %v", tag.Removed(), c.executed)
	}
	env.takeOut(t, slot, card, rt)
	step("pcscd saw the tag leave")

	wasFresh := tag.IsFactoryFresh()
	reactivate(tag)
	card = env.insert(t, slot, tag, vpcd.Options{})
	rt = env.waitTag(t, slot)
	step("the same tag is back")
	res, err = encoder.Personalise(testCtx(t), rt, f.job(rt.UID()), encoder.Options{})
	step(fmt.Sprintf("second attempt: %v", err))
	c.checkSecond(t, f, tag, alreadyOurs, wasFresh, res, err)
	f.checkPhoneRead(t, rt, tag.UID(), res.ReadCtr)
	rt.Close()
	card.Remove()
	step("done")
}

// TestPCSCEightLanes personalises eight tags in eight vpcd readers at once:
// one process, one station, one journal, eight lanes. The lanes connect and
// disconnect their tags concurrently, which is what exposes the
// libpcsclite crash described in the package documentation (seen once in
// 150 runs).
func TestPCSCEightLanes(t *testing.T) {
	const lanes = 8
	f := newFixture(t)
	env := startPCSC(t, lanes)
	store, st := f.journal(t, "lanes", lanes)

	tags := make([]*sim.Tag, lanes)
	cards := make(map[string]*vpcd.Card, lanes)
	index := make(map[string]int, lanes)
	for i := range lanes {
		tags[i] = sim.New(sim.Options{UID: uidN(3, byte(i))})
		cards[env.d.ReaderName(i)] = env.insert(t, i, tags[i], vpcd.Options{})
		index[env.d.ReaderName(i)] = i
	}

	ctx := testCtx(t)
	events := make(chan station.Event, 8*lanes)
	errs := make(chan error, lanes)
	for i := range lanes {
		go func() { errs <- st.Lane(ctx, env.readers[i], station.LaneOptions{Limit: 1}, events) }()
	}

	results := make([]*station.Result, lanes)
	var arrived, finished [lanes]time.Time
	for stopped := 0; stopped < lanes; {
		var e station.Event
		select {
		case e = <-events:
		case <-ctx.Done():
			t.Fatalf("lanes did not finish: %v", ctx.Err())
		}
		i, ok := index[e.Reader]
		if !ok {
			t.Fatalf("event from unknown reader %q", e.Reader)
		}
		switch e.Kind {
		case station.EvArrived:
			arrived[i] = e.At
		case station.EvResult:
			finished[i] = e.At
			results[i] = e.Result
			cards[e.Reader].Remove() // the operator takes the tag away
		case station.EvReaderLost:
			t.Errorf("reader %q lost: %v", e.Reader, e.Err)
		case station.EvStopped:
			stopped++
		}
	}
	for range lanes {
		if err := <-errs; err != nil {
			t.Errorf("lane: %v", err)
		}
	}

	for i, res := range results {
		if res == nil {
			t.Fatalf("lane %d produced no result", i)
		}
		if res.Outcome != manifest.Encoded || res.Err != nil || res.UID != manifest.UID(fmt.Sprintf("%X", tags[i].UID())) {
			t.Fatalf("lane %d: %+v", i, res)
		}
		f.verifyURL(t, res.URL, tags[i].UID())
		f.checkOurKeys(t, tags[i])
	}
	f.checkJournal(t, store, "lanes", tags)

	// How much the lanes overlapped (pcscd notices each insertion on its
	// own reader's 400 ms poll, so starts are spread over that window).
	overlap := 0
	for i := range lanes {
		n := 0
		for j := range lanes {
			if !arrived[j].After(arrived[i]) && finished[j].After(arrived[i]) {
				n++
			}
		}
		overlap = max(overlap, n)
	}
	t.Logf("up to %d of %d lanes were encoding at the same time", overlap, lanes)
}
