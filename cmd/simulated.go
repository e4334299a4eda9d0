package cmd

import (
	"errors"
	"fmt"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/reader"
)

// markSimulated keeps simulated and real tags apart: a run takes either
// the simulated reader or real ones, a batch that takes simulated tags is
// marked so (for good) before its first one, and a marked batch takes no
// real tag. b is updated with the mark.
func (e *env) markSimulated(store *batch.Store, b *batch.Batch, specs []readerSpec, allReaders bool) error {
	sim, real := 0, 0
	for _, sp := range specs {
		if sp.Kind == reader.KindSim {
			sim++
		} else {
			real++
		}
	}
	if allReaders {
		real++
	}
	switch {
	case sim > 0 && real > 0:
		return usageErrorf("run the simulated reader on a batch of its own (tagline demo makes one), real readers on another",
			"%w: this run names both", batch.ErrMixedReaders)
	case sim > 0 && !b.Simulated:
		if err := store.MarkSimulated(b.ID); err != nil {
			if errors.Is(err, batch.ErrMixedReaders) {
				return usageErrorf("simulated tags go into a batch of their own: tagline batch new makes one (tagline demo too)", "%w", err)
			}
			return err
		}
		b.Simulated = true
	case real > 0 && b.Simulated:
		return usageErrorf("real tags go into a batch of their own: tagline batch new makes one",
			"%w: batch %s holds simulated tags", batch.ErrMixedReaders, b.ID)
	}
	return nil
}

// simulatedNote is what the operator is told of a simulated batch.
func simulatedNote(b batch.Batch) string {
	return fmt.Sprintf("tagline: note: batch %s is simulated: its tags are marked so in manifests and sync, and a backend refuses them unless started with --accept-simulated\n", b.ID)
}
