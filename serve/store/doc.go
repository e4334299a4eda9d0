// Package store is the storage interface of `tagline serve` and the rules
// every implementation follows; boltstore (an embedded bbolt file, the
// default) and pgstore (PostgreSQL, shared by several serve instances)
// implement it.
//
// # Invariants
//
//  1. A tap is accepted at most once per (UID, counter): Tap accepts a read
//     counter only if it is strictly greater than the last accepted one
//     for the UID (initially the binding's read_ctr, the counter the
//     station saw when it verified the tag), and the check and the update
//     are one atomic step: a single conditional statement in PostgreSQL, a
//     single writer transaction in bbolt. A stale read may reject early,
//     never accept.
//  2. An accepted counter is durable before Tap returns.
//  3. A sync upload is applied at most once per idempotency key, with the
//     records, the bindings and the stored answer in one transaction; a key
//     seen before returns the stored answer, or ErrIdempotencyConflict if
//     the body differs.
//  4. Bindings never roll back: a record replaces the current binding of
//     its UID only if it comes from the same station with a higher seq, or
//     from another station with a later completed_at (a re-encode
//     elsewhere). Replacing never lowers the UID's last accepted counter.
//  5. Every received record is kept once, by (station, seq), with its line
//     exactly as received: the backend's copy of each station's journal.
package store
