// Package boltstore is the embedded store of `tagline serve`: one bbolt
// file, for a single serve instance.
//
// # Invariants
//
// Those of package store, and:
//
//  1. Taps that pass the read-only pre-check are queued to one committer
//     goroutine. It takes what is queued as a group (held open up to
//     200µs for more), decides the taps in order against the last
//     accepted counters (bbolt, plus the overlay: those accepted since the
//     last checkpoint, in memory), writes the accepted ones to the tap log
//     (taplog.go) with one write and one fdatasync, and only then answers
//     them: no tap answered before its counter is durable. A failed write
//     fails every tap of its group.
//  2. When the next group would not fit in the tap log, and at Close, the
//     committer moves the overlay into the ctr bucket (one bbolt
//     transaction, max with what is there), and only then writes the log
//     from its first slot again. Open replays the whole log the same way,
//     so a crash (TestAcceptedTapSurvivesAKill kills a process right after
//     its Tap returned) loses no accepted counter.
//  3. The pre-check runs in a read-only transaction and only ever rejects
//     (unknown tag, other key version, counter not above the last
//     accepted); the last accepted counter never decreases, so a rejection
//     from a slightly stale view is still right.
//
// # Why a tap log and not bbolt's Batch
//
// Each Tap as a db.Batch call (the check and the update in one writer
// transaction; MaxBatchSize 256, MaxBatchDelay 1ms) needs about 250 lines
// less, but a bbolt commit writes every dirty B+tree page and syncs twice,
// and taps are spread over many pages; the tap log writes 24 bytes a tap
// and syncs once. Measured on the project's 2-core machine under the load
// of other work (load average 8–22), each store alternating with the
// others, three rounds of
//
//	go test -run '^$' -bench 'BenchmarkTaps/store=bolt' -benchtime 5s ./serve/
//
// taps/s summed over the five clients and three rounds:
//
//	                          first run   second run
//	ring tap log (before)        27,989       53,418
//	bbolt Batch                  15,928       32,605   (0.57 and 0.61)
//	this tap log                      —       69,925   (1.31; load fell in its last round)
//
// MaxBatchDelay 300µs (4 taps a commit) or 3ms (30), NoFreelistSync with
// the map freelist, and a committer goroutine over db.Update instead of
// Batch did not close the gap. The figures on a quiet machine are in
// README.md.
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
