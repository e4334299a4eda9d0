//go:build cgo

package pcsc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ebfe/scard"

	"github.com/tagline-station/tagline/reader"
)

// pnpReader is the pseudo-reader whose state changes when a reader is
// added or removed.
const pnpReader = `\\?PnP?\Notification`

// cancelRetry is how often SCardCancel is repeated until the blocked call
// returns: pcsc-lite drops a cancel that arrives before the call blocks.
const cancelRetry = 20 * time.Millisecond

// removalGrace bounds how long a failed exchange waits for pcscd to confirm
// that the card left. pcscd polls vpcd and most drivers every 400 ms.
const removalGrace = 2 * time.Second

// testHookWait, when set by tests, is called with the states passed to
// each blocking SCardGetStatusChange, just before the call.
var testHookWait atomic.Pointer[func(name string, states []scard.ReaderState)]

// errNoStatus reports a response without the two status bytes.
var errNoStatus = errors.New("no status word")

// getUID is the PC/SC part 3 pseudo-APDU GET DATA for the UID.
var getUID = []byte{0xFF, 0xCA, 0x00, 0x00, 0x00}

// Stack is a connection to pcscd.
type Stack struct {
	cfg config

	mu      sync.Mutex
	sc      *scard.Context // for List, Reader and Info; nil after an error
	closed  bool
	readers []*pcscReader
}

// Open connects to pcscd. It fails with an error wrapping
// reader.ErrStackUnavailable when pcscd cannot be reached.
func Open(ctx context.Context, opts ...Option) (*Stack, error) {
	s := &Stack{}
	for _, o := range opts {
		o(&s.cfg)
	}
	sc, err := establish(ctx)
	if err != nil {
		return nil, err
	}
	s.sc = sc
	return s, nil
}

// establish creates a PC/SC context, honouring ctx.
func establish(ctx context.Context) (*scard.Context, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	type result struct {
		sc  *scard.Context
		err error
	}
	ch := make(chan result, 1)
	go func() {
		sc, err := establishLocked()
		ch <- result{sc, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, unavailable(r.err)
		}
		return r.sc, nil
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.err == nil {
				_ = release(r.sc)
			}
		}()
		return nil, ctx.Err()
	}
}

// unavailable wraps an error of SCardEstablishContext.
func unavailable(err error) error {
	if errors.Is(err, scard.ErrNoService) || errors.Is(err, scard.ErrServiceStopped) {
		where := ""
		if sock := os.Getenv("PCSCLITE_CSOCK_NAME"); sock != "" {
			where = " (socket " + sock + ")"
		}
		return fmt.Errorf("%w: %s%s: %w", reader.ErrStackUnavailable, hintNotRunning, where, err)
	}
	return fmt.Errorf("%w: pcsc: establish context: %w", reader.ErrStackUnavailable, err)
}

// serviceGone reports errors that mean the context no longer reaches a
// running pcscd.
func serviceGone(err error) bool {
	return errors.Is(err, scard.ErrNoService) || errors.Is(err, scard.ErrServiceStopped) ||
		errors.Is(err, scard.ErrInvalidHandle) || errors.Is(err, scard.ErrCommError)
}

// do runs f with the Stack's context, re-establishing it once if pcscd was
// restarted since.
func (s *Stack) do(f func(*scard.Context) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	var err error
	for range 2 {
		if s.sc == nil {
			sc, err := establish(context.Background())
			if err != nil {
				return err // pcscd is not there (any more)
			}
			s.sc = sc
		}
		if err = f(s.sc); !serviceGone(err) {
			return err
		}
		// pcscd was restarted since the context was made: make another.
		_ = release(s.sc)
		s.sc = nil
	}
	return fmt.Errorf("%w: pcsc: %w", reader.ErrStackUnavailable, err)
}

func listReaders(sc *scard.Context) ([]string, error) {
	names, err := sc.ListReaders()
	if errors.Is(err, scard.ErrNoReadersAvailable) {
		return nil, nil
	}
	return names, err
}

// present reports whether a state shows a usable card.
func present(ev scard.StateFlag) bool {
	return ev&scard.StatePresent != 0 &&
		ev&(scard.StateMute|scard.StateUnknown|scard.StateUnavailable|scard.StateIgnore) == 0
}

