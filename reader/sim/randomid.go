package sim

import (
	"crypto/rand"

	"github.com/tagline-station/tagline/apdu"
	"github.com/tagline-station/tagline/sdm"
)

// Random ID (UID privacy, datasheet 10.5.1): SetConfiguration option 00
// with bit 1 of the PICC configuration byte set turns it on for good.
// From the next activation the tag answers anticollision with a fresh
// 4-byte random UID starting 08 (ISO/IEC 14443-3 single size, "random
// ID"); the real UID is told only inside a session, by GetCardUID and the
// SUN message. The random bytes come from crypto/rand, never from
// Options.Rand, whose draw order transcripts depend on.

// PICCConfigRandomID is the PICC configuration bit that turns on random ID.
const PICCConfigRandomID = 0x02

// setPICCConfiguration answers SetConfiguration option 00: CommMode.Full
// under a session with key 0, one configuration byte. Only the random-ID
// bit is modelled; it cannot be cleared.
func (t *Tag) setPICCConfiguration(data []byte) []byte {
	if t.sess == nil || t.sess.KeyNo != 0 {
		return t.fail(apdu.SWAuthError)
	}
	hdr, body, sw := t.unwrap(apdu.InsSetConfiguration, data, 1, sdm.CommModeFull)
	switch {
	case sw != 0:
		return t.fail(sw)
	case hdr[0] != 0x00:
		return t.fail(apdu.SWParameterError)
	case len(body) != 1:
		return t.fail(apdu.SWLengthError)
	}
	if body[0]&PICCConfigRandomID != 0 && !t.randomID {
		t.randomID = true
		t.nvm++
	}
	return t.wrap(sdm.CommModeFull, nil)
}

// drawRandomID picks the UID of a new activation; the caller holds mu.
func (t *Tag) drawRandomID() {
	if !t.randomID {
		return
	}
	u := make([]byte, 4)
	if _, err := rand.Read(u[1:]); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	u[0] = 0x08
	t.ridUID = u
}

// RealUID is the tag's 7-byte UID, whatever it answers at anticollision.
func (t *Tag) RealUID() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]byte(nil), t.uid...)
}

// RandomID reports whether random ID is on.
func (t *Tag) RandomID() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.randomID
}
