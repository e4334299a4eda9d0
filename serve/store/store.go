package store

import (
	"context"
	"errors"
	"time"

	"github.com/tagline-station/tagline/manifest"
)

// FromRecord is the binding a sync record describes: what a backend keeps
// of it (not attempts, started_at or the simulated mark), times in UTC.
func FromRecord(r *manifest.Record) manifest.Binding {
	return manifest.Binding{
		UID: r.UID, SKU: r.SKU, BatchID: r.BatchID, StationID: r.StationID, Seq: r.Seq,
		KeyVersion: r.KeyVersion, MasterKCV: r.MasterKCV, TemplateHash: r.TemplateHash,
		Outcome: r.Outcome, ReadCtr: r.ReadCtr, CompletedAt: r.CompletedAt.UTC(),
	}
}

// Verdict is what a record does to the current binding of its UID
// (invariant 4).
type Verdict int

const (
	// Bind: the record becomes the binding (no binding yet, or a
	// re-encode at the binding's own station: a higher seq).
	Bind Verdict = iota
	// Keep: a record of the binding's station with a seq not above the
	// binding's (the same record again, or one a re-encode superseded);
	// nothing changes.
	Keep
	// Conflict: another station's record; it is not applied but kept as a
	// conflict for a person to resolve.
	Conflict
)

// Classify decides what incoming does to current, the UID's binding
// (invariant 4). The first binding of a UID is kept: only its own station
// may replace it.
func Classify(incoming, current *manifest.Binding) Verdict {
	switch {
	case incoming.StationID != current.StationID:
		return Conflict
	case incoming.Seq > current.Seq:
		return Bind
	}
	return Keep
}

// ConflictRecord is a record that was not applied because another
// station's binding holds its UID (Verdict Conflict).
type ConflictRecord struct {
	Record     manifest.Binding `json:"record"` // as received
	Bound      manifest.Binding `json:"bound"`  // the binding kept, when the record arrived
	DetectedAt time.Time        `json:"detected_at"`
}

// Upload is a validated sync chunk with its idempotency key.
type Upload struct {
	Key        string // Idempotency-Key
	BodySHA256 string // of the whole body, to tell a retry from a key reused for other data
	Chunk      *manifest.Chunk
}

// SyncAck is the stored answer to an upload.
type SyncAck struct {
	Station  string `json:"station"`
	AckedSeq uint64 `json:"acked_seq"`
	Count    int    `json:"count"`    // records in the chunk
	New      int    `json:"new"`      // records not held before
	Bindings int    `json:"bindings"` // current bindings created or replaced
	// Conflicts counts the records not applied because another station's
	// binding holds their UID; they are kept for a person to resolve.
	Conflicts int `json:"conflicts"`
}

// Applied is ApplySync's answer.
type Applied struct {
	Ack SyncAck
	// Replayed: Ack is the stored answer of an earlier delivery; nothing
	// was applied now.
	Replayed bool
	// Conflicts are the records of this delivery held as conflicts (empty
	// when Replayed).
	Conflicts []ConflictRecord
}

// TapResult is what Tap decided.
type TapResult int

const (
	// Unknown: no binding for the UID; nothing was written.
	Unknown TapResult = iota
	// Accepted: the counter was above the last accepted and is now the
	// last accepted, durably.
	Accepted
	// Replayed: the counter was not above the last accepted.
	Replayed
	// OtherKeyVersion: the binding names another key version than the one
	// the tap was verified with; nothing was written. The caller may verify
	// again with Binding.KeyVersion.
	OtherKeyVersion
)

func (r TapResult) String() string {
	switch r {
	case Accepted:
		return "accepted"
	case Replayed:
		return "replayed"
	case OtherKeyVersion:
		return "other_key_version"
	}
	return "unknown"
}

// Tap is Tap's answer.
type Tap struct {
	Result  TapResult
	Binding manifest.Binding // set unless Unknown
	// LastCtr is the last accepted counter after the call.
	LastCtr uint32
}

// Errors shared by the stores.
var (
	// ErrIdempotencyConflict: the key was used before for another body.
	ErrIdempotencyConflict = errors.New("idempotency key reused with a different body")
	ErrClosed              = errors.New("store is closed")
	// ErrOtherJournal: the station is synced from another journal already.
	ErrOtherJournal = errors.New("station is synced from another journal")
)

// Store is the backend's storage.
type Store interface {
	// ApplySync applies an upload once per key (invariants 3–6).
	ApplySync(ctx context.Context, up Upload) (Applied, error)
	// Position is the highest seq acknowledged to a station: where its
	// next upload must start (0 for a station this backend never heard
	// of, such as after a move to a new backend).
	Position(ctx context.Context, station string) (uint64, error)
	// ClaimJournal records that station syncs from journal, the first
	// time; afterwards another journal claiming the station gets
	// ErrOtherJournal (with the journal that holds it), and the same
	// journal gets nil.
	ClaimJournal(ctx context.Context, station, journal string) (owner string, err error)
	// Conflicts returns up to limit conflicts, oldest first by station and
	// seq, and how many are held in all (invariant 6).
	Conflicts(ctx context.Context, limit int) (list []ConflictRecord, total int, err error)
	// Tap records a verified read counter of a tag (invariants 1–2).
	// keyVersion is the version whose keys verified the SUN message.
	Tap(ctx context.Context, uid string, ctr uint32, keyVersion byte) (Tap, error)
	// Lookup returns the current binding and last accepted counter.
	Lookup(ctx context.Context, uid string) (b manifest.Binding, lastCtr uint32, ok bool, err error)
	// Ping checks that the store can serve.
	Ping(ctx context.Context) error
	Close() error
}
