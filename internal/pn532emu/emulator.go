package pn532emu

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/tagline-station/tagline/reader"
)

// DefaultMaxExchangeData is the largest R-APDU part one InDataExchange answer
// carries, as on a PN532; longer responses are chained with the MI bit.
const DefaultMaxExchangeData = 262

// Options configure an Emulator. The zero value is usable.
type Options struct {
	// Link, when set, is the path of a symbolic link to the pty slave that
	// Start creates (it must not exist) and Close removes.
	Link string
	// Logf receives one line per unknown command, framing error and, with
	// Trace, per frame in each direction. Nil discards them.
	Logf func(format string, args ...any)
	// Trace logs every frame through Logf.
	Trace bool
	// MaxExchangeData bounds the R-APDU bytes of one InDataExchange answer
	// before the rest is chained (status MI bit 0x40). 0 means
	// DefaultMaxExchangeData.
	MaxExchangeData int
}

// Anticollision is implemented by emulated tags whose anticollision answers
// differ from an NTAG 424 DNA's. Without it the emulator reports ATQA 03 44
// (the PN532 lists SENS_RES most significant byte first) and SAK 20.
type Anticollision interface {
	ATQA() [2]byte
	SAK() byte
}

// Departer is implemented by emulated tags that can leave the field by
// themselves (reader/sim's Tag through its fault hooks): when Gone is closed
// the emulator takes the tag out of the field, as RemoveTag does.
type Departer interface {
	Gone() <-chan struct{}
}

// Resetter is implemented by emulated tags that model a field reset
// (reader/sim's Tag). The emulator calls Reset when it switches the RF field
// off and when it activates the tag, since a tag activated anew has lost any
// session it had.
type Resetter interface {
	Reset()
}

// Emulator is a PN532 behind a pseudo-terminal. libnfc's pn532_uart driver
// opens Path() like the tty of a USB-serial PN532 board.
type Emulator struct {
	opts   Options
	master *os.File
	slave  *os.File // held open so that reads on the master never see EIO
	path   string

	frames    chan Frame
	done      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once

	mu           sync.Mutex
	tag          reader.Emulated
	tagGen       uint64        // bumped by every SetTag and RemoveTag
	tagEvent     chan struct{} // closed and replaced when the tag changes
	removeAfter  int
	removeDuring int
	exchanges    int
	seen         []byte
	seenSet      [256]bool
	unknown      []byte

	st chipState // owned by the serve goroutine
}

// chipState is the PN532's state as the host sees it.
type chipState struct {
	regs         map[uint16]byte
	params       byte // SetParameters flags
	rfOn         bool
	mxRtyPassive byte // RFConfiguration item 5, MxRtyPassiveActivation
	target       bool // logical target 1 is listed (until InRelease or a new listing)
	targetGen    uint64
	targetUID    []byte
	active       bool // not deselected
	piccBlock    byte // ISO 14443-4 block number of the tag
	chainIn      []byte
	chainOut     []byte
	lastFrame    []byte
	pendingACK   bool
	out          []byte
}

// SetParameters flags.
const (
	paramAutoATRRes = 0x04
	paramAutoRATS   = 0x10
)

// Start opens a pseudo-terminal and serves PN532 frames on it until Close.
func Start(opts Options) (*Emulator, error) {
	if opts.MaxExchangeData <= 0 || opts.MaxExchangeData > DefaultMaxExchangeData {
		opts.MaxExchangeData = DefaultMaxExchangeData
	}
	master, slave, path, err := openPTY()
	if err != nil {
		return nil, err
	}
	if opts.Link != "" {
		if err := os.Symlink(path, opts.Link); err != nil {
			master.Close()
			slave.Close()
			return nil, fmt.Errorf("pn532emu: %w", err)
		}
	}
	e := &Emulator{
		opts:     opts,
		master:   master,
		slave:    slave,
		path:     path,
		frames:   make(chan Frame, 8),
		done:     make(chan struct{}),
		tagEvent: make(chan struct{}),
	}
	e.resetChip()
	e.wg.Add(2)
	go e.readLoop()
	go e.serve()
	return e, nil
}

func (e *Emulator) resetChip() {
	e.st = chipState{
		regs: map[uint16]byte{
			0x6302: 0x80, // CIU_TxMode: TxCRCEn
			0x6303: 0x80, // CIU_RxMode: RxCRCEn
			0x6305: 0x40, // CIU_TxAuto: Force100ASK
			0x633C: 0x10, // CIU_Control: Initiator
		},
		params:       paramAutoATRRes | paramAutoRATS,
		mxRtyPassive: 0xFF,
	}
}

