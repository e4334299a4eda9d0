// Package boltstore is the embedded store of `tagline serve`: one bbolt
// file, for a single serve instance.
//
// # Invariants
//
// Those of package store, and:
//
//  1. Taps that pass the read-only pre-check are queued to one committer
//     goroutine. It decides the queued taps in order against the last
//     accepted counters (bbolt, plus those accepted since the last
//     checkpoint, kept in memory), writes the accepted ones to the tap log
//     (taplog.go) with one write and one fdatasync (after holding the group
//     open up to Options.GroupWait, 200µs, for more taps), and only then answers
//     them: group commit, one fsync for many taps, no tap answered before
//     its counter is durable. A failed write fails every tap of its group.
//  2. A checkpointer goroutine moves the counters of the tap log into the
//     ctr bucket (one bbolt transaction, max with what is there) every
//     CheckpointEvery, and only then lets their log slots be reused. Open
//     replays the whole log the same way, so a crash loses no accepted
//     counter.
//  3. The pre-check runs in a read-only transaction and only ever rejects
//     (unknown tag, other key version, counter not above the last
//     accepted); the last accepted counter never decreases, so a rejection
//     from a slightly stale view is still right.
//
// # File layout (format 1)
//
//	meta      "magic" = "tagline-serve", "format" = "1"
//	bindings  UID → binding (binary v1, below)
//	ctr       UID → last accepted read counter, uint32 big-endian
//	records   station ‖ 0x00 ‖ seq (uint64 big-endian) → record line as received
//	stations  station → highest acked seq, uint64 big-endian
//	idem      idempotency key → SHA-256 of the body (32 bytes) ‖ JSON answer
//	conflicts station ‖ 0x00 ‖ seq (uint64 big-endian) of the refused record
//	          → JSON of store.ConflictRecord (record, binding kept, detected_at)
//
// and next to the file, <path>.taplog (taplog.go). Open adds a missing
// bucket (conflicts, to files of earlier releases) without changing the
// format number: older readers ignore it.
//
//	binding v1: 0x01 uid sku batch_id station_id master_kcv template_hash
//	            outcome (each uvarint length + bytes) seq:uvarint
//	            key_version:byte read_ctr:uvarint completed_at:varint Unix ns
package boltstore
