//go:build cgo

package readerpaths

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tagline-station/tagline/internal/testenv"

	"github.com/tagline-station/tagline/encoder"
	"github.com/tagline-station/tagline/internal/pn532emu"
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/reader/libnfc"
	"github.com/tagline-station/tagline/reader/sim"
)

// nfcPoll is libnfc's WaitTag/WaitRemoved poll interval in these tests; the
// emulator answers at once, so there is no reason to wait the default
// 100 ms between polls.
const nfcPoll = 5 * time.Millisecond

// nfcEnv is a PN532 emulated on a pseudo-terminal, opened through libnfc's
// pn532_uart driver.
type nfcEnv struct {
	emu *pn532emu.Emulator
	dev *libnfc.Device
}

func startLibNFC(tb testing.TB) *nfcEnv {
	tb.Helper()
	if !libnfc.Compiled {
		_, err := libnfc.Open("")
		testenv.Missing(tb, fmt.Sprintf("libnfc not compiled in: %v; run scripts/setup.sh and build with cgo", err))
	}
	emu, err := pn532emu.Start(pn532emu.Options{})
	if err != nil {
		tb.Fatalf("pn532emu: %v", err)
	}
	tb.Cleanup(func() { emu.Close() })
	dev, err := libnfc.OpenOptions(emu.Connstring(), libnfc.Options{PollInterval: nfcPoll})
	if err != nil {
		tb.Fatalf("libnfc.Open(%q): %v", emu.Connstring(), err)
	}
	tb.Cleanup(func() {
		dev.Close()
		if u := emu.Unknown(); len(u) > 0 {
			tb.Errorf("libnfc sent commands the emulator does not know: % X", u)
		}
	})
	return &nfcEnv{emu: emu, dev: dev}
}

func (e *nfcEnv) waitTag(tb testing.TB) reader.Tag {
	tb.Helper()
	rt, err := e.dev.WaitTag(testCtx(tb))
	if err != nil {
		tb.Fatalf("libnfc WaitTag: %v", err)
	}
	tb.Cleanup(func() { rt.Close() })
	return rt
}

// takeOut takes the tag out of the emulator's field and waits until libnfc
// has seen it leave.
func (e *nfcEnv) takeOut(tb testing.TB, rt reader.Tag) {
	tb.Helper()
	rt.Close()
	e.emu.RemoveTag()
	if err := e.dev.WaitRemoved(testCtx(tb)); err != nil {
		tb.Fatalf("libnfc WaitRemoved: %v", err)
	}
}

// recTag is a sim.Tag that records the command APDUs it processes. The
// embedded *sim.Tag keeps its Reset and Gone methods, which pn532emu uses.
type recTag struct {
	*sim.Tag
	mu   sync.Mutex
	cmds [][]byte
}

func (r *recTag) Process(capdu []byte) []byte {
	r.mu.Lock()
	r.cmds = append(r.cmds, bytes.Clone(capdu))
	r.mu.Unlock()
	return r.Tag.Process(capdu)
}

func (r *recTag) flow() flow {
	r.mu.Lock()
	defer r.mu.Unlock()
	return flow{cmds: slices.Clone(r.cmds)}
}

