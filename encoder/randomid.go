package encoder

import (
	"context"
	"fmt"

	"github.com/tagline-station/tagline/apdu"
	"github.com/tagline-station/tagline/keys"
)

// StepRandomID is turning on random ID, the last change of a random-ID job.
const StepRandomID Step = "turn on random id"

// piccConfigRandomID is SetConfiguration option 00's PICC configuration
// byte with bit 1, UseRID, set (datasheet 10.5.1).
var piccConfigRandomID = []byte{0x02}

// EnableRandomID turns on random ID for good: SetConfiguration option 00
// in CommMode.Full under a session with the application master key. From
// the next activation the tag answers anticollision with a random 4-byte
// UID; GetCardUID and the SUN message still tell the real one. Sending it
// to a tag that has random ID on already changes nothing.
func (c *Conn) EnableRandomID(ctx context.Context) error {
	if s := c.sess; s == nil || s.KeyNo != keys.SlotAppMaster {
		return fmt.Errorf("turn on random id: needs a session with key 0")
	}
	if _, err := c.native(ctx, apdu.InsSetConfiguration, Full, []byte{0x00}, piccConfigRandomID); err != nil {
		return fmt.Errorf("turn on random id: %w", err)
	}
	return nil
}

// IsRandomUID reports an anticollision UID that random ID made: 4 bytes
// starting 08 (ISO/IEC 14443-3).
func IsRandomUID(uid []byte) bool { return len(uid) == 4 && uid[0] == 0x08 }

// randomIDPending says a random-ID job still has to turn it on: the reader
// did not see a random UID. A reader that reports no UID (behind vpcd)
// cannot tell, so the flow sends it again; that changes nothing on a tag
// that has it on.
func (p *personalisation) randomIDPending() bool {
	return p.job.RandomID && !IsRandomUID(p.job.ReaderUID)
}

// enableRandomID turns random ID on for a random-ID job, with a session
// with our key 0 (a new one when ChangeKey of key 0 ended it), before the
// switch to LRP, which ends the session, and before the read-back, so that
// a tag taken away before it is finished on its next presentation.
func (p *personalisation) enableRandomID(ctx context.Context) error {
	if !p.randomIDPending() {
		return nil
	}
	c := p.c
	if s := c.Session(); s == nil || s.KeyNo != keys.SlotAppMaster {
		if err := c.AuthenticateFirst(ctx, keys.SlotAppMaster, p.tagKeys.Keys[keys.SlotAppMaster]); err != nil {
			return p.fail(StepRandomID, err)
		}
	}
	if err := c.EnableRandomID(ctx); err != nil {
		return p.fail(StepRandomID, err)
	}
	return nil
}
