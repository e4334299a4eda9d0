package encoder

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tagline-station/tagline/internal/errkind"

	"github.com/tagline-station/tagline/apdu"
	"github.com/tagline-station/tagline/ev2"
	"github.com/tagline-station/tagline/reader"
)

// CommMode is the protection of a command's data (datasheet 9.1.1).
type CommMode byte

const (
	Plain CommMode = iota
	MAC
	Full
)

// MaxAPDU is the longest command APDU that fits one ISO 14443-4 frame of
// 128 bytes (FSCI 7 in the NTAG 424 DNA ATS) after PCB, CID and CRC.
// Writes longer than one frame are chained and lose the tag's tear
// protection (datasheet 8.1.3), so no command here is longer.
const MaxAPDU = 124

// DefaultExchangeTimeout bounds one exchange when Options leave it unset.
// A real tag answers the slowest command (a ChangeKey with its EEPROM
// cycles) in tens of milliseconds; 2 s leaves room for a slow reader stack
// and still frees the lane quickly from a card that never answers.
const DefaultExchangeTimeout = 2 * time.Second

// maxResponse is the longest answer a tag can give to a short APDU: 256
// bytes of data and the status word. Anything longer is not an answer.
const maxResponse = 256 + 2

// ErrTimeout reports an exchange the card did not answer within the
// exchange timeout. Whether the tag executed the command is unknown.
var ErrTimeout = errkind.New(errkind.Tag, "tag did not answer in time")

// Options tune a Conn.
type Options struct {
	// Rand supplies RndA; crypto/rand when nil. Tests inject recorded
	// values so transcripts replay byte for byte.
	Rand io.Reader
	// ExchangeTimeout bounds each exchange (0: DefaultExchangeTimeout,
	// negative: no bound beyond the caller's context), so that a card
	// that never answers cannot hold a lane.
	ExchangeTimeout time.Duration
}

// Conn is one tag seen through one card transport.
type Conn struct {
	card    reader.Card
	rand    io.Reader
	timeout time.Duration
	sess    *ev2.Session
	count   int
}

// New wraps a card.
func New(card reader.Card, opts Options) *Conn {
	r := opts.Rand
	if r == nil {
		r = rand.Reader
	}
	to := opts.ExchangeTimeout
	if to == 0 {
		to = DefaultExchangeTimeout
	}
	return &Conn{card: card, rand: r, timeout: to}
}

// Exchanges is the number of APDUs sent so far.
func (c *Conn) Exchanges() int { return c.count }

// Authenticated reports whether a session is open.
func (c *Conn) Authenticated() bool { return c.sess != nil }

// Session exposes the current session for tests (nil when none).
func (c *Conn) Session() *ev2.Session { return c.sess }

// SetSession installs a session, for replaying published transcripts that
// start in the middle of one.
func (c *Conn) SetSession(s *ev2.Session) { c.sess = s }

// Logout forgets the session locally (the tag forgets it on its own).
func (c *Conn) Logout() { c.sess = nil }

// transmit sends one APDU and splits the answer. Every reader stack
// honours the context's deadline, which is how the exchange timeout ends
// an exchange the card does not answer.
func (c *Conn) transmit(ctx context.Context, capdu []byte) ([]byte, apdu.StatusWord, error) {
	c.count++
	ectx, cancel := ctx, context.CancelFunc(func() {})
	if c.timeout > 0 {
		ectx, cancel = context.WithTimeout(ctx, c.timeout)
	}
	r, err := c.card.Transmit(ectx, capdu)
	cancel()
	if err != nil {
		c.sess = nil
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w: no answer within %v", ErrTimeout, c.timeout)
		}
		return nil, 0, err
	}
	if len(r) > maxResponse {
		c.sess = nil
		return nil, 0, fmt.Errorf("%w: %d-byte answer, a short apdu answer has at most %d", apdu.ErrMalformed, len(r), maxResponse)
	}
	data, sw, err := apdu.Response(r)
	if err != nil {
		c.sess = nil
		return nil, 0, err
	}
	return data, sw, nil
}

// native runs a native command in the given comm mode within the current
// session (or plainly when there is none) and returns the response data.
// header is the command header (sent plain, MACed); data is the part that
// Full mode encrypts.
func (c *Conn) native(ctx context.Context, ins byte, mode CommMode, header, data []byte) ([]byte, error) {
	s := c.sess
	if s == nil || mode == Plain {
		resp, sw, err := c.transmit(ctx, apdu.Native(ins, header, data))
		if err != nil {
			return nil, err
		}
		if !sw.OK() {
			c.sess = nil
			return nil, sw
		}
		if s != nil {
			s.CmdCtr++
		}
		return resp, nil
	}
	payload := data
	if mode == Full && len(data) > 0 {
		payload = s.EncryptCommand(data)
	}
	mac := s.CommandMAC(ins, header, payload)
	resp, sw, err := c.transmit(ctx, apdu.Native(ins, header, payload, mac[:]))
	if err != nil {
		return nil, err
	}
	if !sw.OK() {
		c.sess = nil
		return nil, sw
	}
	return c.unwrap(resp, mode)
}

// Command runs any native command in a comm mode within the current
// session: the building block of every method here, exported for
// commands tagline does not wrap and for replaying published transcripts.
// It does not split long data; WriteData does.
func (c *Conn) Command(ctx context.Context, ins byte, mode CommMode, header, data []byte) ([]byte, error) {
	return c.native(ctx, ins, mode, header, data)
}

// unwrap checks the response MAC and decrypts Full-mode data; then the
// counter moves on (the response IV and MAC use CmdCtr+1).
func (c *Conn) unwrap(resp []byte, mode CommMode) ([]byte, error) {
	s := c.sess
	if len(resp) < 8 {
		c.sess = nil
		return nil, fmt.Errorf("%w: response too short for its mac", apdu.ErrIntegrity)
	}
	body, mac := resp[:len(resp)-8], resp[len(resp)-8:]
	if err := s.VerifyResponseMAC(0x00, body, mac); err != nil {
		c.sess = nil
		return nil, fmt.Errorf("response: %w", err)
	}
	if mode == Full && len(body) > 0 {
		p, err := s.DecryptResponse(body)
		if err != nil {
			c.sess = nil
			return nil, fmt.Errorf("response: %w", err)
		}
		body = p
	}
	s.CmdCtr++
	return body, nil
}

// iso runs an ISO command and expects 90 00.
func (c *Conn) iso(ctx context.Context, capdu []byte) ([]byte, error) {
	resp, sw, err := c.transmit(ctx, capdu)
	if err != nil {
		return nil, err
	}
	if sw != apdu.SWOK {
		return nil, sw
	}
	return resp, nil
}

func (c *Conn) random(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(c.rand, b); err != nil {
		return nil, fmt.Errorf("random source: %w", err)
	}
	return b, nil
}

// keyErr adds the key number to authentication errors without the key.
func keyErr(step string, keyNo byte, err error) error {
	if errors.Is(err, apdu.ErrAuthFailed) {
		return fmt.Errorf("%s with key %d: %w", step, keyNo, err)
	}
	return fmt.Errorf("%s: %w", step, err)
}
