package sim

import (
	"bytes"
	"time"

	"github.com/tagline-station/tagline/apdu"
)

// Fault rewrites the tag's answer to one exchange on its way to the
// reader: it gets the command and the answer the tag gave (after executing
// the command, with all its effects) and returns what the reader receives.
// A nil result is delivered as an empty answer, not as a departure.
type Fault func(capdu, resp []byte) []byte

// Tamper is a fault hook: the n-th exchange from now (n ≥ 1) runs as
// usual and f rewrites its answer. With n = 0, f rewrites every answer
// from now on, for the life of the tag (a hostile or foreign card);
// Tamper(0, nil) ends that.
func (t *Tag) Tamper(n int, f Fault) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n <= 0 {
		t.always = f
		return
	}
	t.tamperAt, t.tamper = t.exchanges+n, f
}

// Stall is a fault hook: the n-th exchange from now (n ≥ 1) is executed,
// but its answer reaches the reader only after d, as from a card that
// hangs. A reader's Transmit gives up when its context ends first.
func (t *Tag) Stall(n int, d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stallAt, t.stallFor = t.exchanges+max(n, 1), d
}

// ChangeUID is a fault hook: from the n-th exchange from now (n ≥ 1) the
// tag is uid (7 bytes) in every answer that names its UID (SUN mirror,
// GetCardUID, GetVersion) and to the reader's anticollision, as a hostile
// card or another tag slipped in mid-flow would be.
func (t *Tag) ChangeUID(n int, uid []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(uid) != 7 {
		return
	}
	t.uidAt, t.nextUID = t.exchanges+max(n, 1), bytes.Clone(uid)
}

// Replace answers b instead (garbage).
func Replace(b []byte) Fault {
	return func(_, _ []byte) []byte { return bytes.Clone(b) }
}

// Truncate keeps the first n bytes of the answer (too short).
func Truncate(n int) Fault {
	return func(_, r []byte) []byte { return bytes.Clone(r[:min(n, len(r))]) }
}

// Extend inserts n bytes of filler before the status word (too long).
func Extend(n int) Fault {
	return func(_, r []byte) []byte {
		if len(r) < 2 {
			return append(bytes.Repeat([]byte{0xA5}, n), r...)
		}
		out := append(bytes.Clone(r[:len(r)-2]), bytes.Repeat([]byte{0xA5}, n)...)
		return append(out, r[len(r)-2:]...)
	}
}

// WithStatus keeps the answer's data and replaces its status word.
func WithStatus(sw apdu.StatusWord) Fault {
	return func(_, r []byte) []byte {
		if len(r) < 2 {
			return sw.Bytes()
		}
		return append(bytes.Clone(r[:len(r)-2]), sw.Bytes()...)
	}
}

// FlipLastData flips the last data byte before the status word: the last
// byte of a response MAC in a MACed answer, or of the data in a plain one.
func FlipLastData(_, r []byte) []byte {
	out := bytes.Clone(r)
	if len(out) > 2 {
		out[len(out)-3] ^= 0x01
	}
	return out
}

// Type2Tag is, with Tamper(0, …), a card that is not ISO 14443-4 at all
// (an NFC Forum Type 2 tag): a PC/SC reader answers every APDU sent to it
// with 63 00, "operation failed".
func Type2Tag(_, _ []byte) []byte { return []byte{0x63, 0x00} }

// OtherISOCard is, with Tamper(0, …), an ISO 14443-4 card without the
// NTAG 424 DNA's NDEF application: it refuses the SELECT by name with
// 6A 82 (file not found) and every native command with 6E 00 (class not
// supported).
func OtherISOCard(c, _ []byte) []byte {
	switch {
	case len(c) > 1 && c[0] == apdu.ClaISO && c[1] == apdu.InsSelect:
		return apdu.SWISOFileNotFound.Bytes()
	case len(c) > 0 && c[0] == apdu.ClaISO:
		return apdu.SWISOInsNotSupported.Bytes()
	}
	return apdu.SWISOClaNotSupported.Bytes()
}
