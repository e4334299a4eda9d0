package libnfc_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/tagline-station/tagline/internal/testenv"

	"github.com/tagline-station/tagline/internal/pn532emu"
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/reader/libnfc"
)

var trace = flag.Bool("pn532trace", false, "log every PN532 frame of the emulator")

func TestMain(m *testing.M) {
	// libnfc reads LIBNFC_LOG_LEVEL itself; keep it quiet unless asked.
	if os.Getenv("LIBNFC_LOG_LEVEL") == "" {
		os.Setenv("LIBNFC_LOG_LEVEL", "0")
	}
	os.Exit(m.Run())
}

// fakeTag is a minimal ISO 14443-4 tag: SELECT answers 9000, INS EE echoes
// its data, anything else gets 6D00.
type fakeTag struct {
	uid, ats []byte
}

func newFakeTag() *fakeTag {
	return &fakeTag{
		uid: []byte{0x04, 0x5A, 0x3B, 0x12, 0x9C, 0x70, 0x80},
		ats: []byte{0x06, 0x77, 0x77, 0x71, 0x02, 0x80},
	}
}

func (f *fakeTag) UID() []byte { return f.uid }
func (f *fakeTag) ATS() []byte { return f.ats }
func (f *fakeTag) Process(c []byte) []byte {
	switch {
	case len(c) >= 4 && c[0] == 0x00 && c[1] == 0xA4:
		return []byte{0x90, 0x00}
	case len(c) >= 5 && c[1] == 0xEE:
		lc := int(c[4])
		if len(c) < 5+lc {
			return []byte{0x67, 0x00}
		}
		return append(append([]byte(nil), c[5:5+lc]...), 0x90, 0x00)
	case len(c) >= 4 && c[1] == 0xEF: // long answer: P2 P1 give its length
		n := int(c[2])<<8 | int(c[3])
		r := make([]byte, n, n+2)
		for i := range r {
			r[i] = byte(i)
		}
		return append(r, 0x90, 0x00)
	}
	return []byte{0x6D, 0x00}
}

// requireLibNFC skips (locally) or fails (CI=true) when the binding is not
// compiled in.
func requireLibNFC(t testing.TB) {
	t.Helper()
	if libnfc.Compiled {
		return
	}
	_, err := libnfc.Open("")
	testenv.Missing(t, fmt.Sprintf("SKIPPING libnfc tests: %v. Run scripts/setup.sh and build with cgo to run them.", err))
}

func startEmu(t testing.TB, opts pn532emu.Options) *pn532emu.Emulator {
	t.Helper()
	if *trace {
		opts.Trace = true
		opts.Logf = t.Logf
	}
	emu, err := pn532emu.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	return emu
}

