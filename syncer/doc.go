// Package syncer is the engine of `tagline sync`: it pushes the journal's
// bindings that the brand's backend has not acknowledged to an HTTP
// endpoint (serve's POST /v1/sync), in seq order and in chunks, and moves
// the journal's durable cursor (batch.Store.Ack) only after the backend has
// acknowledged them.
//
// # Invariants
//
//  1. Nothing is marked synced before the remote acknowledged it: Ack is
//     called only with the acked_seq of a 2xx answer, and only when that
//     seq lies inside the chunk just sent (else ErrBadAck, and the cursor
//     stays). A partial ack moves the cursor to the acked seq and the next
//     chunk starts right after it.
//  2. Offline first: a sync holds no journal lock. It reads pending records
//     in one read-only transaction (Pending), sends them with no
//     transaction open, and records an ack in one short write. A station
//     that cannot reach the backend keeps encoding; the next run resumes at
//     the cursor.
//  3. Retries are safe: each chunk carries an Idempotency-Key naming the
//     station and its first and last seq. Journal records never change
//     (batch invariant 4), so a retry sends identical bytes under the same
//     key, and a backend that already applied it answers the stored ack.
//  4. A chunk is retried on transport errors, timeouts (Options.
//     RequestTimeout per attempt), 408, 429 and 5xx, with exponential
//     backoff and jitter, at most Options.MaxAttempts times; any other 4xx
//     stops the run (ErrRejected), since sending the same bytes again
//     cannot change the answer.
//  5. The position is the backend's. The journal's cursor says what the
//     last backend acknowledged; before sending (Options.AskPosition: tagline
//     sync always, the station at its start and after the backend was
//     away), Run asks the backend what it holds from the station
//     (GET <endpoint>/position?station=S) and sends from there when that is
//     less (a new backend, one restored from
//     a backup). A chunk that starts after what the backend holds is
//     answered 409 with its position (GapError) and Run sends from there;
//     each such answer must move the start back, so it cannot loop. The
//     cursor itself never moves back. Options.Resend sends everything from
//     the first record; the backend takes records it holds as the same
//     records again.
//
// # Wire format (tagline-sync/1)
//
// A chunk is the JSON Lines manifest of MANIFEST.md (batch package) with a
// sync header: line 1 the header, then one record per binding exactly as
// batch.Store.Export writes it (same keys, same order, "type":"binding",
// with "seq"), then the trailer:
//
//	{"type":"header","format":"tagline-sync/1","station":"line-1","since":1000}
//	{"type":"binding","seq":1001,"uid":"04A1B2C3D4E5F6","sku":"CAP-30-BLUE",...,"completed_at":"2026-03-02T08:00:05Z"}
//	...
//	{"type":"trailer","count":500,"sha256":"<hex>","next_since":1500}
//
// The header names the station whose journal the records come from and
// since, the cursor the chunk starts after (records have seq > since, in
// strictly ascending order, and all carry station_id = station). Unlike a
// manifest, a chunk spans batches: the journal's seq is global. The
// trailer is the manifest trailer: count is the number of record lines,
// sha256 the lower-case hex SHA-256 of the record lines exactly as sent
// (each with its '\n'), next_since the seq of the last record. Lines end in
// '\n'. The body is sent as
//
//	POST <endpoint>
//	Content-Type: application/x-ndjson
//	Authorization: Bearer <token>
//	Idempotency-Key: <station>:<first seq>-<last seq>
//
// and a remote acknowledges with a 2xx JSON object naming the highest seq
// it now holds durably, of this chunk:
//
//	{"station":"line-1","acked_seq":1500, ...}
//
// Further keys are ignored. A header Idempotent-Replayed: true says the
// answer was the stored one of an earlier delivery. ParseChunk (and
// ParseChunkWith, with an injectable clock) is the receiving side's parser
// and validator; AppendChunk the sending side's writer.
//
// # Record rules
//
// A receiver refuses the whole chunk (ErrChunk; serve answers 422), before
// storing anything, when one line is not valid UTF-8 or one record breaks a
// rule: uid 7 bytes as 14 upper-case hex digits (the UID a tap carries);
// seq 1 to 2^63−1 (and since at most that); sku, batch_id and station_id
// present, at most MaxTextLen (64) bytes, printable (no control or format
// characters, tab included); key_version 1 to 255; read_ctr at most
// MaxReadCtr (0xFFFFFE: the station reads the tag back right after
// enabling SDM resets its 24-bit counter, and 0xFFFFFF is an exhausted
// counter no tap can follow); outcome encoded or verified; attempts 0 to
// MaxAttempts; master_kcv upper-case hex of at most 8 bytes; template_hash
// empty or a lower-case hex SHA-256; completed_at present. A completed_at
// or started_at more than Limits.ClockSkew (default 5 minutes) after the
// receiver's clock is refused with ErrClockAhead: the station's clock runs
// ahead; records never change, so the record is accepted once the
// receiver's time reaches it.
package syncer