// Path is the pty slave device (e.g. /dev/pts/3).
func (e *Emulator) Path() string { return e.path }

// Connstring is the libnfc connection string for this emulator.
func (e *Emulator) Connstring() string { return "pn532_uart:" + e.path }

// SetTag puts t in the field, replacing any tag there. Putting the same tag
// back counts as a new arrival: the reader must select it again.
func (e *Emulator) SetTag(t reader.Emulated) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.setTagLocked(t)
}

// RemoveTag takes the tag out of the field. Exchanges in flight fail with
// the PN532 timeout status 0x01 (libnfc: NFC_ERFTRANS).
func (e *Emulator) RemoveTag() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.setTagLocked(nil)
}

// Activator is implemented by tags that can be brought back into a field
// after leaving it on their own (reader/sim's fault hooks): SetTag
// activates them, as a real tag is powered up again when presented.
type Activator interface {
	Activate()
}

func (e *Emulator) setTagLocked(t reader.Emulated) {
	if a, ok := t.(Activator); ok {
		a.Activate()
	}
	e.tag = t
	e.tagGen++
	e.removeAfter, e.removeDuring = 0, 0
	close(e.tagEvent)
	e.tagEvent = make(chan struct{})
	if d, ok := t.(Departer); ok {
		go e.watchDeparture(d.Gone(), e.tagGen, e.tagEvent)
	}
}

// watchDeparture takes the tag of generation gen out of the field when it
// leaves by itself, until the tag changes or the emulator stops.
func (e *Emulator) watchDeparture(gone <-chan struct{}, gen uint64, changed <-chan struct{}) {
	select {
	case <-gone:
		e.mu.Lock()
		if e.tagGen == gen {
			e.setTagLocked(nil)
		}
		e.mu.Unlock()
	case <-changed:
	case <-e.done:
	}
}

// TagPresent reports whether a tag is in the field.
func (e *Emulator) TagPresent() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.tag != nil
}

// RemoveAfter arms a fault: the tag leaves the field right after the k-th
// data exchange from now has been answered, so exchange k+1 fails. k <= 0
// disarms it. SetTag and RemoveTag disarm it too.
func (e *Emulator) RemoveAfter(k int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.removeAfter = max(k, 0)
}

// RemoveDuring arms a tearing fault: the k-th data exchange from now reaches
// the tag (Process runs) but the tag leaves before its answer gets back, so
// that exchange fails. k <= 0 disarms it.
func (e *Emulator) RemoveDuring(k int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.removeDuring = max(k, 0)
}

// Exchanges counts the APDUs the emulated tag has processed.
func (e *Emulator) Exchanges() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.exchanges
}

// Commands lists the PN532 command codes received so far, in the order of
// their first appearance.
func (e *Emulator) Commands() []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]byte(nil), e.seen...)
}

// Unknown lists the command codes answered with an error frame because the
// emulator does not implement them.
func (e *Emulator) Unknown() []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]byte(nil), e.unknown...)
}

// Close stops the emulator, closes the pty and removes the link. A libnfc
// device still open on the slave sees I/O errors from then on.
func (e *Emulator) Close() error {
	e.closeOnce.Do(func() {
		close(e.done)
		e.master.Close()
		e.wg.Wait()
		e.slave.Close()
		if e.opts.Link != "" {
			os.Remove(e.opts.Link)
		}
	})
	return nil
}

func (e *Emulator) logf(format string, args ...any) {
	if e.opts.Logf != nil {
		e.opts.Logf(format, args...)
	}
}

