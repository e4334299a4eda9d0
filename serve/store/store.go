package store

import (
	"context"
	"errors"
	"time"

	"github.com/tagline-station/tagline/syncer"
)

// Binding is the backend's current binding of a tag.
type Binding struct {
	UID          string    `json:"uid"`
	SKU          string    `json:"sku"`
	BatchID      string    `json:"batch_id"`
	StationID    string    `json:"station_id"`
	Seq          uint64    `json:"seq"`
	KeyVersion   byte      `json:"key_version"`
	MasterKCV    string    `json:"master_kcv"`
	TemplateHash string    `json:"template_hash"`
	Outcome      string    `json:"outcome"`
	ReadCtr      uint32    `json:"read_ctr"`
	CompletedAt  time.Time `json:"completed_at"`
}

// FromRecord is the binding a sync record describes.
func FromRecord(r *syncer.Record) Binding {
	return Binding{
		UID: r.UID, SKU: r.SKU, BatchID: r.BatchID, StationID: r.StationID, Seq: r.Seq,
		KeyVersion: r.KeyVersion, MasterKCV: r.MasterKCV, TemplateHash: r.TemplateHash,
		Outcome: string(r.Outcome), ReadCtr: r.ReadCtr, CompletedAt: r.CompletedAt.UTC(),
	}
}

// Replaces reports whether incoming replaces current as a UID's binding
// (invariant 4).
func Replaces(incoming, current *Binding) bool {
	if incoming.StationID == current.StationID {
		return incoming.Seq > current.Seq
	}
	return incoming.CompletedAt.After(current.CompletedAt)
}

// Upload is a validated sync chunk with its idempotency key.
type Upload struct {
	Key        string // Idempotency-Key
	BodySHA256 string // of the whole body, to tell a retry from a key reused for other data
	Chunk      *syncer.Chunk
}

// SyncAck is the stored answer to an upload.
type SyncAck struct {
	Station  string `json:"station"`
	AckedSeq uint64 `json:"acked_seq"`
	Count    int    `json:"count"`    // records in the chunk
	New      int    `json:"new"`      // records not held before
	Bindings int    `json:"bindings"` // current bindings created or replaced
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
	Binding Binding // set unless Unknown
	// LastCtr is the last accepted counter after the call.
	LastCtr uint32
}

// Errors shared by the stores.
var (
	// ErrIdempotencyConflict: the key was used before for another body.
	ErrIdempotencyConflict = errors.New("idempotency key reused with a different body")
	ErrClosed              = errors.New("store is closed")
)

// Store is the backend's storage.
type Store interface {
	// ApplySync applies an upload once per key (invariants 3–5). replayed
	// reports an answer returned from an earlier delivery.
	ApplySync(ctx context.Context, up Upload) (ack SyncAck, replayed bool, err error)
	// Tap records a verified read counter of a tag (invariants 1–2).
	// keyVersion is the version whose keys verified the SUN message.
	Tap(ctx context.Context, uid string, ctr uint32, keyVersion byte) (Tap, error)
	// Lookup returns the current binding and last accepted counter.
	Lookup(ctx context.Context, uid string) (b Binding, lastCtr uint32, ok bool, err error)
	// Ping checks that the store can serve.
	Ping(ctx context.Context) error
	Close() error
}
