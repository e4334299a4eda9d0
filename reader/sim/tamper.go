package sim

import "github.com/tagline-station/tagline/sdm"

// TagTamper (NTAG 424 DNA TT): a wire loop the chip senses. A tag made
// with Options.TagTamper has the loop closed and tamper detection on from
// the factory (how a real TT chip's detection is enabled is not
// modelled); OpenTamperLoop opens it for good, as cutting the wire does.
// The chip mirrors two ASCII characters at TTStatusOffset when
// SDMOptions bit 3 is set: the permanent status ('O' once the loop was
// ever open) and the current one. A tag without TagTamper refuses that
// bit, as an NTAG 424 DNA does (RFU).

// tamperStatus is the two status characters; the caller holds mu.
func (t *Tag) tamperStatus() [2]byte {
	switch {
	case !t.opts.TagTamper:
		return [2]byte{'I', 'I'}
	case t.loopOpen:
		return [2]byte{'O', 'O'}
	case t.loopWasOpen:
		return [2]byte{'O', 'C'}
	}
	return [2]byte{'C', 'C'}
}

// OpenTamperLoop cuts the loop: from the next read on, the status is
// opened.
func (t *Tag) OpenTamperLoop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.loopOpen, t.loopWasOpen = true, true
}

// CloseTamperLoop closes the loop again (a rejoined wire); the permanent
// status keeps that it was opened.
func (t *Tag) CloseTamperLoop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.loopOpen = false
}

// TamperStatus is what the chip would mirror now, e.g. "CC".
func (t *Tag) TamperStatus() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.tamperStatus()
	return string(st[:])
}

// overlayTamper puts the status into a copy of the file content at
// TTStatusOffset, before the tag encrypts and MACs what it mirrors.
func (t *Tag) overlayTamper(s sdm.FileSettings, data []byte) []byte {
	if s.SDMOptions&sdm.OptTTStatus == 0 || int(s.TTOffset)+2 > len(data) {
		return data
	}
	st := t.tamperStatus()
	out := append([]byte(nil), data...)
	copy(out[s.TTOffset:], st[:])
	return out
}
