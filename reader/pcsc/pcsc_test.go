//go:build cgo

package pcsc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ebfe/scard"

	"github.com/tagline-station/tagline/internal/pcscdtest"
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/reader/vpcd"
)

// childMode names the variable that makes the test binary act as a
// subprocess of TestOpenWithoutPcscd.
const childMode = "TAGLINE_PCSC_TEST_CHILD"

// TestMain points libpcsclite at pcscdtest's per-process socket before any
// test runs: the library reads PCSCLITE_CSOCK_NAME once per process, at its
// first call, and every pcscdtest daemon of this process uses that path.
func TestMain(m *testing.M) {
	if os.Getenv(childMode) == "" {
		pcscdtest.UseSocket()
	}
	os.Exit(m.Run())
}

// testTimeout bounds every wait of these tests; generous for a loaded
// 2-core CI machine (pcscd notices vpcd cards within 400 ms).
const testTimeout = 20 * time.Second

// fakeTag is a minimal reader.Emulated: SELECT by name (00 A4 04 00) gets
// 9000, 80 EE 00 00 Lc data echoes the data with 9000, anything else 6D00.
type fakeTag struct{}

func (fakeTag) UID() []byte { return []byte{0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66} }
func (fakeTag) ATS() []byte { return []byte{0x06, 0x77, 0x77, 0x71, 0x02, 0x80} }
func (fakeTag) Process(c []byte) []byte {
	switch {
	case len(c) >= 4 && c[0] == 0x00 && c[1] == 0xA4 && c[2] == 0x04 && c[3] == 0x00:
		return []byte{0x90, 0x00}
	case len(c) >= 5 && c[0] == 0x80 && c[1] == 0xEE && len(c) >= 5+int(c[4]):
		return append(bytes.Clone(c[5:5+int(c[4])]), 0x90, 0x00)
	}
	return []byte{0x6D, 0x00}
}

var (
	selectNDEF = []byte{0x00, 0xA4, 0x04, 0x00, 0x07, 0xD2, 0x76, 0x00, 0x00, 0x85, 0x01, 0x01, 0x00}
	ok         = []byte{0x90, 0x00}
)