// readLoop turns the byte stream from the host into frames.
func (e *Emulator) readLoop() {
	defer e.wg.Done()
	defer close(e.frames)
	buf := make([]byte, 0, 1024)
	tmp := make([]byte, 1024)
	for {
		n, err := e.master.Read(tmp)
		buf = append(buf, tmp[:n]...)
		for len(buf) > 0 {
			f, used, perr := ParseFrame(buf)
			buf = append(buf[:0], buf[used:]...)
			if perr == ErrIncomplete {
				break
			}
			if perr != nil {
				e.logf("pn532emu: %v, resynchronising", perr)
				continue
			}
			select {
			case e.frames <- f:
			case <-e.done:
				return
			}
		}
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			// EIO and friends: wait for the host rather than spin.
			select {
			case <-e.done:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
}

func (e *Emulator) serve() {
	defer e.wg.Done()
	for {
		select {
		case f, ok := <-e.frames:
			if !ok {
				return
			}
			e.handle(f)
		case <-e.done:
			return
		}
	}
}

// handle answers one frame from the host. A blocking command (listing with
// infinite retries, InAutoPoll) may be interrupted by the next frame, which
// is then handled in turn.
func (e *Emulator) handle(f Frame) {
	for {
		switch f.Kind {
		case KindACK:
			// Abort request; nothing is running outside a blocking command.
			if e.opts.Trace {
				e.logf("pn532emu: → ACK")
			}
			return
		case KindNACK:
			if e.opts.Trace {
				e.logf("pn532emu: → NACK, resending % X", e.st.lastFrame)
			}
			if e.st.lastFrame != nil {
				e.write(e.st.lastFrame)
			}
			return
		case KindError:
			return
		}
		if f.TFI != TFIHost || len(f.Data) == 0 {
			e.logf("pn532emu: ignoring frame with TFI %02X and %d data bytes", f.TFI, len(f.Data))
			return
		}
		if e.opts.Trace {
			e.logf("pn532emu: → %02X % X", f.TFI, f.Data)
		}
		e.st.pendingACK = true
		next := e.execute(f.Data)
		if next == nil {
			return
		}
		f = *next
	}
}

// write sends bytes to the host, preceded by the ACK the current command
// still owes.
func (e *Emulator) write(b []byte) {
	out := e.st.out[:0]
	if e.st.pendingACK {
		out = append(out, ACKFrame...)
		e.st.pendingACK = false
	}
	out = append(out, b...)
	e.st.out = out
	if _, err := e.master.Write(out); err != nil && !errors.Is(err, os.ErrClosed) {
		e.logf("pn532emu: write: %v", err)
	}
}

func (e *Emulator) flushACK() {
	if e.st.pendingACK {
		e.write(nil)
	}
}

func (e *Emulator) reply(code byte, data []byte) {
	frame := make([]byte, 0, len(data)+12)
	frame = appendFrame(frame, TFIPN532, append([]byte{code + 1}, data...))
	if e.opts.Trace {
		e.logf("pn532emu: ← D5 %02X % X", code+1, data)
	}
	e.st.lastFrame = frame
	e.write(frame)
}

func (e *Emulator) replyError() {
	if e.opts.Trace {
		e.logf("pn532emu: ← error frame")
	}
	e.st.lastFrame = ErrorFrame
	e.write(ErrorFrame)
}

// waitTagChange blocks until the tag generation differs from gen, the
// deadline passes (zero: never), the host aborts with an ACK or sends another
// frame (returned in next). changed reports a tag change.
func (e *Emulator) waitTagChange(gen uint64, deadline time.Time) (changed, aborted bool, next *Frame) {
	e.flushACK()
	var timeout <-chan time.Time
	if !deadline.IsZero() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		timeout = t.C
	}
	for {
		e.mu.Lock()
		cur, ch := e.tagGen, e.tagEvent
		e.mu.Unlock()
		if cur != gen {
			return true, false, nil
		}
		select {
		case <-ch:
		case <-timeout:
			return false, false, nil
		case f, ok := <-e.frames:
			if !ok {
				return false, true, nil
			}
			switch f.Kind {
			case KindACK:
				if e.opts.Trace {
					e.logf("pn532emu: → ACK (abort)")
				}
				return false, true, nil
			case KindNACK, KindError:
				// Nothing has been answered yet.
			default:
				return false, true, &f
			}
		case <-e.done:
			return false, true, nil
		}
	}
}

// currentTag returns the tag in the field and its generation.
func (e *Emulator) currentTag() (reader.Emulated, uint64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.tag, e.tagGen
}

// targetTag returns the tag behind logical target 1 if it is still the one
// that was activated and still in the field.
func (e *Emulator) targetTag() reader.Emulated {
	if !e.st.target || !e.st.rfOn {
		return nil
	}
	tag, gen := e.currentTag()
	if tag == nil || gen != e.st.targetGen {
		return nil
	}
	return tag
}

func (e *Emulator) note(code byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.seenSet[code] {
		e.seenSet[code] = true
		e.seen = append(e.seen, code)
	}
}
