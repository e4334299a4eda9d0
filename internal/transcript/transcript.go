package transcript

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/tagline-station/tagline/reader"
)

// HexBytes is a byte string that reads and writes as uppercase hex in JSON.
type HexBytes []byte

// MarshalText writes uppercase hex.
func (h HexBytes) MarshalText() ([]byte, error) {
	return []byte(strings.ToUpper(hex.EncodeToString(h))), nil
}

// UnmarshalText reads hex in either case.
func (h *HexBytes) UnmarshalText(b []byte) error {
	d, err := hex.DecodeString(string(b))
	if err != nil {
		return err
	}
	*h = d
	return nil
}

// Exchange is one Transmit: the command APDU and either the response APDU
// or the error returned instead.
type Exchange struct {
	C HexBytes `json:"c"`
	R HexBytes `json:"r,omitempty"`
	// Err is "removed" for reader.ErrTagRemoved, "canceled" and
	// "deadline" for the context errors, otherwise the error's text.
	Err string `json:"err,omitempty"`
}

// Transcript is a recorded session with one tag, in the JSON form used for
// testdata: {"uid": "04…", "exchanges": [{"c": "00A4…", "r": "9000"}, …]}.
type Transcript struct {
	UID       HexBytes   `json:"uid,omitempty"`
	Exchanges []Exchange `json:"exchanges"`
}

// Load reads a transcript file.
func Load(path string) (Transcript, error) {
	var t Transcript
	b, err := os.ReadFile(path)
	if err != nil {
		return t, err
	}
	if err := json.Unmarshal(b, &t); err != nil {
		return t, fmt.Errorf("transcript %s: %w", path, err)
	}
	return t, nil
}

// WriteFile writes the transcript as indented JSON.
func (t Transcript) WriteFile(path string) error {
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func errText(err error) string {
	switch {
	case errors.Is(err, reader.ErrTagRemoved):
		return "removed"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline"
	}
	return err.Error()
}

func textErr(s string) error {
	switch s {
	case "removed":
		return reader.ErrTagRemoved
	case "canceled":
		return context.Canceled
	case "deadline":
		return context.DeadlineExceeded
	}
	return errors.New(s)
}

// Recorder wraps a card and records every exchange. It implements
// reader.Tag; UID and Close pass through when the wrapped card is a
// reader.Tag.
type Recorder struct {
	card reader.Card

	mu sync.Mutex
	tr Transcript
}

var _ reader.Tag = (*Recorder)(nil)

// NewRecorder starts recording the exchanges with c.
func NewRecorder(c reader.Card) *Recorder {
	r := &Recorder{card: c}
	if t, ok := c.(reader.Tag); ok {
		r.tr.UID = t.UID()
	}
	return r
}

// Transmit passes the command on and records it with its outcome.
func (r *Recorder) Transmit(ctx context.Context, capdu []byte) ([]byte, error) {
	resp, err := r.card.Transmit(ctx, capdu)
	e := Exchange{C: append(HexBytes(nil), capdu...)}
	if err != nil {
		e.Err = errText(err)
	} else {
		e.R = append(HexBytes(nil), resp...)
	}
	r.mu.Lock()
	r.tr.Exchanges = append(r.tr.Exchanges, e)
	r.mu.Unlock()
	return resp, err
}

// UID is the wrapped tag's UID (nil for a bare reader.Card).
func (r *Recorder) UID() []byte {
	if t, ok := r.card.(reader.Tag); ok {
		return t.UID()
	}
	return nil
}

// Close closes the wrapped tag, if it is one.
func (r *Recorder) Close() error {
	if t, ok := r.card.(reader.Tag); ok {
		return t.Close()
	}
	return nil
}

// Transcript returns a copy of what was recorded so far.
func (r *Recorder) Transcript() Transcript {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Transcript{UID: r.tr.UID, Exchanges: append([]Exchange(nil), r.tr.Exchanges...)}
}

// ErrClosed is returned by a Replay after Close.
var ErrClosed = errors.New("transcript: replay closed")

// ErrReplayMismatch is wrapped by every error of a Replay whose caller did
// not send exactly the recorded commands.
var ErrReplayMismatch = errors.New("transcript: replay mismatch")

// Replay is a card that answers from a transcript. Each Transmit must send
// exactly the next recorded command APDU; on the first difference (or a
// command past the end) it fails with ErrReplayMismatch and keeps failing.
// It implements reader.Tag with the transcript's UID.
type Replay struct {
	tr Transcript

	mu     sync.Mutex
	next   int
	err    error
	closed bool
}

var _ reader.Tag = (*Replay)(nil)

// NewReplay replays t.
func NewReplay(t Transcript) *Replay { return &Replay{tr: t} }

// Transmit checks capdu against the next recorded command and returns the
// recorded answer or error.
func (r *Replay) Transmit(ctx context.Context, capdu []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return nil, r.err
	}
	if r.closed {
		return nil, ErrClosed
	}
	i := r.next
	if i >= len(r.tr.Exchanges) {
		r.err = fmt.Errorf("%w: exchange %d: %X sent after the %d recorded exchanges", ErrReplayMismatch, i+1, capdu, len(r.tr.Exchanges))
		return nil, r.err
	}
	e := r.tr.Exchanges[i]
	if !bytes.Equal(capdu, e.C) {
		r.err = fmt.Errorf("%w: exchange %d: sent %X, recorded %X", ErrReplayMismatch, i+1, capdu, []byte(e.C))
		return nil, r.err
	}
	r.next++
	if e.Err != "" {
		return nil, textErr(e.Err)
	}
	return append([]byte(nil), e.R...), nil
}

// Done reports whether the whole transcript was replayed without a
// mismatch.
func (r *Replay) Done() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	if r.next != len(r.tr.Exchanges) {
		return fmt.Errorf("%w: %d of %d exchanges replayed", ErrReplayMismatch, r.next, len(r.tr.Exchanges))
	}
	return nil
}

// UID is the recorded UID.
func (r *Replay) UID() []byte { return append([]byte(nil), r.tr.UID...) }

// Close ends the replay; further Transmits fail with ErrClosed.
func (r *Replay) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	return nil
}
