package pn532emu

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// testTag answers SELECT with 9000, echoes INS EE data and returns P1P2
// bytes for INS EF; everything else gets 6D00.
type testTag struct {
	uid []byte

	mu   sync.Mutex
	seen [][]byte
}

func (f *testTag) processed() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.seen...)
}

func newTestTag() *testTag {
	return &testTag{uid: []byte{0x04, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06}}
}

func (f *testTag) UID() []byte { return f.uid }
func (f *testTag) ATS() []byte { return []byte{0x06, 0x77, 0x77, 0x71, 0x02, 0x80} }
func (f *testTag) Process(c []byte) []byte {
	f.mu.Lock()
	f.seen = append(f.seen, append([]byte(nil), c...))
	f.mu.Unlock()
	switch {
	case len(c) >= 4 && c[1] == 0xA4:
		return []byte{0x90, 0x00}
	case len(c) >= 5 && c[1] == 0xEE:
		return append(append([]byte(nil), c[5:]...), 0x90, 0x00)
	case len(c) >= 2 && c[1] == 0xDD: // a tag that leaves while answering
		return nil
	case len(c) >= 4 && c[1] == 0xEF:
		n := int(c[2])<<8 | int(c[3])
		r := make([]byte, n+2)
		for i := range n {
			r[i] = byte(i)
		}
		r[n], r[n+1] = 0x90, 0x00
		return r
	}
	return []byte{0x6D, 0x00}
}

// host plays libnfc's part on the pty slave.
type host struct {
	t   *testing.T
	f   *os.File
	buf []byte
}

var trace = flag.Bool("pn532trace", false, "log every frame")

func newEmu(t *testing.T, opts ...Options) (*Emulator, Options) {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if *trace {
		o.Trace, o.Logf = true, t.Logf
	}
	e, err := Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, o
}