func setup(t testing.TB, opts pn532emu.Options) (*pn532emu.Emulator, *libnfc.Device) {
	t.Helper()
	requireLibNFC(t)
	emu := startEmu(t, opts)
	dev, err := libnfc.Open(emu.Connstring())
	if err != nil {
		t.Fatalf("Open(%q): %v", emu.Connstring(), err)
	}
	t.Cleanup(func() {
		dev.Close()
		if u := emu.Unknown(); len(u) > 0 {
			t.Errorf("libnfc sent commands the emulator does not know: % X", u)
		}
	})
	return emu, dev
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func waitTag(t testing.TB, dev *libnfc.Device) *libnfc.Tag {
	t.Helper()
	tag, err := dev.WaitTag(ctxT(t, 5*time.Second))
	if err != nil {
		t.Fatalf("WaitTag: %v", err)
	}
	return tag.(*libnfc.Tag)
}

func transmit(t testing.TB, tag reader.Card, capdu []byte) []byte {
	t.Helper()
	r, err := tag.Transmit(ctxT(t, 5*time.Second), capdu)
	if err != nil {
		t.Fatalf("Transmit(% X): %v", capdu, err)
	}
	return r
}

func echoAPDU(data []byte) []byte {
	return append(append([]byte{0x00, 0xEE, 0x00, 0x00, byte(len(data))}, data...), 0x00)
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	return b
}

func TestWaitTagFindsTag(t *testing.T) {
	emu, dev := setup(t, pn532emu.Options{})
	if got := dev.Info(); got.Kind != reader.KindLibNFC || got.TagPresent || got.Name == "" {
		t.Errorf("Info before a tag = %+v", got)
	}
	ft := newFakeTag()
	emu.SetTag(ft)
	tag := waitTag(t, dev)
	defer tag.Close()
	if !bytes.Equal(tag.UID(), ft.uid) {
		t.Errorf("UID = % X, want % X", tag.UID(), ft.uid)
	}
	if !bytes.Equal(tag.ATS(), ft.ats) {
		t.Errorf("ATS = % X, want % X", tag.ATS(), ft.ats)
	}
	if tag.ATQA() != [2]byte{0x03, 0x44} || tag.SAK() != 0x20 {
		t.Errorf("ATQA % X SAK %02X, want 03 44 and 20", tag.ATQA(), tag.SAK())
	}
	if !dev.Info().TagPresent {
		t.Error("Info().TagPresent = false with a tag selected")
	}
	t.Logf("device %q; PN532 commands libnfc used: % X", dev.Info().Name, emu.Commands())
}

func TestTransmitRoundTrips(t *testing.T) {
	emu, dev := setup(t, pn532emu.Options{})
	emu.SetTag(newFakeTag())
	tag := waitTag(t, dev)

	if r := transmit(t, tag, []byte{0x00, 0xA4, 0x04, 0x00, 0x07, 0xD2, 0x76, 0x00, 0x00, 0x85, 0x01, 0x01, 0x00}); !bytes.Equal(r, []byte{0x90, 0x00}) {
		t.Errorf("SELECT → % X, want 90 00", r)
	}
	if r := transmit(t, tag, []byte{0x90, 0x60, 0x00, 0x00, 0x00}); !bytes.Equal(r, []byte{0x6D, 0x00}) {
		t.Errorf("unknown → % X, want 6D 00", r)
	}
	for _, n := range []int{1, 16, 200, 240, 250, 255} {
		data := pattern(n)
		r := transmit(t, tag, echoAPDU(data)) // 250 bytes and up need extended frames both ways
		if want := append(data, 0x90, 0x00); !bytes.Equal(r, want) {
			t.Errorf("echo of %d bytes → %d bytes % X…, want %d", n, len(r), r[:min(len(r), 8)], len(want))
		}
	}
}

// TestTransmitChainedResponse makes the emulated PN532 split long responses
// with the MI bit, which libnfc must reassemble.
func TestTransmitChainedResponse(t *testing.T) {
	emu, dev := setup(t, pn532emu.Options{MaxExchangeData: 64})
	emu.SetTag(newFakeTag())
	tag := waitTag(t, dev)
	for _, n := range []int{62, 63, 64, 200, 256} {
		r := transmit(t, tag, []byte{0x90, 0xEF, byte(n >> 8), byte(n)})
		if len(r) != n+2 || r[n] != 0x90 || r[n+1] != 0x00 || (n > 10 && r[10] != 10) {
			t.Errorf("long answer of %d bytes: got %d bytes", n, len(r))
		}
	}
}

func TestRemovalMidExchange(t *testing.T) {
	emu, dev := setup(t, pn532emu.Options{})
	ft := newFakeTag()
	emu.SetTag(ft)
	tag := waitTag(t, dev)

	// The tag answers twice, then leaves.
	emu.RemoveAfter(2)
	transmit(t, tag, echoAPDU([]byte{1}))
	transmit(t, tag, echoAPDU([]byte{2}))
	if _, err := tag.Transmit(ctxT(t, 5*time.Second), echoAPDU([]byte{3})); !errors.Is(err, reader.ErrTagRemoved) {
		t.Fatalf("Transmit after removal: err = %v, want ErrTagRemoved", err)
	}
	start := time.Now()
	if err := dev.WaitRemoved(ctxT(t, 5*time.Second)); err != nil {
		t.Fatalf("WaitRemoved: %v", err)
	}
	t.Logf("WaitRemoved returned after %v", time.Since(start))
	if dev.Info().TagPresent {
		t.Error("Info().TagPresent = true after removal")
	}

	// Present it again: it must be selected anew, and the old handle is stale.
	emu.SetTag(ft)
	tag2 := waitTag(t, dev)
	if r := transmit(t, tag2, echoAPDU([]byte{4})); !bytes.Equal(r, []byte{4, 0x90, 0x00}) {
		t.Errorf("after re-present: % X", r)
	}
	if _, err := tag.Transmit(ctxT(t, time.Second), echoAPDU([]byte{5})); !errors.Is(err, reader.ErrTagRemoved) {
		t.Errorf("stale tag handle: err = %v, want ErrTagRemoved", err)
	}

	// Tearing: the tag sees the command but is gone before it answers.
	emu.RemoveDuring(1)
	before := emu.Exchanges()
	if _, err := tag2.Transmit(ctxT(t, 5*time.Second), echoAPDU([]byte{6})); !errors.Is(err, reader.ErrTagRemoved) {
		t.Fatalf("torn exchange: err = %v, want ErrTagRemoved", err)
	}
	if emu.Exchanges() != before+1 {
		t.Errorf("torn exchange did not reach the tag")
	}
	if err := dev.WaitRemoved(ctxT(t, 5*time.Second)); err != nil {
		t.Fatalf("WaitRemoved after tearing: %v", err)
	}
}

func TestWaitRemovedWaitsForRemoval(t *testing.T) {
	emu, dev := setup(t, pn532emu.Options{})
	emu.SetTag(newFakeTag())
	waitTag(t, dev)

	if err := dev.WaitRemoved(ctxT(t, 250*time.Millisecond)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitRemoved with the tag present: %v, want deadline exceeded", err)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		emu.RemoveTag()
	}()
	start := time.Now()
	if err := dev.WaitRemoved(ctxT(t, 5*time.Second)); err != nil {
		t.Fatalf("WaitRemoved: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("WaitRemoved took %v", d)
	}
}

func TestWaitTagHonoursContext(t *testing.T) {
	emu, dev := setup(t, pn532emu.Options{})
	start := time.Now()
	_, err := dev.WaitTag(ctxT(t, 300*time.Millisecond))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitTag without a tag: %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("WaitTag returned %v after the deadline", d)
	}
	// A tag arriving while WaitTag polls is found.
	go func() {
		time.Sleep(150 * time.Millisecond)
		emu.SetTag(newFakeTag())
	}()
	waitTag(t, dev)
}

func TestTransmitHonoursContext(t *testing.T) {
	emu, dev := setup(t, pn532emu.Options{})
	emu.SetTag(newFakeTag())
	tag := waitTag(t, dev)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tag.Transmit(ctx, echoAPDU([]byte{1})); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: %v", err)
	}
	if err := tag.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := tag.Transmit(context.Background(), echoAPDU([]byte{1})); err == nil {
		t.Error("Transmit on a closed tag succeeded")
	}
}