func echo(data ...byte) []byte {
	return append(append([]byte{0x80, 0xEE, 0x00, 0x00, byte(len(data))}, data...), 0x00)
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// setup starts a private pcscd with n vpcd readers and opens the stack.
func setup(t testing.TB, n int, opts ...Option) (*pcscdtest.Daemon, *Stack) {
	t.Helper()
	d := pcscdtest.Setup(t, n)
	st, err := Open(testCtx(t), opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return d, st
}

// insert puts a fakeTag into reader i.
func insert(t testing.TB, d *pcscdtest.Daemon, i int, opts vpcd.Options) *vpcd.Card {
	t.Helper()
	return d.Insert(t, i, fakeTag{}, opts)
}

func openReader(t testing.TB, st *Stack, name string) reader.Reader {
	t.Helper()
	r, err := st.Reader(name)
	if err != nil {
		t.Fatalf("Reader(%q): %v", name, err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func waitTag(t testing.TB, r reader.Reader) reader.Tag {
	t.Helper()
	tag, err := r.WaitTag(testCtx(t))
	if err != nil {
		t.Fatalf("WaitTag: %v", err)
	}
	t.Cleanup(func() { tag.Close() })
	return tag
}

func transmit(t testing.TB, tag reader.Tag, capdu, want []byte) {
	t.Helper()
	rsp, err := tag.Transmit(testCtx(t), capdu)
	if err != nil {
		t.Fatalf("Transmit(% X): %v", capdu, err)
	}
	if !bytes.Equal(rsp, want) {
		t.Fatalf("Transmit(% X) = % X, want % X", capdu, rsp, want)
	}
}

func infoOf(t *testing.T, st *Stack, name string) reader.Info {
	t.Helper()
	infos, err := st.List()
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	for _, in := range infos {
		if in.Name == name {
			return in
		}
	}
	t.Fatalf("List() = %+v: no reader %q", infos, name)
	return reader.Info{}
}

// waiting installs a hook that reports when a wait on reader name blocks
// with the reader in the given state.
func waiting(t *testing.T, name string, state scard.StateFlag) <-chan struct{} {
	ch := make(chan struct{})
	var once sync.Once
	hook := func(n string, states []scard.ReaderState) {
		if n == name && states[0].Reader == name && states[0].CurrentState&state != 0 {
			once.Do(func() { close(ch) })
		}
	}
	testHookWait.Store(&hook)
	t.Cleanup(func() { testHookWait.Store(nil) })
	return ch
}

func within(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(testTimeout):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// TestTagLifecycle walks one tag through list, wait, transmit, removal and
// re-insertion through the real pcscd.
func TestTagLifecycle(t *testing.T) {
	d, st := setup(t, 2)
	name := d.ReaderName(0)

	for i := range 2 {
		if in := infoOf(t, st, d.ReaderName(i)); in.TagPresent || in.Kind != reader.KindPCSC {
			t.Fatalf("before insert: %+v", in)
		}
	}
	if _, err := st.Reader("No Such Reader 00 00"); !errors.Is(err, reader.ErrNoReader) {
		t.Fatalf("Reader(unknown) = %v, want ErrNoReader", err)
	}
	r := openReader(t, st, name)
	if in := r.Info(); in.Name != name || in.TagPresent {
		t.Fatalf("Info() = %+v", in)
	}

	// WaitTag is already blocked in SCardGetStatusChange on an empty reader
	// when the card comes: the event wakes it.
	blocked := waiting(t, name, scard.StateEmpty)
	type result struct {
		tag reader.Tag
		err error
	}
	got := make(chan result, 1)
	go func() {
		tag, err := r.WaitTag(testCtx(t))
		got <- result{tag, err}
	}()
	within(t, blocked, "WaitTag to block")
	var mu sync.Mutex
	var apdus [][]byte
	card := insert(t, d, 0, vpcd.Options{OnAPDU: func(n int, capdu, rapdu []byte) {
		mu.Lock()
		apdus = append(apdus, capdu)
		mu.Unlock()
	}})
	var res result
	select {
	case res = <-got:
	case <-time.After(testTimeout):
		t.Fatal("WaitTag did not return after the card was inserted")
	}
	if res.err != nil {
		t.Fatalf("WaitTag: %v", res.err)
	}
	tag := res.tag
	defer tag.Close()
	// vpcd hands the PC/SC GET DATA pseudo-APDU to the card, which does
	// not know it: the UID is left for the encoder to ask the tag.
	if uid := tag.UID(); len(uid) != 0 {
		t.Fatalf("UID() = % X, want empty", uid)
	}
	mu.Lock()
	if len(apdus) != 1 || !bytes.Equal(apdus[0], getUID) {
		t.Fatalf("card saw % X, want only GET DATA", apdus)
	}
	mu.Unlock()

	if in := infoOf(t, st, name); !in.TagPresent {
		t.Fatalf("after insert: %+v", in)
	}
	if in := infoOf(t, st, d.ReaderName(1)); in.TagPresent {
		t.Fatalf("other reader after insert: %+v", in)
	}
	if !r.Info().TagPresent {
		t.Fatal("Info().TagPresent false with a tag")
	}

	transmit(t, tag, selectNDEF, ok)
	transmit(t, tag, echo(1, 2, 3, 4), []byte{1, 2, 3, 4, 0x90, 0x00})
	transmit(t, tag, []byte{0x90, 0x60, 0x00, 0x00, 0x00}, []byte{0x6D, 0x00})

	// Pull the card: the next exchange reports a removed tag and
	// WaitRemoved returns.
	card.Remove()
	_, err := tag.Transmit(testCtx(t), echo(9))
	if !errors.Is(err, reader.ErrTagRemoved) {
		t.Fatalf("Transmit after removal: %v, want ErrTagRemoved", err)
	}
	if err := r.WaitRemoved(testCtx(t)); err != nil {
		t.Fatalf("WaitRemoved: %v", err)
	}
	tag.Close()
	if _, err := tag.Transmit(testCtx(t), echo(9)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Transmit after Close: %v", err)
	}

	// The same tag inserted again works.
	insert(t, d, 0, vpcd.Options{})
	tag2 := waitTag(t, r)
	transmit(t, tag2, echo(5, 6), []byte{5, 6, 0x90, 0x00})
}

// TestRemoveMidFlow pulls the tag on its third exchange (GET DATA, SELECT,
// then the echo that is never answered).
func TestRemoveMidFlow(t *testing.T) {
	d, st := setup(t, 2)
	r := openReader(t, st, d.ReaderName(1))
	card := insert(t, d, 1, vpcd.Options{RemoveAfter: 3})
	tag := waitTag(t, r)
	transmit(t, tag, selectNDEF, ok)
	start := time.Now()
	rsp, err := tag.Transmit(testCtx(t), echo(7))
	if !errors.Is(err, reader.ErrTagRemoved) {
		t.Fatalf("Transmit when the tag leaves mid-exchange: % X, %v, want ErrTagRemoved", rsp, err)
	}
	t.Logf("removal reported after %v: %v", time.Since(start), err)
	if !errors.Is(card.Err(), vpcd.ErrRemoved) {
		t.Fatalf("card.Err() = %v", card.Err())
	}
	if err := r.WaitRemoved(testCtx(t)); err != nil {
		t.Fatalf("WaitRemoved: %v", err)
	}
	tag.Close()

	insert(t, d, 1, vpcd.Options{})
	tag2 := waitTag(t, r)
	transmit(t, tag2, selectNDEF, ok)
	transmit(t, tag2, echo(8), []byte{8, 0x90, 0x00})
}

// TestWaitRemovedWhileConnected: WaitRemoved returns when the card leaves
// even though the tag is still connected, and a tag that is swapped for
// another between two waits counts as removed.
func TestWaitRemovedWhileConnected(t *testing.T) {
	d, st := setup(t, 2)
	r := openReader(t, st, d.ReaderName(0))
	card := insert(t, d, 0, vpcd.Options{})
	tag := waitTag(t, r)
	transmit(t, tag, selectNDEF, ok)

	// While the tag stays, WaitRemoved blocks.
	short, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := r.WaitRemoved(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitRemoved with the tag present: %v", err)
	}

	blocked := waiting(t, d.ReaderName(0), scard.StatePresent)
	done := make(chan error, 1)
	go func() { done <- r.WaitRemoved(testCtx(t)) }()
	within(t, blocked, "WaitRemoved to block")
	card.Remove()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("WaitRemoved: %v", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("WaitRemoved did not return after removal")
	}
	tag.Close()

	// A tag replaced by another before WaitRemoved is called has left,
	// although the reader is not empty.
	card = insert(t, d, 0, vpcd.Options{})
	tag = waitTag(t, r)
	tag.Close()
	card.Remove()
	waitPresent(t, st, d.ReaderName(0), false)
	insert(t, d, 0, vpcd.Options{})
	waitPresent(t, st, d.ReaderName(0), true)
	if err := r.WaitRemoved(testCtx(t)); err != nil {
		t.Fatalf("WaitRemoved after a swap: %v", err)
	}
}

// waitPresent polls List until the reader's TagPresent is want.
func waitPresent(t *testing.T, st *Stack, name string, want bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for infoOf(t, st, name).TagPresent != want {
		if time.Now().After(deadline) {
			t.Fatalf("%q: TagPresent never became %v", name, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestWaitCancelAndClose(t *testing.T) {
	d, st := setup(t, 2)
	r := openReader(t, st, d.ReaderName(0))

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := r.WaitTag(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitTag with an expiring ctx: %v", err)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Fatalf("WaitTag took %v to honour its ctx", el)
	}

	blocked := waiting(t, d.ReaderName(0), scard.StateEmpty)
	done := make(chan error, 1)
	go func() {
		_, err := r.WaitTag(context.Background())
		done <- err
	}()
	within(t, blocked, "WaitTag to block")
	r.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("WaitTag after Close: %v", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("Close did not end WaitTag")
	}
	if _, err := r.WaitTag(testCtx(t)); !errors.Is(err, ErrClosed) {
		t.Fatalf("WaitTag on a closed reader: %v", err)
	}
}

// TestWaitAbsentReader: waiting on a reader that is not plugged in blocks
// on the PnP notification (it does not fail, and does not spin) until ctx
// ends.
func TestWaitAbsentReader(t *testing.T) {
	_, st := setup(t, 2)
	const name = "Unplugged Reader 00 00"
	var calls atomic.Int32
	hook := func(n string, states []scard.ReaderState) {
		if n == name {
			calls.Add(1)
		}
	}
	testHookWait.Store(&hook)
	defer testHookWait.Store(nil)
	r := &pcscReader{stack: st, name: name, closed: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if _, err := r.WaitTag(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitTag on an absent reader: %v", err)
	}
	t.Logf("%d blocking waits", calls.Load())
	if c := calls.Load(); c > 4 {
		t.Fatalf("%d blocking waits in 500 ms: the wait spins", c)
	}
	if err := r.WaitRemoved(testCtx(t)); err != nil {
		t.Fatalf("WaitRemoved on an absent reader: %v", err)
	}
}

// TestExclusive: a tag connected exclusively by one stack makes another
// stack's WaitTag wait until it is released.
func TestExclusive(t *testing.T) {
	d, st := setup(t, 2, Exclusive())
	st2, err := Open(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	insert(t, d, 0, vpcd.Options{})
	tag := waitTag(t, openReader(t, st, d.ReaderName(0)))
	transmit(t, tag, selectNDEF, ok)

	r2 := openReader(t, st2, d.ReaderName(0))
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if _, err := r2.WaitTag(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitTag while another holds the tag exclusively: %v", err)
	}
	tag.Close()
	tag2 := waitTag(t, r2)
	transmit(t, tag2, echo(1), []byte{1, 0x90, 0x00})
}

// TestPcscdGoesAway: pcscd stopping under a connected tag is a removed tag
// and an unavailable stack.
func TestPcscdGoesAway(t *testing.T) {
	d, st := setup(t, 2)
	insert(t, d, 0, vpcd.Options{})
	tag := waitTag(t, openReader(t, st, d.ReaderName(0)))
	transmit(t, tag, selectNDEF, ok)
	d.Stop()
	_, err := tag.Transmit(testCtx(t), echo(1))
	if !errors.Is(err, reader.ErrTagRemoved) || !errors.Is(err, reader.ErrStackUnavailable) {
		t.Fatalf("Transmit after pcscd stopped: %v", err)
	}
	if _, err := st.List(); !errors.Is(err, reader.ErrStackUnavailable) {
		t.Fatalf("List after pcscd stopped: %v", err)
	}
}

// TestEightReaders runs eight tags in eight readers concurrently.
func TestEightReaders(t *testing.T) {
	const n, rounds = 8, 40
	d, st := setup(t, n)
	for i := range n {
		insert(t, d, i, vpcd.Options{})
	}
	errs := make(chan error, n)
	for i := range n {
		go func() {
			errs <- func() error {
				r, err := st.Reader(d.ReaderName(i))
				if err != nil {
					return err
				}
				defer r.Close()
				ctx := testCtx(t)
				tag, err := r.WaitTag(ctx)
				if err != nil {
					return fmt.Errorf("reader %d: WaitTag: %w", i, err)
				}
				defer tag.Close()
				for j := range rounds {
					rsp, err := tag.Transmit(ctx, echo(byte(i), byte(j)))
					if err != nil {
						return fmt.Errorf("reader %d round %d: %w", i, j, err)
					}
					if want := []byte{byte(i), byte(j), 0x90, 0x00}; !bytes.Equal(rsp, want) {
						return fmt.Errorf("reader %d round %d: % X, want % X", i, j, rsp, want)
					}
				}
				return nil
			}()
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	infos, err := st.List()
	if err != nil {
		t.Fatal(err)
	}
	present := 0
	for _, in := range infos {
		if in.TagPresent {
			present++
		}
	}
	if present < n {
		t.Fatalf("List() = %+v: %d tags present, want %d", infos, present, n)
	}
}

// TestOpenWithoutPcscd runs the test binary again with PCSCLITE_CSOCK_NAME
// pointing nowhere (the client library reads the variable once per
// process, so this needs a process of its own).
func TestOpenWithoutPcscd(t *testing.T) {
	if os.Getenv(childMode) == "open" {
		_, err := Open(context.Background())
		if !errors.Is(err, reader.ErrStackUnavailable) || !strings.Contains(err.Error(), hintNotRunning) {
			t.Fatalf("Open without pcscd: %v", err)
		}
		fmt.Printf("child: %v\n", err)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestOpenWithoutPcscd$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), childMode+"=open",
		pcscdtest.EnvSocket+"="+filepath.Join(t.TempDir(), "nowhere", "pcscd.comm"))
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "child: ") {
		t.Fatalf("child: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "child: ") {
			t.Log(line)
		}
	}
}

// BenchmarkTransmitPCSC measures one APDU round trip through libpcsclite,
// pcscd, the vpcd driver and the vpcd card client.
func BenchmarkTransmitPCSC(b *testing.B) {
	d, st := setup(b, 2)
	insert(b, d, 0, vpcd.Options{})
	r, err := st.Reader(d.ReaderName(0))
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	tag := waitTag(b, r)
	ctx := testCtx(b)
	capdu := echo(make([]byte, 16)...)
	for b.Loop() {
		if _, err := tag.Transmit(ctx, capdu); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/apdu")
}
