package vpcd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// echoTag answers SELECT with 9000, echoes the data of INS 0xEE and answers
// anything else with 6D00.
type echoTag struct {
	mu     sync.Mutex
	resets int
}

func (*echoTag) UID() []byte { return []byte{0x04, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06} }
func (*echoTag) ATS() []byte { return []byte{0x06, 0x77, 0x77, 0x71, 0x02, 0x80} }
func (*echoTag) Process(capdu []byte) []byte {
	switch {
	case len(capdu) >= 4 && capdu[1] == 0xA4:
		return []byte{0x90, 0x00}
	case len(capdu) >= 5 && capdu[1] == 0xEE:
		return append(append([]byte(nil), capdu[5:5+int(capdu[4])]...), 0x90, 0x00)
	}
	return []byte{0x6D, 0x00}
}
func (t *echoTag) Reset() {
	t.mu.Lock()
	t.resets++
	t.mu.Unlock()
}

// fakeDriver is the driver end of one vpcd slot: a TCP server that accepts
// one card at a time and lets the test send messages to it.
type fakeDriver struct {
	t  *testing.T
	ln net.Listener
}

func newFakeDriver(t *testing.T) *fakeDriver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return &fakeDriver{t: t, ln: ln}
}

func (d *fakeDriver) addr() string { return d.ln.Addr().String() }

type driverConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func (d *fakeDriver) accept() *driverConn {
	d.t.Helper()
	c, err := d.ln.Accept()
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return &driverConn{t: d.t, c: c, r: bufio.NewReader(c)}
}

func (c *driverConn) send(payload ...byte) {
	c.t.Helper()
	if err := writeFrame(c.c, payload); err != nil {
		c.t.Fatal(err)
	}
}

func (c *driverConn) recv() ([]byte, error) {
	buf := make([]byte, maxPayload)
	msg, err := readFrame(c.r, buf, nil)
	if err != nil {
		return nil, err
	}
	return clone(msg), nil
}

func (c *driverConn) exchange(capdu ...byte) []byte {
	c.t.Helper()
	c.send(capdu...)
	rsp, err := c.recv()
	if err != nil {
		c.t.Fatalf("exchange % X: %v", capdu, err)
	}
	return rsp
}

func insert(t *testing.T, addr string, tag *echoTag, opts Options) *Card {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	card, err := Insert(ctx, addr, tag, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { card.Remove() })
	return card
}

func TestATRFromATS(t *testing.T) {
	for _, tc := range []struct{ ats, atr []byte }{
		// NTAG 424 DNA: historical byte 80.
		{[]byte{0x06, 0x77, 0x77, 0x71, 0x02, 0x80}, []byte{0x3B, 0x81, 0x80, 0x01, 0x80, 0x80}},
		// T0 without TA/TB/TC, two historical bytes.
		{[]byte{0x04, 0x00, 0xAB, 0xCD}, []byte{0x3B, 0x82, 0x80, 0x01, 0xAB, 0xCD, 0x82 ^ 0x80 ^ 0x01 ^ 0xAB ^ 0xCD}},
		// Malformed (TL disagrees with the length): no historical bytes.
		{[]byte{0x09, 0x77}, []byte{0x3B, 0x80, 0x80, 0x01, 0x01}},
		{nil, []byte{0x3B, 0x80, 0x80, 0x01, 0x01}},
	} {
		if got := ATRFromATS(tc.ats); !bytes.Equal(got, tc.atr) {
			t.Errorf("ATRFromATS(% X) = % X, want % X", tc.ats, got, tc.atr)
		}
	}
}

func TestServe(t *testing.T) {
	drv := newFakeDriver(t)
	tag := &echoTag{}
	var mu sync.Mutex
	var seen []int
	card := insert(t, drv.addr(), tag, Options{OnAPDU: func(n int, capdu, rapdu []byte) {
		mu.Lock()
		seen = append(seen, n)
		mu.Unlock()
	}})
	c := drv.accept()

	// The driver's start-up sequence: power on, get ATR.
	c.send(ctrlPowerOn)
	if atr := c.exchange(ctrlGetATR); !bytes.Equal(atr, []byte{0x3B, 0x81, 0x80, 0x01, 0x80, 0x80}) {
		t.Fatalf("ATR % X", atr)
	}
	if rsp := c.exchange(0x00, 0xA4, 0x04, 0x00, 0x07, 0xD2, 0x76, 0x00, 0x00, 0x85, 0x01, 0x01, 0x00); !bytes.Equal(rsp, []byte{0x90, 0x00}) {
		t.Fatalf("SELECT: % X", rsp)
	}
	if rsp := c.exchange(0x00, 0xEE, 0x00, 0x00, 0x03, 1, 2, 3); !bytes.Equal(rsp, []byte{1, 2, 3, 0x90, 0x00}) {
		t.Fatalf("echo: % X", rsp)
	}
	if rsp := c.exchange(0xFF, 0xCA, 0x00, 0x00, 0x00); !bytes.Equal(rsp, []byte{0x6D, 0x00}) {
		t.Fatalf("unknown: % X", rsp)
	}
	// Reset and power off are not answered but reach the tag.
	c.send(ctrlReset)
	c.send(ctrlPowerOff)
	c.send(ctrlPowerOn)
	if atr := c.exchange(ctrlGetATR); len(atr) != 6 {
		t.Fatalf("ATR after reset % X", atr)
	}
	tag.mu.Lock()
	resets := tag.resets
	tag.mu.Unlock()
	if resets != 2 {
		t.Errorf("tag saw %d resets, want 2", resets)
	}
	if card.APDUs() != 3 {
		t.Errorf("APDUs() = %d, want 3", card.APDUs())
	}
	mu.Lock()
	if len(seen) != 3 || seen[0] != 1 || seen[2] != 3 {
		t.Errorf("OnAPDU saw %v", seen)
	}
	mu.Unlock()
	if card.Err() != nil {
		t.Fatalf("Err() = %v while inserted", card.Err())
	}

	// Remove closes the connection: the driver reads EOF.
	if err := card.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.recv(); err != io.EOF {
		t.Fatalf("driver read after Remove: %v, want EOF", err)
	}
	if !errors.Is(card.Err(), ErrRemoved) {
		t.Fatalf("Err() = %v", card.Err())
	}
	card.Remove() // idempotent
}