func TestOpenFailureIsStackUnavailable(t *testing.T) {
	requireLibNFC(t)
	_, err := libnfc.Open("pn532_uart:/dev/does-not-exist")
	if !errors.Is(err, reader.ErrStackUnavailable) {
		t.Fatalf("Open of a missing port: %v, want ErrStackUnavailable", err)
	}
}

// TestDefaultDeviceFromEnvironment opens the device named by LIBNFC_DEVICE
// with an empty connstring. libnfc reads its environment once per process,
// so the check runs in a child process.
func TestDefaultDeviceFromEnvironment(t *testing.T) {
	if os.Getenv("TAGLINE_LIBNFC_CHILD") == "1" {
		dev, err := libnfc.Open("")
		if err != nil {
			fmt.Println("child: open:", err)
			os.Exit(3)
		}
		defer dev.Close()
		tag, err := dev.WaitTag(ctxT(t, 5*time.Second))
		if err != nil {
			fmt.Println("child: wait:", err)
			os.Exit(4)
		}
		fmt.Printf("child: UID % X\n", tag.UID())
		return
	}
	requireLibNFC(t)
	emu := startEmu(t, pn532emu.Options{})
	emu.SetTag(newFakeTag())
	cmd := exec.Command(os.Args[0], "-test.run=^TestDefaultDeviceFromEnvironment$", "-test.count=1")
	cmd.Env = append(os.Environ(), "TAGLINE_LIBNFC_CHILD=1", "LIBNFC_DEVICE="+emu.Connstring())
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("child: UID 04 5A 3B 12 9C 70 80")) {
		t.Fatalf("child with LIBNFC_DEVICE=%s: %v\n%s", emu.Connstring(), err, out)
	}
}

// BenchmarkTransmitLibNFC measures one APDU round trip through libnfc, the
// pn532_uart driver, the pty and the emulator.
func BenchmarkTransmitLibNFC(b *testing.B) {
	for _, n := range []int{16, 250} {
		b.Run(fmt.Sprintf("data=%d", n), func(b *testing.B) {
			emu, dev := setup(b, pn532emu.Options{})
			emu.SetTag(newFakeTag())
			tag := waitTag(b, dev)
			capdu := echoAPDU(pattern(n))
			ctx := context.Background()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if _, err := tag.Transmit(ctx, capdu); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(time.Since(start).Microseconds())/float64(b.N), "µs/apdu")
		})
	}
}

// TestReaderGone unplugs the emulated reader: exchanges report the tag as
// removed and WaitTag fails instead of polling forever.
func TestReaderGone(t *testing.T) {
	emu, dev := setup(t, pn532emu.Options{})
	emu.SetTag(newFakeTag())
	tag := waitTag(t, dev)
	emu.Close()
	start := time.Now()
	if _, err := tag.Transmit(ctxT(t, 5*time.Second), echoAPDU([]byte{1})); !errors.Is(err, reader.ErrTagRemoved) {
		t.Errorf("Transmit with the reader gone: %v, want ErrTagRemoved", err)
	}
	if _, err := dev.WaitTag(ctxT(t, 5*time.Second)); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitTag with the reader gone: %v, want an I/O error", err)
	}
	if err := dev.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("failing took %v", d)
	}
}
