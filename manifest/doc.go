// Package manifest is the record format tagline writes for people and
// machines outside the station: the binding, the words for what happened
// to a tag, the manifest a batch is exported as (MANIFEST.md), and the
// sync chunk a station sends its backend, which carries the same record
// lines.
//
// # Invariants
//
//  1. One record, one line, one set of bytes: AppendRecord writes a
//     binding's line for manifests and sync chunks alike, and the same
//     binding always gives the same bytes (field order fixed, times in UTC
//     with RFC 3339 nanoseconds, strings escaped as encoding/json would,
//     nothing HTML-escaped). Checksums cover these bytes.
//  2. No field holds a line break: every text a record carries passes
//     CheckText (printable, at most MaxNameLen bytes) where it enters the
//     journal, and AppendString escapes what a damaged value might hold.
//  3. A receiver trusts nothing: ParseChunk reads lines bounded by MaxLine,
//     refuses the whole chunk on one bad line (ErrChunk), and returns
//     records only after the trailer's count, checksum and cursor agreed.
//     What it accepts is what encoding/json accepts: lines in
//     AppendRecord's own form are read without reflection (canonical.go),
//     and only where encoding/json reads the same values (fuzzed).
//  4. Outcome words are spelled once, here, and Outcome.Passed is the one
//     meaning of PASS.
//  5. A UID has one form above the chip, UID (upper-case hex); UIDOf is
//     the one way to it from the chip's bytes, and ParseUID from what a
//     person typed.
//
// # Sync chunks (tagline-sync/1)
//
// A chunk is the JSON Lines manifest of MANIFEST.md with a sync header:
// line 1 the header, then one record per binding exactly as a manifest
// holds it (AppendRecord: same keys, same order, "type":"binding", with
// "seq"), then the trailer:
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
// '\n'. AppendChunk writes a chunk and ParseChunk reads and checks one
// (syncer sends them; serve receives them).
//
// # Record rules
//
// A receiver refuses the whole chunk (ErrChunk; serve answers 422), before
// storing anything, when one line is not valid UTF-8 or one record breaks a
// rule: uid 7 bytes as 14 upper-case hex digits (the UID a tap carries);
// seq 1 to 2^63−1 (and since at most that); sku, batch_id and station_id
// present, at most MaxNameLen (64) bytes, printable (no control or format
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
package manifest
