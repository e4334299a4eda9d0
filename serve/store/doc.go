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
//  4. The first binding of a UID is kept (Classify). A record replaces it
//     only if it comes from the binding's own station with a higher seq: a
//     re-encode there (batch invariant 4), which may change SKU, batch and
//     key version. A record of that station with a seq not above the
//     binding's changes nothing. A record of another station is a
//     conflict: it is never applied, whatever its SKU, key version, read
//     counter or completed_at, so no station can take over another's tags.
//     Replacing never lowers the UID's last accepted counter.
//  5. Every received record is kept once, by (station, seq), with its line
//     exactly as received: the backend's copy of each station's journal.
//  6. A conflict (invariant 4) is kept once, by the (station, seq) of its
//     record, with the binding it met, in the transaction that holds the
//     record; the sync answer counts the records of the chunk held as
//     conflicts. A conflict stays until a person resolves it in the store.
package store
