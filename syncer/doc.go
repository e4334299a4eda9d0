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
// The chunks it sends are manifest.AppendChunk's (the manifest package
// documents the format and the record rules a receiver applies), posted as
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
// answer was the stored one of an earlier delivery.
package syncer