// List returns the readers pcscd knows and whether each has a tag.
func (s *Stack) List() ([]reader.Info, error) {
	var infos []reader.Info
	err := s.do(func(sc *scard.Context) error {
		names, err := listReaders(sc)
		if err != nil || len(names) == 0 {
			return err
		}
		states := make([]scard.ReaderState, len(names))
		for i, n := range names {
			states[i] = scard.ReaderState{Reader: n, CurrentState: scard.StateUnaware}
		}
		if err := sc.GetStatusChange(states, 0); err != nil && !errors.Is(err, scard.ErrTimeout) {
			return err
		}
		infos = make([]reader.Info, len(names))
		for i, n := range names {
			infos[i] = reader.Info{Name: n, Kind: reader.KindPCSC, TagPresent: present(states[i].EventState)}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pcsc: list readers: %w", err)
	}
	return infos, nil
}

// Reader returns the reader with the given name, or an error wrapping
// reader.ErrNoReader when pcscd does not know it.
func (s *Stack) Reader(name string) (reader.Reader, error) {
	var names []string
	err := s.do(func(sc *scard.Context) (err error) {
		names, err = listReaders(sc)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pcsc: list readers: %w", err)
	}
	if !slices.Contains(names, name) {
		return nil, fmt.Errorf("%w: %q", reader.ErrNoReader, name)
	}
	r := &pcscReader{stack: s, name: name, closed: make(chan struct{})}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	s.readers = append(s.readers, r)
	return r, nil
}

// Close closes every Reader obtained from the Stack (ending their waits)
// and releases the Stack's context. Tags stay connected until closed.
func (s *Stack) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	readers := s.readers
	s.readers = nil
	sc := s.sc
	s.sc = nil
	s.mu.Unlock()
	for _, r := range readers {
		r.Close()
	}
	if sc != nil {
		_ = release(sc)
	}
	return nil
}

// pcscReader implements reader.Reader for one PC/SC reader name.
type pcscReader struct {
	stack     *Stack
	name      string
	closed    chan struct{}
	closeOnce sync.Once

	mu       sync.Mutex
	tagState scard.StateFlag // reader state when the last tag was connected

	noIndicator atomic.Bool // the reader refused the lights: left alone
}

func (r *pcscReader) Info() reader.Info {
	info := reader.Info{Name: r.name, Kind: reader.KindPCSC}
	_ = r.stack.do(func(sc *scard.Context) error {
		states := []scard.ReaderState{{Reader: r.name, CurrentState: scard.StateUnaware}}
		err := sc.GetStatusChange(states, 0)
		if err == nil {
			info.TagPresent = present(states[0].EventState)
		}
		return err
	})
	return info
}

// Close ends the reader's waits (they return ErrClosed). Tags it returned
// stay connected until closed.
func (r *pcscReader) Close() error {
	r.closeOnce.Do(func() {
		close(r.closed)
		s := r.stack
		s.mu.Lock()
		s.readers = slices.DeleteFunc(s.readers, func(x *pcscReader) bool { return x == r })
		s.mu.Unlock()
	})
	return nil
}

func (r *pcscReader) isClosed() bool {
	select {
	case <-r.closed:
		return true
	default:
		return false
	}
}

// statusChange runs SCardGetStatusChange without a timeout and ends it
// with SCardCancel when ctx is done or the reader is closed.
func (r *pcscReader) statusChange(ctx context.Context, sc *scard.Context, states []scard.ReaderState) error {
	returned := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-returned:
			return
		case <-ctx.Done():
		case <-r.closed:
		}
		t := time.NewTicker(cancelRetry)
		defer t.Stop()
		for {
			_ = sc.Cancel()
			select {
			case <-returned:
				return
			case <-t.C:
			}
		}
	}()
	if hook := testHookWait.Load(); hook != nil {
		(*hook)(r.name, states)
	}
	err := sc.GetStatusChange(states, -1)
	close(returned)
	<-stopped // no Cancel may reach the context after this
	return err
}

// waitErr turns an error of statusChange into the error to return, or nil
// when the wait should go on.
func (r *pcscReader) waitErr(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case r.isClosed():
		return ErrClosed
	case errors.Is(err, scard.ErrCancelled), errors.Is(err, scard.ErrTimeout):
		return nil // spurious: wait again
	case serviceGone(err):
		return fmt.Errorf("%w: pcsc: waiting on %q: %w", reader.ErrStackUnavailable, r.name, err)
	}
	return fmt.Errorf("pcsc: waiting on %q: %w", r.name, err)
}

