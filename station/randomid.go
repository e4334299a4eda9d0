package station

import "github.com/tagline-station/tagline/keys"

// randomIDKnown are the derivations of the journal's random-ID batches,
// for a run not limited to one batch: a random-ID tag whose SUN message is
// gone is named through its key 1 (encoder's sessionUID), which needs the
// derivation. A journal without random-ID batches gives none, so such a
// run behaves as before.
func (l *Life) randomIDKnown() []*keys.Deriver {
	bs, err := l.cfg.Journal.ListBatches()
	if err != nil {
		return nil
	}
	var out []*keys.Deriver
	for _, b := range bs {
		if !b.RandomID {
			continue
		}
		if d, err := l.deriver(b, b.KeyVersion); err == nil {
			out = append(out, d)
		}
	}
	return out
}

// randomIDRun: the run's tags may have random ID on (its batch is a
// random-ID batch, or, not limited to one, the journal holds one).
func (l *Life) randomIDRun() bool {
	if l.cfg.Batch != nil {
		return l.cfg.Batch.RandomID
	}
	return len(l.randomIDKnown()) > 0
}