func TestRemoveAfter(t *testing.T) {
	drv := newFakeDriver(t)
	var swallowed []byte
	var gotNil bool
	card := insert(t, drv.addr(), &echoTag{}, Options{RemoveAfter: 2, OnAPDU: func(n int, capdu, rapdu []byte) {
		if n == 2 {
			swallowed, gotNil = capdu, rapdu == nil
		}
	}})
	c := drv.accept()
	c.send(ctrlPowerOn)
	c.exchange(ctrlGetATR)
	if rsp := c.exchange(0x00, 0xA4, 0x04, 0x00, 0x00); !bytes.Equal(rsp, []byte{0x90, 0x00}) {
		t.Fatalf("first APDU: % X", rsp)
	}
	c.send(0x00, 0xEE, 0x00, 0x00, 0x01, 0x42)
	if rsp, err := c.recv(); err == nil {
		t.Fatalf("second APDU answered % X; want the connection closed", rsp)
	}
	select {
	case <-card.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("card still serving after RemoveAfter")
	}
	if !errors.Is(card.Err(), ErrRemoved) {
		t.Fatalf("Err() = %v", card.Err())
	}
	if !gotNil || !bytes.Equal(swallowed, []byte{0x00, 0xEE, 0x00, 0x00, 0x01, 0x42}) {
		t.Fatalf("OnAPDU for swallowed command: % X nil=%v", swallowed, gotNil)
	}

	// The same tag can be inserted again and answers normally.
	card2 := insert(t, drv.addr(), &echoTag{}, Options{})
	c2 := drv.accept()
	if rsp := c2.exchange(0x00, 0xEE, 0x00, 0x00, 0x01, 0x42); !bytes.Equal(rsp, []byte{0x42, 0x90, 0x00}) {
		t.Fatalf("after re-insert: % X", rsp)
	}
	card2.Remove()
}

func TestDriverCloses(t *testing.T) {
	drv := newFakeDriver(t)
	card := insert(t, drv.addr(), &echoTag{}, Options{})
	c := drv.accept()
	c.c.Close()
	select {
	case <-card.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("card did not notice the driver closing")
	}
	if card.Err() == nil || errors.Is(card.Err(), ErrRemoved) {
		t.Fatalf("Err() = %v, want the connection error", card.Err())
	}
}

func TestCustomATRAndLongAPDU(t *testing.T) {
	drv := newFakeDriver(t)
	insert(t, drv.addr(), &echoTag{}, Options{ATR: []byte{0x3B, 0x00}})
	c := drv.accept()
	if atr := c.exchange(ctrlGetATR); !bytes.Equal(atr, []byte{0x3B, 0x00}) {
		t.Fatalf("ATR % X", atr)
	}
	// An extended-length-sized command survives framing intact.
	long := make([]byte, 4000)
	long[1] = 0x01
	if rsp := c.exchange(long...); !bytes.Equal(rsp, []byte{0x6D, 0x00}) {
		t.Fatalf("long APDU: % X", rsp)
	}
}

func TestInsertRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := Insert(ctx, addr, &echoTag{}, Options{}); err == nil {
		t.Fatal("Insert into a closed port succeeded")
	}
	if _, err := Insert(ctx, addr, nil, Options{}); err == nil {
		t.Fatal("Insert of a nil tag succeeded")
	}
}

// leavingTag answers once, then leaves the field on its own.
type leavingTag struct{ n int }

func (l *leavingTag) UID() []byte { return []byte{4, 1, 2, 3, 4, 5, 6} }
func (l *leavingTag) ATS() []byte { return []byte{0x06, 0x77, 0x77, 0x71, 0x02, 0x80} }
func (l *leavingTag) Process(c []byte) []byte {
	l.n++
	if l.n > 1 {
		return nil
	}
	return []byte{0x90, 0x00}
}

// A tag that leaves by itself (Process returns nothing) closes the
// connection: pcscd then sees the card removed instead of waiting.
func TestTagLeavesOnItsOwn(t *testing.T) {
	drv := newFakeDriver(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	card, err := Insert(ctx, drv.addr(), &leavingTag{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer card.Remove()
	c := drv.accept()
	if rsp := c.exchange(0x00, 0xA4, 0x04, 0x00, 0x00); !bytes.Equal(rsp, []byte{0x90, 0x00}) {
		t.Fatalf("first APDU: % X", rsp)
	}
	c.send(0x00, 0xB0, 0x00, 0x00, 0x00)
	if rsp, err := c.recv(); err == nil {
		t.Fatalf("answered % X after the tag left; want the connection closed", rsp)
	}
	select {
	case <-card.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("card still serving after its tag left")
	}
	if !errors.Is(card.Err(), ErrRemoved) {
		t.Fatalf("Err() = %v", card.Err())
	}
}