// gone reports scard errors that mean the card or its reader went away.
func gone(err error) bool {
	for _, e := range []error{
		scard.ErrRemovedCard, scard.ErrResetCard, scard.ErrNoSmartcard,
		scard.ErrReaderUnavailable, scard.ErrUnknownReader,
		scard.ErrUnpoweredCard, scard.ErrUnresponsiveCard,
	} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func readerGone(err error) bool {
	return errors.Is(err, scard.ErrUnknownReader) || errors.Is(err, scard.ErrReaderUnavailable) ||
		errors.Is(err, scard.ErrNoReadersAvailable)
}

// WaitTag blocks until a tag is in the reader and returns it connected.
// A tag already present is returned at once.
func (r *pcscReader) WaitTag(ctx context.Context) (reader.Tag, error) {
	if r.isClosed() {
		return nil, ErrClosed
	}
	sc, err := establish(ctx)
	if err != nil {
		return nil, err
	}
	owned := false // the tag took over sc
	defer func() {
		if !owned {
			_ = release(sc)
		}
	}()
	states := []scard.ReaderState{
		{Reader: r.name, CurrentState: scard.StateUnaware},
		{Reader: pnpReader, CurrentState: scard.StateUnaware},
	}
	for {
		if err := r.statusChange(ctx, sc, states); err != nil {
			if readerGone(err) && ctx.Err() == nil && !r.isClosed() {
				// The reader is not there: wait for the reader list to change.
				if err := r.statusChange(ctx, sc, states[1:]); err != nil {
					if err := r.waitErr(ctx, err); err != nil {
						return nil, err
					}
				}
				states[0].CurrentState = scard.StateUnaware
				states[1].CurrentState = states[1].EventState &^ scard.StateChanged
				continue
			}
			if err := r.waitErr(ctx, err); err != nil {
				return nil, err
			}
			continue
		}
		ev := states[0].EventState
		if present(ev) {
			tag, err := r.connect(ctx, sc, ev)
			if err == nil {
				owned = true
				return tag, nil
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			// A tag that left again before we could connect, or a reader
			// another application holds exclusively: wait for a change.
			if !gone(err) && !errors.Is(err, scard.ErrSharingViolation) {
				return nil, err
			}
		}
		states[0].CurrentState = ev &^ scard.StateChanged
		states[1].CurrentState = states[1].EventState &^ scard.StateChanged
	}
}

// connect connects the tag in the reader and reads its UID.
func (r *pcscReader) connect(ctx context.Context, sc *scard.Context, ev scard.StateFlag) (*pcscTag, error) {
	mode := scard.ShareShared
	if r.stack.cfg.exclusive {
		mode = scard.ShareExclusive
	}
	card, err := connect(sc, r.name, mode)
	if err != nil {
		return nil, fmt.Errorf("pcsc: connect %q: %w", r.name, err)
	}
	if p := card.ActiveProtocol(); p != scard.ProtocolT0 && p != scard.ProtocolT1 {
		_ = disconnect(card)
		return nil, fmt.Errorf("pcsc: connect %q: unsupported protocol %#x", r.name, p)
	}
	t := &pcscTag{reader: r, sc: sc, card: card, state: ev, busy: make(chan struct{}, 1)}
	rsp, err := t.Transmit(ctx, getUID)
	switch {
	case err == nil && len(rsp) > 2 && rsp[len(rsp)-2] == 0x90 && rsp[len(rsp)-1] == 0x00:
		t.uid = rsp[:len(rsp)-2]
	case errors.Is(err, reader.ErrTagRemoved) || ctx.Err() != nil:
		_ = disconnect(card) // the caller releases sc
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("pcsc: connect %q: %w", r.name, scard.ErrRemovedCard)
	}
	// Any other answer: the reader does not know the pseudo-APDU (or passed
	// it to the tag); the UID stays empty.
	r.mu.Lock()
	r.tagState = ev
	r.mu.Unlock()
	return t, nil
}

// eventCount is pcsc-lite's per-reader card event counter, kept in the
// upper 16 bits of the state.
func eventCount(s scard.StateFlag) scard.StateFlag { return s >> 16 }

// WaitRemoved blocks until the tag last returned by WaitTag has left the
// reader (or, when there was none, until the reader is empty). A tag that
// was replaced by another in the meantime counts as removed, and so does
// the reader going away.
func (r *pcscReader) WaitRemoved(ctx context.Context) error {
	if r.isClosed() {
		return ErrClosed
	}
	sc, err := establish(ctx)
	if err != nil {
		return err
	}
	defer release(sc)
	r.mu.Lock()
	base := r.tagState
	r.mu.Unlock()
	known := base != 0
	states := []scard.ReaderState{{Reader: r.name, CurrentState: scard.StateUnaware}}
	if known {
		states[0].CurrentState = base
	}
	for {
		if err := r.statusChange(ctx, sc, states); err != nil {
			if readerGone(err) && ctx.Err() == nil && !r.isClosed() {
				return nil
			}
			if err := r.waitErr(ctx, err); err != nil {
				return err
			}
			continue
		}
		ev := states[0].EventState
		if ev&scard.StatePresent == 0 || ev&(scard.StateUnknown|scard.StateUnavailable) != 0 {
			return nil
		}
		if !known {
			base, known = ev, true
		} else if eventCount(ev) != eventCount(base) {
			return nil // the tag left and another came
		}
		states[0].CurrentState = ev &^ scard.StateChanged
	}
}

// pcscTag is a connected card. It owns its PC/SC context.
type pcscTag struct {
	reader *pcscReader
	sc     *scard.Context
	card   *scard.Card
	state  scard.StateFlag // reader state at connection
	uid    []byte

	busy      chan struct{} // held during an exchange
	closed    atomic.Bool
	closeOnce sync.Once
}

func (t *pcscTag) UID() []byte { return slices.Clone(t.uid) }

// Transmit sends one command APDU and returns the response APDU.
func (t *pcscTag) Transmit(ctx context.Context, capdu []byte) ([]byte, error) {
	if len(capdu) == 0 {
		return nil, errors.New("pcsc: empty command APDU")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case t.busy <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if t.closed.Load() {
		<-t.busy
		return nil, ErrClosed
	}
	if ctx.Done() == nil {
		defer func() { <-t.busy }()
		return t.exchange(capdu)
	}
	type result struct {
		rsp []byte
		err error
	}
	ch := make(chan result, 1)
	cmd := slices.Clone(capdu) // the caller may reuse capdu once we return
	go func() {
		defer func() { <-t.busy }()
		rsp, err := t.exchange(cmd)
		ch <- result{rsp, err}
	}()
	select {
	case res := <-ch:
		return res.rsp, res.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// exchange runs SCardTransmit and maps its errors. t.busy is held.
func (t *pcscTag) exchange(capdu []byte) ([]byte, error) {
	rsp, err := t.card.Transmit(capdu)
	if err == nil {
		if len(rsp) >= 2 {
			return rsp, nil
		}
		// No status word: the exchange failed without an error code, as
		// vpcd reports a card that left before answering.
		err = fmt.Errorf("%w: response of %d bytes", errNoStatus, len(rsp))
	}
	switch {
	case gone(err):
		return nil, reader.RemovedError(err)
	case errors.Is(err, scard.ErrNoService), errors.Is(err, scard.ErrServiceStopped):
		return nil, fmt.Errorf("%w: %w: pcscd went away: %w", reader.ErrTagRemoved, reader.ErrStackUnavailable, err)
	case errors.Is(err, scard.ErrNotTransacted), errors.Is(err, scard.ErrCommError), errors.Is(err, errNoStatus):
		if t.confirmGone() {
			return nil, reader.RemovedError(err)
		}
	}
	return nil, fmt.Errorf("pcsc: transmit on %q: %w", t.reader.name, err)
}

// confirmGone waits briefly for pcscd to report that the card of this tag
// left the reader (or was replaced). pcscd notices removal on its next poll
// of the driver, which can come after a failed exchange.
func (t *pcscTag) confirmGone() bool {
	deadline := time.Now().Add(removalGrace)
	states := []scard.ReaderState{{Reader: t.reader.name, CurrentState: t.state}}
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		err := t.sc.GetStatusChange(states, left)
		switch {
		case err == nil:
		case readerGone(err):
			return true
		default:
			return false
		}
		ev := states[0].EventState
		if !present(ev) || eventCount(ev) != eventCount(t.state) {
			return true
		}
		states[0].CurrentState = ev &^ scard.StateChanged
	}
}

// Close disconnects the tag, leaving it as it is, and releases its
// context. An exchange still running (after its ctx ended) finishes first,
// in the background.
func (t *pcscTag) Close() error {
	t.closeOnce.Do(func() {
		t.closed.Store(true)
		select {
		case t.busy <- struct{}{}:
			t.disconnect()
		default:
			go func() {
				t.busy <- struct{}{}
				t.disconnect()
			}()
		}
	})
	return nil
}

// disconnect ends the connection, releases the context and then t.busy,
// which the caller holds.
func (t *pcscTag) disconnect() {
	_ = disconnect(t.card)
	_ = release(t.sc)
	<-t.busy
}

// libMu serialises the libpcsclite calls that add or remove contexts and
// card handles. pcsc-lite 1.9.9 removes a card handle in SCardDisconnect
// after releasing its own lock, walking every context's list while another
// thread may be adding or freeing one (SCardEstablishContext,
// SCardReleaseContext): with several lanes that crashed the process
// (internal/readerpaths/doc.go has the evidence). Transmit and
// GetStatusChange stay concurrent; they do not touch those lists.
var libMu sync.Mutex

func establishLocked() (*scard.Context, error) {
	libMu.Lock()
	defer libMu.Unlock()
	return scard.EstablishContext()
}

func release(sc *scard.Context) error {
	libMu.Lock()
	defer libMu.Unlock()
	return sc.Release()
}

func connect(sc *scard.Context, name string, mode scard.ShareMode) (*scard.Card, error) {
	libMu.Lock()
	defer libMu.Unlock()
	return sc.Connect(name, mode, scard.ProtocolAny)
}

func disconnect(card *scard.Card) error {
	libMu.Lock()
	defer libMu.Unlock()
	return card.Disconnect(scard.LeaveCard)
}
