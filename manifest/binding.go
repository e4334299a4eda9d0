package manifest

import "time"

// Outcome is what happened to one tag, in the words every output of
// tagline uses: the station's result and screen, encode's and rekey's
// JSON, the journal's counts, the records of manifests and sync chunks.
// The words are part of the stable JSON; each is spelled here once.
type Outcome string

const (
	// Encoded: personalised now, read back and journaled.
	Encoded Outcome = "encoded"
	// Finished: an earlier, torn attempt on the tag was completed.
	Finished Outcome = "finished"
	// Verified: as Encoded, and a SUN message from the finished tag was
	// checked against its new keys. What a binding the station writes
	// says.
	Verified Outcome = "verified"
	// Duplicate: the tag is already bound; nothing was written.
	Duplicate Outcome = "duplicate"
	// Failed: the tag is not done; the reason says why and what to do.
	Failed Outcome = "failed"
	// Rekeyed: moved to the new key version now.
	Rekeyed Outcome = "rekeyed"
	// Reclaimed: returned to the factory state now.
	Reclaimed Outcome = "reset"
	// AlreadyDone: nothing to do; the tag was at the version, or factory.
	AlreadyDone Outcome = "already"
	// Refused: not provably ours; untouched.
	Refused Outcome = "refused"
	// Quarantined: unknown to the journal; untouched, and journaled.
	Quarantined Outcome = "quarantined"
)

// Passed says the tag needs nothing more: the one meaning of PASS on the
// screen, in the tallies, the indicator LED and the exit code.
func (o Outcome) Passed() bool {
	switch o {
	case Encoded, Finished, Verified, Rekeyed, Reclaimed, AlreadyDone:
		return true
	}
	return false
}

// Binds says a binding may carry o: a binding claims a finished tag.
func (o Outcome) Binds() bool { return o == Encoded || o == Verified }

// Binding is the durable record that a tag left the line personalised:
// what the journal keeps, a manifest lists, a sync chunk carries and the
// backend verifies taps against. MasterKCV is a key check value; key bytes
// never reach a binding.
type Binding struct {
	UID          UID     `json:"uid"`
	SKU          string  `json:"sku"`
	BatchID      string  `json:"batch_id"`
	StationID    string  `json:"station_id"`
	KeyVersion   byte    `json:"key_version"`
	MasterKCV    string  `json:"master_kcv"`
	TemplateHash string  `json:"template_hash"`
	Outcome      Outcome `json:"outcome"`
	Attempts     int     `json:"attempts"`
	ReadCtr      uint32  `json:"read_ctr"`
	// Simulated is the batch's mark, derived from the batch record where
	// bindings leave the journal (Pending, Export); the journal does not
	// store it with the binding.
	Simulated   bool      `json:"simulated,omitempty"`
	StartedAt   time.Time `json:"started_at"`
	CompletedAt time.Time `json:"completed_at"`
	Seq         uint64    `json:"seq"`
}
