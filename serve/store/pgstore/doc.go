// Package pgstore is the PostgreSQL store of `tagline serve`: several serve
// instances share one database through their own pgxpool.Pool.
//
// # Invariants
//
// Those of package store, and:
//
//  1. The replay check is one conditional statement, never read-then-write:
//     UPDATE tagline_bindings SET last_ctr = $2 WHERE uid = $1 AND
//     key_version = $3 AND last_ctr < $2. Under READ COMMITTED, a
//     concurrent update of the same row makes PostgreSQL wait and re-check
//     the WHERE clause on the new row version, so of any number of taps of
//     one counter value, on any number of instances, exactly one updates
//     the row. The same statement reads the binding back (a CTE), so a tap
//     is one round trip.
//  2. A tap's answer comes after its transaction committed with
//     synchronous_commit as the server has it (on by default: the WAL is
//     flushed; PostgreSQL groups concurrent commits into one flush).
//  3. A sync upload is one transaction that first claims its idempotency
//     key (INSERT ... ON CONFLICT DO NOTHING): a second delivery of the
//     same key, on any instance, waits for the first to commit and then
//     reads its stored answer.
//  4. The schema is created by New under a transaction-scoped advisory lock,
//     so instances starting together do not race on DDL.
//
// # Schema (version 1)
//
// The Schema constant holds the DDL: tagline_bindings (current binding and last accepted
// counter per UID), tagline_records (every received record line, by
// station and seq), tagline_stations (highest seq received per station),
// tagline_idempotency (key, body hash, stored answer), tagline_conflicts
// (records another station's binding kept out, by station and seq, with
// the UID, the bound station, both as JSON and the detection time; a
// person resolves them there).
//
// A sync upload offers each UID's latest record of the chunk in one
// INSERT ... ON CONFLICT DO UPDATE WHERE same station AND higher seq
// (store invariant 4); the rows it leaves alone are locked by it, so the
// bindings then read to classify the rest as conflicts are those decided
// against, even when two stations upload the same new UID at once. A
// chunk that meets nothing held (no record in its seq range, no binding of
// its UIDs: the bulk of a journal's first sync) is instead written with
// two COPYs under a savepoint, every record new and every UID's latest
// record its binding; a row another transaction commits in between fails
// the COPY on the unique index, and the chunk then goes the INSERT way
// from the savepoint. Both ways write the UIDs in UID order, so two
// chunks of the same UIDs lock them in one order: one waits for the
// other, neither deadlocks.
//
// # Migrations
//
// The schema is versioned (migrate.go): tagline_schema_migrations holds
// each applied version. Version 1 is Schema itself (CREATE IF NOT
// EXISTS), so a database made before versioning is adopted in place with
// its data; 2 adds the tap history (tagline_taps, tagline_alerts); 3 the
// indexes the brand's view reads (tagline_taps (at) INCLUDE (result, sku,
// batch_id), so each of its GROUP BY queries over a time range is an
// index-only scan), tagline_idempotency (created_at) for pruning, and
// tagline_bindings (sku, batch_id); 4 the daily counts tagline_tap_days
// (UTC day, SKU, batch, result → n), backfilled from the taps kept, and
// kept by AppendTaps in the transaction of the taps it counts: the view
// reads them in one GROUPING SETS scan, whose cost follows days × SKUs ×
// batches, not taps. Pruning removes whole days from the counts. 5 adds
// the journal each station syncs from; 6 partitions tagline_taps by
// month of tap time (partitions.go): the history kept before becomes the
// partition tagline_taps_p0 of everything up to the month after both its
// newest tap and the migration, and each later month gets its partition
// tagline_taps_pYYYYMM on its first batch (this month's and the next are
// made when the history opens). A month's inserts touch only its
// partition's index, and pruning drops the months wholly before the
// retention instead of deleting their rows; the rest (the month that
// straddles it, and p0) is pruned by DELETE. The partitions' one index
// is BRIN on tap time (taps arrive in time order, and only pruning reads
// them). 7 adds the daily alert counts (tagline_alert_days), kept like
// the tap counts; 8 leaves a fifth of each binding page free, so that a
// tap's update of last_ctr stays on its page and touches no index; 9
// drops tagline_bindings (sku, batch_id), which no query reads since the
// view counts from the daily counts.
// Migrate applies each pending version
// once, in its own transaction under the schema's advisory lock. Online
// migrations (every one so far) run when serve opens the history; one
// that is not waits for `tagline serve migrate`, run while no instance
// serves. PruneIdempotency deletes idempotency records older than a time
// (serve: 30 days, hourly); a key replayed after that is applied again by
// seq, which changes nothing already applied.
//
// Taps are group-committed (taps.go): each committer decides the taps
// waiting when it is free in one statement, so one transaction and one
// WAL flush, and answers each only after it committed. The statement
// accepts; the taps it did not accept are read by a second one after its
// commit, as a statement per tap would have seen them after waiting. The
// committer runs on its own connection, taken out of the pool, with
// plan_cache_mode=force_generic_plan: the statements take arrays, and
// custom plans made PostgreSQL plan every group again. Only there: the
// sync statements need their custom plans (ten times slower without). Two taps of one tag
// never share a statement (the second waits for the next group), so every
// counter value is decided against the one before it, as with a statement
// per tap; across instances the row lock and READ COMMITTED's re-check do
// what they did for one tap.
package pgstore
