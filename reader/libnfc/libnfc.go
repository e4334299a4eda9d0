//go:build cgo

package libnfc

/*
#cgo LDFLAGS: -lnfc
#include <stdint.h>
#include <string.h>
#include <nfc/nfc.h>

typedef struct {
	uint8_t atqa[2];
	uint8_t sak;
	uint8_t uid_len;
	uint8_t uid[10];
	uint8_t ats_len;
	uint8_t ats[254];
} tagline_target_a;

// tagline_select_a selects one ISO/IEC 14443-A target at 106 kbit/s and
// copies what the anticollision and RATS returned. It returns the number of
// targets selected (0 or 1) or a negative libnfc error code. It exists because
// nfc/v2's InitiatorSelectPassiveTarget cannot represent "no target".
static int tagline_select_a(uintptr_t dev, tagline_target_a *out) {
	nfc_device *pnd = (nfc_device *)dev;
	nfc_target nt;
	memset(&nt, 0, sizeof nt);
	const nfc_modulation nm = { .nmt = NMT_ISO14443A, .nbr = NBR_106 };
	int n = nfc_initiator_select_passive_target(pnd, nm, NULL, 0, &nt);
	if (n <= 0)
		return n;
	memcpy(out->atqa, nt.nti.nai.abtAtqa, 2);
	out->sak = nt.nti.nai.btSak;
	size_t ul = nt.nti.nai.szUidLen > 10 ? 10 : nt.nti.nai.szUidLen;
	out->uid_len = (uint8_t)ul;
	memcpy(out->uid, nt.nti.nai.abtUid, ul);
	size_t al = nt.nti.nai.szAtsLen > 253 ? 253 : nt.nti.nai.szAtsLen;
	out->ats_len = (uint8_t)al;
	memcpy(out->ats, nt.nti.nai.abtAts, al);
	return n;
}
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/clausecker/nfc/v2"
	"github.com/tagline-station/tagline/reader"
)

// Compiled reports whether the libnfc binding is part of this build. It is
// false in builds without cgo, where Open always fails.
const Compiled = true

var (
	errDeviceClosed = errors.New("libnfc: device closed")
	errTagClosed    = errors.New("libnfc: tag closed")
)

// Device is one libnfc device (a PN532 on a serial line, an ACR122, …) used
// as an ISO/IEC 14443-A initiator. It implements reader.Reader.
type Device struct {
	opts Options
	name string
	conn string

	mu     sync.Mutex // serialises every libnfc call: libnfc is not thread-safe
	dev    nfc.Device
	closed bool
	gen    uint64 // bumped by every selection; Tags of older generations are stale
	cur    *Tag   // last selected tag, until it is known to be gone

	present atomic.Bool // for Info, without waiting for mu
}

// Open opens a libnfc device and initialises it as an initiator. An empty
// connstring lets libnfc choose: LIBNFC_DEVICE, then the configuration in
// /etc/nfc, then (if enabled) autoscan. libnfc reads its environment once
// per process, when the first device is opened.
func Open(connstring string) (*Device, error) {
	return OpenOptions(connstring, Options{})
}

// OpenOptions is Open with tuning options.
func OpenOptions(connstring string, opts Options) (d *Device, err error) {
	defer func() {
		// nfc/v2 panics when nfc_init fails (no memory, broken config).
		if r := recover(); r != nil {
			d, err = nil, fmt.Errorf("%w: libnfc initialisation failed: %v", reader.ErrStackUnavailable, r)
		}
	}()
	dev, err := nfc.Open(connstring)
	if err != nil {
		if connstring == "" {
			return nil, fmt.Errorf("%w: no libnfc device found: set LIBNFC_DEVICE=pn532_uart:/dev/ttyUSB0 or check /etc/nfc/libnfc.conf", reader.ErrStackUnavailable)
		}
		return nil, fmt.Errorf("%w: libnfc cannot open %q: the device is missing, claimed by another process or not answering (LIBNFC_LOG_LEVEL=3 shows why)", reader.ErrStackUnavailable, connstring)
	}
	d = &Device{opts: opts.withDefaults(), dev: dev, name: dev.String(), conn: dev.Connection()}
	if err := d.initiator(); err != nil {
		dev.Close()
		return nil, fmt.Errorf("%w: libnfc device %s: %w", reader.ErrStackUnavailable, d.name, err)
	}
	return d, nil
}

// initiator puts the chip in reader mode: ISO 14443-4 activation (RATS) by
// the chip, easy framing, and a selection that gives up at once when no tag
// answers instead of retrying forever.
func (d *Device) initiator() error {
	if err := d.dev.InitiatorInit(); err != nil {
		return fmt.Errorf("initiator init: %w", err)
	}
	for _, p := range []struct {
		prop int
		val  bool
	}{
		{nfc.InfiniteSelect, false},
		{nfc.AutoISO14443_4, true},
		{nfc.EasyFraming, true},
	} {
		if err := d.dev.SetPropertyBool(p.prop, p.val); err != nil {
			return fmt.Errorf("set property %d: %w", p.prop, err)
		}
	}
	return nil
}

// Connstring is libnfc's connection string of the device.
func (d *Device) Connstring() string { return d.conn }

// Info describes the device. TagPresent is the last known state; Info does
// no I/O.
func (d *Device) Info() reader.Info {
	return reader.Info{Name: d.name, Kind: reader.KindLibNFC, TagPresent: d.present.Load()}
}

// WaitTag polls for an ISO/IEC 14443-A tag every PollInterval until one
// answers or ctx ends, and returns it selected and ISO 14443-4 activated.
// libnfc offers no event API, so polling is the mechanism here; each poll is
// one InListPassiveTarget that the chip ends after a few retries.
//
// If a previous tag was selected and not seen leaving, the RF field is
// cycled first: a tag in the ISO 14443-4 ACTIVE state does not answer a new
// anticollision, and a field reset returns it to IDLE.
func (d *Device) WaitTag(ctx context.Context) (reader.Tag, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t, err := d.selectTag()
		if err != nil || t != nil {
			return t, err
		}
		if err := sleep(ctx, d.opts.PollInterval); err != nil {
			return nil, err
		}
	}
}

func (d *Device) selectTag() (*Tag, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, errDeviceClosed
	}
	if d.cur != nil {
		d.forget()
		if err := d.dev.SetPropertyBool(nfc.ActivateField, false); err != nil {
			return nil, fmt.Errorf("libnfc: field off: %w", err)
		}
		if err := d.dev.SetPropertyBool(nfc.ActivateField, true); err != nil {
			return nil, fmt.Errorf("libnfc: field on: %w", err)
		}
	}
	var out C.tagline_target_a
	n := C.tagline_select_a(C.uintptr_t(d.dev.Pointer()), &out)
	if n < 0 {
		switch err := nfc.Error(n); int(err) {
		case nfc.ETIMEOUT, nfc.ERFTRANS, nfc.ETGRELEASED:
			// A tag half in the field garbles the anticollision: not
			// an error, try again at the next poll.
			return nil, nil
		default:
			return nil, fmt.Errorf("libnfc: select: %w", err)
		}
	}
	if n == 0 {
		return nil, nil
	}
	d.gen++
	t := &Tag{
		d:    d,
		gen:  d.gen,
		atqa: [2]byte{byte(out.atqa[0]), byte(out.atqa[1])},
		sak:  byte(out.sak),
		uid:  C.GoBytes(unsafe.Pointer(&out.uid[0]), C.int(out.uid_len)),
	}
	if out.ats_len > 0 {
		// libnfc strips TL; give the ATS back whole.
		t.ats = append([]byte{byte(out.ats_len) + 1}, C.GoBytes(unsafe.Pointer(&out.ats[0]), C.int(out.ats_len))...)
	}
	t.timeout = d.opts.TransmitTimeout
	if t.timeout <= 0 {
		t.timeout = transmitTimeout(t.ats)
	}
	d.cur = t
	d.present.Store(true)
	return t, nil
}

// forget drops the current tag: its Tag goes stale.
func (d *Device) forget() {
	d.cur = nil
	d.gen++
	d.present.Store(false)
}

// WaitRemoved polls libnfc's presence check every PollInterval until the
// last selected tag has left the field or ctx ends. It returns at once when
// no tag is selected.
func (d *Device) WaitRemoved(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		gone, err := d.checkGone()
		if err != nil || gone {
			return err
		}
		if err := sleep(ctx, d.opts.PollInterval); err != nil {
			return err
		}
	}
}

func (d *Device) checkGone() (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return false, errDeviceClosed
	}
	if d.cur == nil {
		return true, nil
	}
	err := d.dev.InitiatorTargetIsPresent(nil)
	if err == nil {
		return false, nil
	}
	if isRemoval(err) {
		d.forget()
		return true, nil
	}
	return false, fmt.Errorf("libnfc: presence check: %w", err)
}

// Close releases the target, switches the field off and closes the device.
// Polls and exchanges in other goroutines then fail.
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	d.cur = nil
	d.present.Store(false)
	return d.dev.Close()
}

// transceive runs one exchange for the tag of generation gen.
func (d *Device) transceive(gen uint64, capdu []byte, timeout time.Duration) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, errDeviceClosed
	}
	if gen != d.gen {
		return nil, reader.RemovedError(errors.New("libnfc: the tag was lost or another tag has been selected since"))
	}
	ms := int((timeout + time.Millisecond - 1) / time.Millisecond)
	rx := make([]byte, 1024)
	n, err := d.dev.InitiatorTransceiveBytes(capdu, rx, max(ms, 1))
	if err != nil {
		return nil, classify("transmit", err)
	}
	if n < 2 {
		return nil, fmt.Errorf("libnfc: transmit: %d-byte response has no status word", n)
	}
	return append([]byte(nil), rx[:n]...), nil
}

// isRemoval tells the libnfc errors that mean the tag stopped answering: a
// timeout, an RF error (the PN53x timeout status 0x01 maps to it), a target
// released, and I/O errors (the reader itself went away).
func isRemoval(err error) bool {
	var ne nfc.Error
	if !errors.As(err, &ne) {
		return false
	}
	switch int(ne) {
	case nfc.ETIMEOUT, nfc.ERFTRANS, nfc.ETGRELEASED, nfc.EIO:
		return true
	}
	return false
}

func classify(op string, err error) error {
	if isRemoval(err) {
		return reader.RemovedError(fmt.Errorf("libnfc %s: %w", op, err))
	}
	return fmt.Errorf("libnfc %s: %w", op, err)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Tag is an ISO/IEC 14443-4 A tag selected by a Device. It implements
// reader.Tag.
type Tag struct {
	d       *Device
	gen     uint64
	uid     []byte
	ats     []byte
	atqa    [2]byte
	sak     byte
	timeout time.Duration
	closed  atomic.Bool
}

// UID is the anticollision UID (7 bytes for an NTAG 424 DNA).
func (t *Tag) UID() []byte { return append([]byte(nil), t.uid...) }

// ATS is the answer to select including its length byte TL, or nil for a
// tag without ISO 14443-4.
func (t *Tag) ATS() []byte { return append([]byte(nil), t.ats...) }

// ATQA is SENS_RES as the PN53x reports it (03 44 for an NTAG 424 DNA).
func (t *Tag) ATQA() [2]byte { return t.atqa }

// SAK is SEL_RES (20 for an ISO 14443-4 tag).
func (t *Tag) SAK() byte { return t.sak }

// Transmit sends one command APDU and returns the response APDU. Losing the
// tag yields an error wrapping reader.ErrTagRemoved. When ctx ends first,
// Transmit returns ctx.Err() at once; the exchange in flight completes in
// the background within the transmit timeout and holds the device until
// then (libnfc's abort is not safe during an exchange).
func (t *Tag) Transmit(ctx context.Context, capdu []byte) ([]byte, error) {
	if t.closed.Load() {
		return nil, errTagClosed
	}
	if len(capdu) == 0 || len(capdu) > MaxCommandAPDU {
		return nil, fmt.Errorf("libnfc: command APDU of %d bytes (1…%d)", len(capdu), MaxCommandAPDU)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	timeout := t.timeout
	dl, hasDeadline := ctx.Deadline()
	if hasDeadline {
		left := time.Until(dl)
		if left <= 0 {
			return nil, context.DeadlineExceeded
		}
		timeout = min(timeout, left)
	}
	if ctx.Done() == nil {
		return t.d.transceive(t.gen, capdu, timeout)
	}
	type result struct {
		rapdu []byte
		err   error
	}
	done := make(chan result, 1)
	tx := append([]byte(nil), capdu...) // the caller may reuse capdu once we return
	go func() {
		r, err := t.d.transceive(t.gen, tx, timeout)
		done <- result{r, err}
	}()
	select {
	case res := <-done:
		if res.err != nil && ctx.Err() != nil {
			// The deadline cut the exchange short: report that, not a
			// removal the tag may not have made.
			return nil, ctx.Err()
		}
		return res.rapdu, res.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close marks the tag closed; it does not touch the RF field or the tag.
func (t *Tag) Close() error {
	t.closed.Store(true)
	return nil
}

var (
	_ reader.Reader = (*Device)(nil)
	_ reader.Tag    = (*Tag)(nil)
)
