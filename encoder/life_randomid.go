package encoder

import (
	"context"
	"fmt"

	"github.com/tagline-station/tagline/keys"
)

// sessionUID names a random-ID tag that no SUN message of ours names any
// more (a reset torn after it emptied the NDEF file, or a rekey torn
// between keys 1 and 2): its real UID is told only inside a session. Key
// 1, the meta-read key, is the one key of ours that does not depend on
// the UID, so the version it reports names the one key to try: ours at
// that version, or the factory key at version 0 (a reset got that far).
// It is tried only for a run that may hold random-ID tags, on a tag whose
// GetVersion names no UID, and with one derivation to choose from; the
// journal must still vouch for the UID it learns. The session is ended
// again, so the flow goes on as for any tag.
func (f *lifeFlow) sessionUID(ctx context.Context, known []*keys.Deriver) ([]byte, error) {
	if len(known) == 0 {
		return nil, f.fail(StepInspect, fmt.Errorf("%w: a random-ID tag whose sun message is gone; give the batch (--batch) so its key 1 can name it", ErrNoUID))
	}
	d := known[0]
	for _, k := range known[1:] {
		if k.Scheme() != d.Scheme() {
			return nil, f.fail(StepInspect, fmt.Errorf("%w: a random-ID tag whose sun message is gone, and two derivations could hold its key 1; nothing was tried", ErrNoUID))
		}
	}
	c := f.c
	v, err := c.GetKeyVersion(ctx, keys.SlotSDMMeta)
	if err != nil {
		return nil, f.fail(StepKeyVersion, err)
	}
	k := keys.FactoryKey
	if v != 0 {
		dv, err := d.ForVersion(v)
		if err != nil {
			return nil, f.fail(StepKeyVersion, err)
		}
		k = dv.MetaRead()
	}
	if err := c.AuthenticateFirst(ctx, keys.SlotSDMMeta, k); err != nil {
		return nil, f.fail(StepAuth, err)
	}
	uid, err := c.GetCardUID(ctx)
	if err != nil {
		return nil, f.fail(StepUID, err)
	}
	if err := c.SelectApplication(ctx); err != nil {
		return nil, f.fail(StepUID, err)
	}
	return uid, nil
}
