package cmd

import (
	"crypto/ecdsa"

	"github.com/tagline-station/tagline/encoder"
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/reader/sim"
)

// genuineKeys says whose originality signature makes a chip genuine for a
// run: NXP's, always; and the simulator's test key only when the run's
// readers are all the simulated one, or the batch is a test batch (never
// shipped: its trial tags may be simulated ones behind a virtual PC/SC
// reader). A run never mixes simulated and real readers (markSimulated
// refuses it), so this holds lane by lane: a tag of a real batch on a real
// reader that carries the test key's signature is refused.
func genuineKeys(specs []readerSpec, allReaders, testBatch bool) []*ecdsa.PublicKey {
	trusted := []*ecdsa.PublicKey{encoder.NXPOriginalityKey()}
	if testBatch {
		return append(trusted, sim.OriginalityTestKey())
	}
	if allReaders || len(specs) == 0 {
		return trusted
	}
	for _, sp := range specs {
		if sp.Kind != reader.KindSim {
			return trusted
		}
	}
	return append(trusted, sim.OriginalityTestKey())
}

// verifyGenuine is what verify trusts for tags presented to its reader;
// a URL file has no chip to ask.
func verifyGenuine(urls string, spec readerSpec, testBatch bool) []*ecdsa.PublicKey {
	if urls != "" {
		return nil
	}
	return genuineKeys([]readerSpec{spec}, false, testBatch)
}