// TestLibNFCPersonalise personalises a simulated tag through libnfc and the
// emulated PN532 with the encoder of the in-process path, then reads it as
// a phone would on a second tap.
func TestLibNFCPersonalise(t *testing.T) {
	f := newFixture(t)
	ref := referenceFlow(t, true)
	env := startLibNFC(t)

	tag := &recTag{Tag: sim.New(sim.Options{UID: uidN(4, 1)})}
	env.emu.SetTag(tag)
	rt := env.waitTag(t)
	// libnfc has the UID from anticollision.
	if !bytes.Equal(rt.UID(), tag.UID()) {
		t.Fatalf("libnfc reported uid %X, the tag is %X", rt.UID(), tag.UID())
	}
	start := time.Now()
	res, err := encoder.Personalise(testCtx(t), rt, f.job(rt.UID()), encoder.Options{})
	if err != nil {
		t.Fatalf("Personalise through libnfc: %v", err)
	}
	t.Logf("personalised %X through libnfc in %v, %d exchanges", res.UID, time.Since(start), res.Exchanges)
	if !bytes.Equal(res.UID, tag.UID()) || res.Found != encoder.FoundFactory {
		t.Fatalf("result uid %X found %q; tag is %X", res.UID, res.Found, tag.UID())
	}
	sent := tag.flow()
	if !slices.Equal(sent.ids(), ref.ids()) {
		t.Fatalf("commands through libnfc %v\ndiffer from the in-process flow with the reader's uid %v", sent.ids(), ref.ids())
	}
	if slices.Contains(sent.ids(), cmdGetCardUID) {
		t.Errorf("the encoder asked the tag for its uid although libnfc gave it")
	}
	if res.Exchanges != len(ref.cmds) {
		t.Errorf("%d exchanges, the in-process flow has %d", res.Exchanges, len(ref.cmds))
	}
	v := f.verifyURL(t, res.URL, tag.UID())
	if uint32(v.Ctr) != res.ReadCtr {
		t.Errorf("read-back counter %d, url says %d", res.ReadCtr, v.Ctr)
	}
	f.checkOurKeys(t, tag.Tag)

	env.takeOut(t, rt)
	env.emu.SetTag(tag)
	url := f.checkPhoneRead(t, env.waitTag(t), tag.UID(), res.ReadCtr)
	t.Logf("phone read through libnfc: %s", url)
}

// TestLibNFCTagRemoved takes the tag out of the emulated PN532's field at
// the same points as TestPCSCTagRemoved, with the emulator's hooks:
// RemoveAfter(k-1) (command k never reaches the tag) and RemoveDuring(k)
// (the tag executes command k, its answer is lost). A last case uses the
// sim.Tag's own RemoveDuring hook, which the emulator honours by taking the
// tag out when Process answers nothing.
func TestLibNFCTagRemoved(t *testing.T) {
	f := newFixture(t)
	ref := referenceFlow(t, true)
	env := startLibNFC(t)

	run := func(t *testing.T, c tearCase, tag *sim.Tag, arm func(k int), bringBack func()) {
		env.emu.SetTag(tag)
		rt := env.waitTag(t)
		arm(c.at(t, ref))
		res, err := encoder.Personalise(testCtx(t), rt, f.job(rt.UID()), encoder.Options{})
		alreadyOurs := c.checkTorn(t, ref, tag, res, err)
		if err := env.dev.WaitRemoved(testCtx(t)); err != nil {
			t.Fatalf("libnfc WaitRemoved after the tear: %v", err)
		}
		rt.Close()

		wasFresh := tag.IsFactoryFresh()
		if bringBack != nil {
			bringBack()
		}
		env.emu.SetTag(tag)
		rt = env.waitTag(t)
		res, err = encoder.Personalise(testCtx(t), rt, f.job(rt.UID()), encoder.Options{})
		c.checkSecond(t, f, tag, alreadyOurs, wasFresh, res, err)
		f.checkPhoneRead(t, rt, tag.UID(), res.ReadCtr)
		env.takeOut(t, rt)
	}

	for i, c := range tearCases() {
		t.Run(c.String(), func(t *testing.T) {
			tag := sim.New(sim.Options{UID: uidN(5, byte(i))})
			run(t, c, tag, func(k int) {
				if c.executed {
					env.emu.RemoveDuring(k)
				} else {
					env.emu.RemoveAfter(k - 1)
				}
			}, nil)
		})
	}

	t.Run("sim-hook/answer-lost/changekey-2", func(t *testing.T) {
		c := tearCase{tearPoints[2], true}
		tag := sim.New(sim.Options{UID: uidN(5, 0xFF)})
		run(t, c, tag, func(k int) { tag.RemoveDuring(k) }, func() {
			if !tag.Removed() {
				t.Error("the tag's own hook did not take it out")
			}
			// pn532emu.SetTag does not activate a sim.Tag that left by
			// its own hook: without this it answers nothing.
			reactivate(tag)
		})
	})
}
