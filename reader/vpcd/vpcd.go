package vpcd

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/tagline-station/tagline/reader"
)

// DefaultAddr is the address of the first slot of Debian's default vpcd
// reader ("Virtual PCD 00 00"); the second slot listens on port 35964.
const DefaultAddr = "127.0.0.1:35963"

// Control messages from the driver (1-byte payloads).
const (
	ctrlPowerOff = 0x00
	ctrlPowerOn  = 0x01
	ctrlReset    = 0x02
	ctrlGetATR   = 0x04
)

// maxPayload is the largest payload the 2-byte length prefix can carry.
const maxPayload = 0xFFFF

// ErrRemoved is returned by Card.Err when the card left the reader because
// of Remove or of the RemoveAfter fault hook.
var ErrRemoved = errors.New("vpcd: card removed")

// Resetter is implemented by tags that lose volatile state (an open
// authentication session, a selected application) when the reader drops
// or resets the RF field. When the tag passed to Insert implements it, Reset
// is called on the driver's power-off and reset messages.
type Resetter interface {
	Reset()
}

// Options tune one inserted card. The zero value is a well-behaved tag.
type Options struct {
	// ATR is answered to the driver's get-ATR message. Empty means the ATR
	// that a PC/SC reader builds for the tag's ATS (ATRFromATS), which is
	// 3B 81 80 01 80 80 for an NTAG 424 DNA.
	ATR []byte

	// RemoveAfter, when positive, is a fault hook: the card closes the
	// connection as soon as it has received its RemoveAfter-th command
	// APDU (counting from 1, control messages not counted), without passing
	// it to the tag and without answering. The reader sees the tag leave in
	// the middle of that exchange.
	RemoveAfter int

	// OnAPDU, when set, is called after each command APDU with its
	// 1-based number, the command and the response sent back. The
	// response is nil for the command that RemoveAfter swallowed. It runs
	// on the card's goroutine and delays the answer while it runs.
	OnAPDU func(n int, capdu, rapdu []byte)
}

// Card is a tag inserted into a vpcd reader slot. It serves the driver's
// requests on its own goroutine until Remove, the RemoveAfter hook, or the
// driver closing the connection.
type Card struct {
	conn net.Conn
	tag  reader.Emulated
	opts Options
	atr  []byte

	done      chan struct{}
	closeOnce sync.Once
	mu        sync.Mutex
	err       error // why serving ended
	n         int   // command APDUs received
}