func newHost(t *testing.T, opts Options) (*Emulator, *host) {
	t.Helper()
	e, _ := newEmu(t, opts)
	f, err := os.OpenFile(e.Path(), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return e, &host{t: t, f: f}
}

func (h *host) send(b []byte) {
	h.t.Helper()
	if _, err := h.f.Write(b); err != nil {
		h.t.Fatal(err)
	}
}

// frame reads the next frame, failing after d.
func (h *host) frame(d time.Duration) (Frame, bool) {
	h.t.Helper()
	deadline := time.Now().Add(d)
	tmp := make([]byte, 512)
	for {
		if len(h.buf) > 0 {
			f, n, err := ParseFrame(h.buf)
			h.buf = h.buf[n:]
			if err == nil {
				return f, true
			}
			if err != ErrIncomplete {
				h.t.Fatalf("bad frame from emulator: %v", err)
			}
		}
		h.f.SetReadDeadline(deadline)
		n, err := h.f.Read(tmp)
		h.buf = append(h.buf, tmp[:n]...)
		if err != nil {
			if os.IsTimeout(err) {
				return Frame{}, false
			}
			h.t.Fatal(err)
		}
	}
}

func (h *host) expectACK() {
	h.t.Helper()
	f, ok := h.frame(2 * time.Second)
	if !ok || f.Kind != KindACK {
		h.t.Fatalf("want ACK, got %v %v", f.Kind, ok)
	}
}

// cmd sends a command and returns the answer's data after D5 CC+1.
func (h *host) cmd(data ...byte) []byte {
	h.t.Helper()
	h.send(EncodeFrame(TFIHost, data))
	h.expectACK()
	return h.answer(data[0])
}

func (h *host) answer(code byte) []byte {
	h.t.Helper()
	f, ok := h.frame(2 * time.Second)
	if !ok {
		h.t.Fatalf("no answer to %02X", code)
	}
	if f.Kind != KindInfo || f.TFI != TFIPN532 || len(f.Data) == 0 || f.Data[0] != code+1 {
		h.t.Fatalf("answer to %02X: %v TFI %02X % X", code, f.Kind, f.TFI, f.Data)
	}
	return f.Data[1:]
}

func (h *host) silent(d time.Duration) {
	h.t.Helper()
	if f, ok := h.frame(d); ok {
		h.t.Fatalf("unexpected frame %v % X", f.Kind, f.Data)
	}
}

func TestStartupCommands(t *testing.T) {
	e, h := newHost(t, Options{})
	// libnfc's wake-up preamble precedes the first frame.
	h.send([]byte{0x55, 0x55, 0x00, 0x00, 0x00})
	if got := h.cmd(0x14, 0x01); len(got) != 0 {
		t.Errorf("SAMConfiguration → % X", got)
	}
	diag := []byte{0x00, 0x00, 'l', 'i', 'b', 'n', 'f', 'c'}
	if got := h.cmd(diag...); !bytes.Equal(got, diag[1:]) {
		t.Errorf("Diagnose → % X", got)
	}
	if got := h.cmd(0x02); !bytes.Equal(got, []byte{0x32, 0x01, 0x06, 0x07}) {
		t.Errorf("GetFirmwareVersion → % X", got)
	}
	if got := h.cmd(0x12, 0x14); len(got) != 0 {
		t.Errorf("SetParameters → % X", got)
	}
	h.cmd(0x08, 0x63, 0x3D, 0x07, 0x63, 0x02, 0x83)
	if got := h.cmd(0x06, 0x63, 0x3D, 0x63, 0x02, 0x63, 0x99); !bytes.Equal(got, []byte{0x07, 0x83, 0x00}) {
		t.Errorf("ReadRegister after WriteRegister → % X", got)
	}
	if got := h.cmd(0x32, 0x01, 0x01); len(got) != 0 {
		t.Errorf("RFConfiguration → % X", got)
	}
	if got := h.cmd(0x16, 0xF0); !bytes.Equal(got, []byte{0x00}) {
		t.Errorf("PowerDown → % X", got)
	}
	if !bytes.Equal(e.Commands(), []byte{0x14, 0x00, 0x02, 0x12, 0x08, 0x06, 0x32, 0x16}) {
		t.Errorf("Commands = % X", e.Commands())
	}
}

func TestUnknownCommandGetsErrorFrame(t *testing.T) {
	e, h := newHost(t, Options{})
	h.send(EncodeFrame(TFIHost, []byte{0x8C, 0x00}))
	h.expectACK()
	if f, ok := h.frame(time.Second); !ok || f.Kind != KindError {
		t.Fatalf("want error frame, got %v % X", f.Kind, f.Data)
	}
	if !bytes.Equal(e.Unknown(), []byte{0x8C}) {
		t.Errorf("Unknown = % X", e.Unknown())
	}
	// The emulator still works afterwards.
	h.cmd(0x02)
}

func TestNACKResendsAnswer(t *testing.T) {
	_, h := newHost(t, Options{})
	first := h.cmd(0x02)
	h.send(NACKFrame)
	// The answer comes again, without a second ACK.
	if again := h.answer(0x02); !bytes.Equal(again, first) {
		t.Errorf("resent % X, want % X", again, first)
	}
}

func TestGarbageAndBadFramesAreSkipped(t *testing.T) {
	_, h := newHost(t, Options{})
	bad := EncodeFrame(TFIHost, []byte{0x02})
	bad[len(bad)-2] ^= 0xFF // DCS
	h.send(append([]byte{0x13, 0x00, 0xFF, 0x07}, bad...))
	h.silent(100 * time.Millisecond) // a corrupted frame gets no ACK
	if got := h.cmd(0x02); len(got) != 4 {
		t.Errorf("GetFirmwareVersion after garbage → % X", got)
	}
}

func TestListAndExchange(t *testing.T) {
	e, h := newHost(t, Options{})
	h.cmd(0x32, 0x05, 0xFF, 0x01, 0x02) // finite retries
	if got := h.cmd(0x4A, 0x01, 0x00); !bytes.Equal(got, []byte{0x00}) {
		t.Fatalf("list without a tag → % X", got)
	}
	if got := h.cmd(0x40, 0x01, 0x00, 0xA4, 0x04, 0x00); !bytes.Equal(got, []byte{StatusTimeout}) {
		t.Errorf("exchange without a tag → % X", got)
	}
	tag := newTestTag()
	e.SetTag(tag)
	want := []byte{0x01, 0x01, 0x03, 0x44, 0x20, 0x07, 0x04, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x06, 0x77, 0x77, 0x71, 0x02, 0x80}
	if got := h.cmd(0x4A, 0x01, 0x00); !bytes.Equal(got, want) {
		t.Fatalf("list → % X, want % X", got, want)
	}
	if got := h.cmd(0x4A, 0x01, 0x03, 0x00); !bytes.Equal(got, []byte{0x00}) {
		t.Errorf("type B list → % X", got)
	}
	// Listing by cascaded UID finds the tag, another UID does not.
	if got := h.cmd(0x4A, 0x01, 0x00, 0x88, 0x04, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06); len(got) < 2 || got[0] != 1 {
		t.Errorf("list by cascaded UID → % X", got)
	}
	if got := h.cmd(0x4A, 0x01, 0x00, 0x88, 0x04, 0x01, 0x02, 0x03, 0x04, 0x05, 0x07); !bytes.Equal(got, []byte{0x00}) {
		t.Errorf("list by another UID → % X", got)
	}
	h.cmd(0x4A, 0x01, 0x00)
	if got := h.cmd(0x40, 0x01, 0x00, 0xA4, 0x04, 0x00); !bytes.Equal(got, []byte{0x00, 0x90, 0x00}) {
		t.Errorf("SELECT → % X", got)
	}
	if got := h.cmd(0x00, 0x06); !bytes.Equal(got, []byte{0x00}) {
		t.Errorf("presence with the tag → % X", got)
	}
	if got := h.cmd(0x42, 0xB2); !bytes.Equal(got, []byte{0x00, 0xA2}) && !bytes.Equal(got, []byte{0x00, 0xA3}) {
		t.Errorf("R(NAK) → % X, want an R(ACK)", got)
	}
	if got := h.cmd(0x42, 0x26); !bytes.Equal(got, []byte{StatusTimeout}) {
		t.Errorf("raw REQA → % X, want timeout", got)
	}
	e.RemoveTag()
	if got := h.cmd(0x40, 0x01, 0x00, 0xA4, 0x04, 0x00); !bytes.Equal(got, []byte{StatusTimeout}) {
		t.Errorf("exchange after removal → % X", got)
	}
	if got := h.cmd(0x00, 0x06); !bytes.Equal(got, []byte{StatusTimeout}) {
		t.Errorf("presence after removal → % X", got)
	}
	if got := h.cmd(0x42, 0xB2); !bytes.Equal(got, []byte{StatusTimeout}) {
		t.Errorf("R(NAK) after removal → % X", got)
	}
	// Put back, the tag must be listed again before it answers.
	e.SetTag(tag)
	if got := h.cmd(0x40, 0x01, 0x00, 0xA4, 0x04, 0x00); !bytes.Equal(got, []byte{StatusTimeout}) {
		t.Errorf("exchange with a re-presented, unselected tag → % X", got)
	}
	if got := h.cmd(0x54, 0x01); !bytes.Equal(got, []byte{0x00}) {
		t.Errorf("InSelect of the same UID → % X", got)
	}
	if got := h.cmd(0x40, 0x01, 0x00, 0xA4, 0x04, 0x00); !bytes.Equal(got, []byte{0x00, 0x90, 0x00}) {
		t.Errorf("exchange after InSelect → % X", got)
	}
	if got := h.cmd(0x52, 0x00); !bytes.Equal(got, []byte{0x00}) {
		t.Errorf("InRelease → % X", got)
	}
	if got := h.cmd(0x40, 0x01, 0x00, 0xA4, 0x04, 0x00); !bytes.Equal(got, []byte{StatusNotAllowed}) {
		t.Errorf("exchange after release → % X", got)
	}
}

func TestChaining(t *testing.T) {
	e, h := newHost(t, Options{MaxExchangeData: 100})
	tag := newTestTag()
	e.SetTag(tag)
	h.cmd(0x4A, 0x01, 0x00)

	// Host → PN532: MI in the target byte chains a long C-APDU.
	data := make([]byte, 250)
	for i := range data {
		data[i] = byte(i * 3)
	}
	capdu := append([]byte{0x00, 0xEE, 0x00, 0x00, 0xFA}, data...)
	if got := h.cmd(append([]byte{0x40, 0x41}, capdu[:120]...)...); !bytes.Equal(got, []byte{0x00}) {
		t.Fatalf("first chained part → % X", got)
	}
	// PN532 → host: the 252-byte answer comes in parts of 100 with MI.
	var resp []byte
	got := h.cmd(append([]byte{0x40, 0x01}, capdu[120:]...)...)
	for got[0] == 0x40 {
		resp = append(resp, got[1:]...)
		got = h.cmd(0x40, 0x01)
	}
	if got[0] != 0x00 {
		t.Fatalf("status % X", got[0])
	}
	resp = append(resp, got[1:]...)
	if want := append(data, 0x90, 0x00); !bytes.Equal(resp, want) {
		t.Fatalf("chained echo: %d bytes, want %d", len(resp), len(want))
	}
	if seen := tag.processed(); len(seen) != 1 || !bytes.Equal(seen[0], capdu) {
		t.Errorf("the tag saw %d APDUs", len(seen))
	}

	// A single extended frame works too.
	got = h.cmd(append([]byte{0x40, 0x01}, capdu...)...)
	if got[0] != 0x40 || len(got) != 101 {
		t.Errorf("extended-frame exchange → status %02X, %d bytes", got[0], len(got))
	}
}

func TestFaultHooks(t *testing.T) {
	e, h := newHost(t, Options{})
	tag := newTestTag()
	e.SetTag(tag)
	h.cmd(0x4A, 0x01, 0x00)
	sel := []byte{0x40, 0x01, 0x00, 0xA4, 0x04, 0x00}

	e.RemoveAfter(2)
	for i := 0; i < 2; i++ {
		if got := h.cmd(sel...); got[0] != 0x00 {
			t.Fatalf("exchange %d → % X", i+1, got)
		}
	}
	if e.TagPresent() {
		t.Fatal("tag still present after RemoveAfter(2) and 2 exchanges")
	}
	if got := h.cmd(sel...); got[0] != StatusTimeout {
		t.Errorf("exchange 3 → % X", got)
	}

	e.SetTag(tag)
	h.cmd(0x4A, 0x01, 0x00)
	e.RemoveDuring(1)
	n := len(tag.processed())
	if got := h.cmd(sel...); got[0] != StatusTimeout {
		t.Errorf("torn exchange → % X", got)
	}
	if m := len(tag.processed()); m != n+1 || e.TagPresent() {
		t.Errorf("torn exchange: tag saw %d new APDUs, present %v", m-n, e.TagPresent())
	}
	if e.Exchanges() != 3 {
		t.Errorf("Exchanges = %d, want 3", e.Exchanges())
	}

	// An empty answer from Process means the tag left.
	e.SetTag(tag)
	h.cmd(0x4A, 0x01, 0x00)
	if got := h.cmd(0x40, 0x01, 0x90, 0xDD, 0x00, 0x00); !bytes.Equal(got, []byte{StatusTimeout}) || e.TagPresent() {
		t.Errorf("empty answer → % X, tag present %v", got, e.TagPresent())
	}
}

func TestInfiniteListWaitsForTag(t *testing.T) {
	e, h := newHost(t, Options{})
	// Default MxRtyPassiveActivation is FF: the listing waits for a tag.
	h.send(EncodeFrame(TFIHost, []byte{0x4A, 0x01, 0x00}))
	h.expectACK()
	h.silent(100 * time.Millisecond)
	e.SetTag(newTestTag())
	if got := h.answer(0x4A); len(got) < 2 || got[0] != 0x01 {
		t.Fatalf("answer after SetTag → % X", got)
	}

	// An ACK from the host aborts a waiting listing: no answer follows.
	e.RemoveTag()
	h.send(EncodeFrame(TFIHost, []byte{0x4A, 0x01, 0x00}))
	h.expectACK()
	h.send(ACKFrame)
	h.silent(100 * time.Millisecond)
	e.SetTag(newTestTag())
	h.silent(50 * time.Millisecond)
	h.cmd(0x02)
}

func TestAutoPoll(t *testing.T) {
	e, h := newHost(t, Options{})
	start := time.Now()
	if got := h.cmd(0x60, 0x01, 0x01, 0x20); !bytes.Equal(got, []byte{0x00}) {
		t.Fatalf("InAutoPoll without a tag → % X", got)
	}
	if d := time.Since(start); d < 140*time.Millisecond || d > 2*time.Second {
		t.Errorf("one 150 ms poll took %v", d)
	}
	go func() {
		time.Sleep(50 * time.Millisecond)
		e.SetTag(newTestTag())
	}()
	got := h.cmd(0x60, 0xFF, 0x01, 0x20, 0x10)
	if len(got) < 4 || got[0] != 1 || got[1] != 0x20 || int(got[2]) != len(got)-3 || got[len(got)-6] != 0x06 {
		t.Fatalf("InAutoPoll with a tag → % X", got)
	}
	if got := h.cmd(0x40, 0x01, 0x00, 0xA4, 0x04, 0x00); !bytes.Equal(got, []byte{0x00, 0x90, 0x00}) {
		t.Errorf("exchange after InAutoPoll → % X", got)
	}
}

func TestLink(t *testing.T) {
	link := filepath.Join(t.TempDir(), "ttyPN532")
	e, err := Start(Options{Link: link})
	if err != nil {
		t.Fatal(err)
	}
	if dst, err := os.Readlink(link); err != nil || dst != e.Path() {
		t.Errorf("link → %q, %v; want %q", dst, err, e.Path())
	}
	e.Close()
	if _, err := os.Lstat(link); !os.IsNotExist(err) {
		t.Errorf("link left behind: %v", err)
	}
}

// lifecycleTag models reader/sim's optional interfaces.
type lifecycleTag struct {
	*testTag
	gone   chan struct{}
	resets chan struct{}
}

func (l *lifecycleTag) Gone() <-chan struct{} { return l.gone }
func (l *lifecycleTag) Reset()                { l.resets <- struct{}{} }

func TestDepartureAndReset(t *testing.T) {
	e, h := newHost(t, Options{})
	tag := &lifecycleTag{testTag: newTestTag(), gone: make(chan struct{}), resets: make(chan struct{}, 8)}
	e.SetTag(tag)
	h.cmd(0x4A, 0x01, 0x00)
	select {
	case <-tag.resets:
	default:
		t.Error("activation did not reset the tag")
	}
	h.cmd(0x32, 0x01, 0x00) // field off
	select {
	case <-tag.resets:
	default:
		t.Error("field off did not reset the tag")
	}
	h.cmd(0x32, 0x01, 0x01)
	close(tag.gone)
	deadline := time.Now().Add(2 * time.Second)
	for e.TagPresent() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if e.TagPresent() {
		t.Fatal("a tag that left by itself is still in the field")
	}
}