// Insert connects to the vpcd reader slot at addr (host:port; DefaultAddr
// when empty) and serves tag there: the card is in the reader once Insert
// returns. ctx bounds the connection attempt only; use Remove to take the
// card out.
func Insert(ctx context.Context, addr string, tag reader.Emulated, opts Options) (*Card, error) {
	if tag == nil {
		return nil, errors.New("vpcd: nil tag")
	}
	if addr == "" {
		addr = DefaultAddr
	}
	atr := opts.ATR
	if len(atr) == 0 {
		atr = ATRFromATS(tag.ATS())
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("vpcd: insert into %s: %w", addr, err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		// Every message is one small write; do not let Nagle hold it back.
		_ = tc.SetNoDelay(true)
	}
	c := &Card{
		conn: conn,
		tag:  tag,
		opts: opts,
		atr:  append([]byte(nil), atr...),
		done: make(chan struct{}),
	}
	go c.serve()
	return c, nil
}

// Remove takes the card out of the reader (closes the connection) and waits
// until the serving goroutine has stopped. It is safe to call more than once
// and after the card already left.
func (c *Card) Remove() error {
	c.finish(ErrRemoved)
	<-c.done
	return nil
}

// Done is closed when the card has left the reader, whatever the reason.
func (c *Card) Done() <-chan struct{} { return c.done }

// Err reports why the card left the reader: nil while it is still in,
// ErrRemoved after Remove or the RemoveAfter hook, otherwise the connection
// error (io.EOF when the driver closed the connection, as pcscd does when it
// stops).
func (c *Card) Err() error {
	select {
	case <-c.done:
	default:
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// APDUs returns the number of command APDUs the card has received so far,
// including one swallowed by RemoveAfter.
func (c *Card) APDUs() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// finish records the first reason the card left and closes the connection,
// which also unblocks the serving goroutine.
func (c *Card) finish(err error) {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
		_ = c.conn.Close()
	})
}

func (c *Card) serve() {
	defer close(c.done)
	r := bufio.NewReader(c.conn)
	buf := make([]byte, maxPayload)
	for {
		msg, err := readFrame(r, buf, func() { quickAck(c.conn) })
		if err != nil {
			c.finish(err)
			return
		}
		if len(msg) == 1 {
			if err := c.control(msg[0]); err != nil {
				c.finish(err)
				return
			}
			continue
		}
		c.mu.Lock()
		c.n++
		n := c.n
		c.mu.Unlock()
		if c.opts.RemoveAfter > 0 && n >= c.opts.RemoveAfter {
			c.finish(ErrRemoved)
			if c.opts.OnAPDU != nil {
				c.opts.OnAPDU(n, clone(msg), nil)
			}
			return
		}
		capdu := clone(msg)
		rapdu := c.tag.Process(capdu)
		if c.opts.OnAPDU != nil {
			c.opts.OnAPDU(n, capdu, rapdu)
		}
		if len(rapdu) == 0 {
			// The tag left the field on its own (a simulated tag's fault
			// hook): closing the socket is how vpcd says so. An empty
			// frame would leave pcscd waiting for an answer forever.
			c.finish(ErrRemoved)
			return
		}
		if err := writeFrame(c.conn, rapdu); err != nil {
			c.finish(err)
			return
		}
	}
}

// control handles a 1-byte message from the driver. Only get-ATR is
// answered; unknown codes are ignored, as vsmartcard's own cards do.
func (c *Card) control(code byte) error {
	switch code {
	case ctrlGetATR:
		return writeFrame(c.conn, c.atr)
	case ctrlPowerOff, ctrlReset:
		if r, ok := c.tag.(Resetter); ok {
			r.Reset()
		}
	case ctrlPowerOn:
	}
	return nil
}

// readFrame reads one length-prefixed message into buf (which must hold
// maxPayload bytes) and returns the filled part. beforeRead, when not nil,
// runs before reading the length and again before reading the payload.
func readFrame(r *bufio.Reader, buf []byte, beforeRead func()) ([]byte, error) {
	var hdr [2]byte
	if beforeRead != nil {
		beforeRead()
	}
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	if beforeRead != nil && r.Buffered() < int(binary.BigEndian.Uint16(hdr[:])) {
		beforeRead()
	}
	n := int(binary.BigEndian.Uint16(hdr[:]))
	if _, err := io.ReadFull(r, buf[:n]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf[:n], nil
}

// writeFrame writes one length-prefixed message in a single write.
func writeFrame(w io.Writer, payload []byte) error {
	if len(payload) > maxPayload {
		return fmt.Errorf("vpcd: message of %d bytes exceeds %d", len(payload), maxPayload)
	}
	frame := make([]byte, 2+len(payload))
	binary.BigEndian.PutUint16(frame, uint16(len(payload)))
	copy(frame[2:], payload)
	_, err := w.Write(frame)
	return err
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// ATRFromATS builds the ATR that a PC/SC reader reports for an ISO 14443-4
// type A tag (PC/SC part 3, "ATR for contactless cards"): 3B 8n 80 01,
// then the n historical bytes of the ATS, then the check byte TCK (XOR of
// every byte after 3B). ats is the full ATS including its length byte TL.
// A malformed ATS yields the ATR without historical bytes, 3B 80 80 01 01.
func ATRFromATS(ats []byte) []byte {
	hist := historicalBytes(ats)
	if len(hist) > 15 {
		hist = hist[:15]
	}
	atr := []byte{0x3B, 0x80 | byte(len(hist)), 0x80, 0x01}
	atr = append(atr, hist...)
	var tck byte
	for _, b := range atr[1:] {
		tck ^= b
	}
	return append(atr, tck)
}

// historicalBytes returns the historical bytes of an ATS (TL T0 [TA] [TB]
// [TC] T1..Tk), or nil when the ATS is malformed.
func historicalBytes(ats []byte) []byte {
	if len(ats) < 2 || int(ats[0]) != len(ats) {
		return nil
	}
	t0 := ats[1]
	i := 2
	for _, bit := range []byte{0x10, 0x20, 0x40} { // TA, TB, TC present
		if t0&bit != 0 {
			i++
		}
	}
	if i > len(ats) {
		return nil
	}
	return ats[i:]
}
