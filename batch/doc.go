// Package batch is the station's journal: one bbolt file that binds every
// tag the station personalised to its SKU, batch and key version, and that
// survives a crash at any instant without losing a binding or inventing
// one.
//
// # Invariants
//
//  1. An intent is durable before the first key change on a tag:
//     BeginIntent returns only after the transaction holding the intent
//     is committed and fsynced, and the caller changes no key before that.
//  2. A binding exists only after read-back verification: Complete is
//     called once the new keys and files were read back (OutcomeEncoded)
//     or a SUN message was verified with them (OutcomeVerified). It
//     deletes the intent and writes the binding, the index entry and the
//     outbox entry in one transaction, so no reader and no crash ever sees
//     half of it.
//  3. At any instant each UID personalised by us is covered by either an
//     open intent or a binding. An intent only goes away in the
//     transaction that writes the binding, or by FailIntent with
//     KeysUntouched on the intent's first attempt when no failure after a
//     write was recorded before. Every open intent says that the tag may
//     hold new keys (Intent.KeysMayHaveChanged): it is recorded before
//     the first write, and a station killed during the write records
//     nothing after it, so what may happen is recorded before it can.
//  4. Records never change once written. A binding is written once with
//     its sequence number; a re-encode moves it unchanged to the history
//     bucket. Manifests and the outbox, which read records by sequence
//     number, therefore give the same answer every time.
//  5. Nothing is written to a journal that Check finds a problem in: Open
//     runs every check first (see Opening), and every record, the batch
//     counters and the sync cursor carry a CRC-32C, so that a damaged
//     byte is found rather than read as another value.
//  6. A batch's done count is its index entries and its open intents are
//     the intents naming it: nothing stores them, so nothing can disagree.
//
// Check verifies 2–4 on the stored data (plus bbolt's own page checks, both
// meta pages and every record's checksum). Export refuses a record that
// does not decode, naming its seq and tag, and writes no trailer after it.
//
// # The station's protocol
//
//	BeginIntent(uid, batch, key version, master KCV)  // durable
//	... authenticate, ChangeKey, write files, read back ...
//	Complete(binding)                                 // durable
//
// On an error in between, FailIntent(uid, reason, keys) says whether any
// ChangeKey may have reached the tag. With KeysMayHaveChanged the intent
// stays open, in state IntentFailed (and stays so even if a later attempt
// fails cleanly); with KeysUntouched it is removed if this was its first
// attempt and nothing before was recorded as failed after a write. An
// intent whose attempt never reported (the station was killed, lost
// power, or is still at work) stays in state IntentInProgress. After a
// restart, OpenIntents lists the tags that may carry new keys; calling
// BeginIntent again with the same batch and keys resumes the intent
// (Attempts+1, StartedAt kept, state back to IntentInProgress), and a
// clean failure of that attempt keeps it, since the earlier attempt may
// have written keys.
//
// A tag that already has a binding is refused with a *DuplicateError
// (ErrDuplicate) unless Intent.Reencode is set. On Complete of a re-encode
// the previous binding is kept: it moves to the history bucket under its
// own sequence number (see Superseded), and the new binding replaces it in
// the bindings bucket. Both stay in their batches' manifests and in the
// outbox; the higher sequence number is the current one.
//
// CloseBatch refuses new intents in the batch but lets open ones be
// completed or failed, so that a tag whose keys were already changed is
// never left without a record.
//
// # Durability and group commit
//
// bbolt runs with fsync on (NoSync false): each commit fdatasyncs the data
// pages and then the meta page. All writes go through one committer
// goroutine that runs every queued request in one transaction and commits
// once; callers return after that commit (see commit.go). A request whose
// checks fail is rolled back alone and the rest of its group re-run, so
// each request derives everything from its transaction
// (TestGroupRerunCountsOnce). Reads use their own read-only transactions
// and never wait for commits.
//
// The committer is the one mechanism of our own kept in the write path.
// bbolt's DB.Batch (MaxBatchSize 512, MaxBatchDelay 200 µs), which isolates
// a failing call the same way, was tried for issue 11 and measured against
// it in one run, alternating, on tmpfs: 1,943 and 2,246 durable bindings/s
// with 8 writers against 8,321 and 8,504, and 265 and 334/s with one writer
// against 1,539 and 3,112. Batch waits for its timer even when every
// caller has joined or the caller is alone, and a loaded machine fires
// that timer late; the committer waits only for as many callers as its
// last group had.
//
// bbolt's NoFreelistSync is on: commits do not rewrite the freelist, which
// saves pages on every commit. Close writes the freelist once, so a
// journal closed cleanly opens without bbolt rebuilding it; after a crash
// bbolt rebuilds it at open by walking every page. Turning it off (so that
// bbolt never rebuilds) was tried for issue 11: it would not have let the
// page walk go (see Opening), and writing the freelist cost commits,
// measured alternating with 8 writers: 4,767 and 2,614 bindings/s with it
// against 11,176 and 6,939 without on tmpfs, 1,562 and 530 against 1,638
// and 704 on disk.
//
// Done and open intents per batch are counted from the data: index
// entries, and intents naming the batch. Failed and duplicate tags are
// stored counters (the stats bucket), since a tag refused or failed
// before its intent, or a refused duplicate, leaves no record to count.
//
// # Opening
//
// Open never writes to a file that has not shown itself to be a healthy
// journal of ours. It reads bbolt's meta pages by hand (a damaged or
// truncated file is refused before bbolt maps it), then opens the file
// read-only under a shared lock, walks every page of the B-tree and the
// freelist by hand (checkPages: page ids and types, element bounds, child
// and overflow ids, key order, free pages not in use) and looks for the
// meta bucket and its marker, and runs everything Check runs (Verify): a
// journal that check would call corrupt is never written to, since every
// commit on top of damage buries it deeper. Only then does it open the file
// for writing. The journal-level checks cost about 1 s of CPU per 300,000
// bindings (measured on a loaded 2-core machine), most of it two B-tree
// lookups per binding.
//
// The meta pages are read by hand because bbolt keeps two and, when one
// fails its checksum, reads on with the other. When the damaged page was
// the newer, that silently drops the last commit: a binding turns back
// into an open intent. Open therefore treats one damaged meta page, while
// the other is sound, as corruption: Check reports it and Open refuses to
// write (TestDamagedMetaPageIsReported). A torn meta page write from a
// power cut is not expected to cause it: bbolt's 64-byte meta lies within
// the first sector of its page, and sector writes are atomic on the disks
// a station uses.
//
// The page walk stays because bbolt trusts its pages and walks them in
// goroutines of its own (tx.Check; the freelist rebuild after a crash),
// where a fault on a damaged page kills the process instead of returning
// an error. Without the walk (tried for issue 11),
// TestScatteredDamageNeverPanics dies of a segmentation fault in
// tx.Check's key-order check and TestDamagedPagesNeverPanic of a panic in
// the freelist rebuild. With it, tx.Check runs only on pages the walk found
// sound, so it can run in the station's process, at Open and in journal
// check. The walk also stops a damaged freelist from naming a page in use,
// which bbolt would overwrite at the next commit. A new journal is built in
// a temporary file and linked into place. Faults and panics from reading a
// damaged file in our own goroutines (the committer's included) become
// ErrCorrupt. A second writer gets ErrLocked after Options.LockTimeout.
//
// # File layout (journal format 1)
//
// All integers in keys are big-endian so that bbolt's byte order is
// numeric order.
//
//	meta       "magic" = "tagline-journal", "format" = "1" (decimal text),
//	           "station" = station ID, "created" = RFC 3339 UTC,
//	           "synced_upto" = uint64, the acknowledged outbox cursor,
//	           then the CRC-32C of its 8 bytes (without it in journals
//	           written before records had checksums)
//	batches    batch ID → Batch record
//	bindings   UID (upper-case hex) → Binding record (the current one)
//	index      one nested bucket per batch ID: seq (uint64) → UID
//	intents    UID → Intent record
//	outbox     seq (uint64) → UID; the bucket's sequence is the last seq
//	history    seq (uint64) → Binding record superseded by a re-encode
//	stats      batch ID → counters: 0x03, then failed and duplicates as
//	           uint64, then the CRC-32C of the 17 bytes before it. They
//	           count every tag the station reported so (FailIntent,
//	           BeginIntent's refusal, CountOutcome for tags refused before
//	           an intent). Journals written before issue 11 hold 0x02 (or
//	           0x01 without the CRC) with done and open intents around
//	           them, which are read and not used: both are counted from
//	           the data. A version above 3 is refused with ErrFormat.
//
//	ops        UID → Op record: an open rekey or reset (see Lifecycle)
//	reclaimed  UID → Reclaim record: the tag was reset to the factory
//	quarantine UID → Quarantine record: a tag reset refused as unknown
//
// The last three buckets are created by the first write that needs them;
// a journal without them reads as having none.
//
// Sequence numbers start at 1 and are assigned by Complete in commit
// order, across all batches; a binding with sequence s has index and
// outbox entries under s. The outbox keeps acknowledged entries; only
// synced_upto moves, never backwards and never past the last seq.
//
// # Record encoding
//
// Each record is one version byte followed by its fields in a fixed order.
// Each kind's order is written down once, in its layout function
// (bindingLayout, opLayout, …), which both writes and reads the record, so
// the encoder and the decoder of a kind cannot disagree.
// Versions 1 and 2 use these field encodings:
//
//	str    uvarint byte length, then UTF-8 bytes
//	uvar   unsigned varint (encoding/binary.AppendUvarint)
//	var    signed zig-zag varint (encoding/binary.AppendVarint)
//	byte   one byte
//	time   var Unix seconds, then uvar nanoseconds (0–999999999), UTC
//	crc    4 bytes, big-endian CRC-32C (Castagnoli) of every byte of the
//	       record before it, version byte included
//
//	Binding v1  0x01 uid:str sku:str batch_id:str station_id:str
//	            key_version:byte master_kcv:str template_hash:str
//	            outcome:str attempts:var read_ctr:uvar started_at:time
//	            completed_at:time seq:uvar
//	Binding v2  0x02, the v1 fields, crc
//	Intent v1   0x01 uid:str batch_id:str sku:str station_id:str
//	            key_version:byte master_kcv:str template_hash:str
//	            started_at:time attempts:var flags:byte last_error:str
//	            (flags: 0x01 reencode, 0x02 the last attempt failed after
//	            a write may have reached the tag; v1 named it "keys may
//	            have changed", which both versions read as IntentFailed)
//	Intent v2   0x02, the v1 fields, crc
//	Batch v1    0x01 id:str sku:str target:var template:str
//	            key_version:byte notes:str status:str created_at:time
//	            closed_at:time
//	Batch v2    0x02, the v1 fields, kdf:str flags:byte, crc
//	            (kdf: "tagline" or "sdm-backend"; flags: 0x01 test batch,
//	            0x02 simulated tags, 0x04 LRP: tags are switched to LRP mode; a decoder that
//	            predates it refuses the batch rather than encode AES tags)
//
//	Op v2       0x02 kind:str ("rekey" or "reset") uid:str batch_id:str
//	            station_id:str from_version:byte to_version:byte
//	            master_kcv:str started_at:time attempts:var flags:byte
//	            (0x01 the last attempt failed) last_error:str, crc
//	Reclaim v2  0x02 uid:str batch_id:str station_id:str seq:uvar
//	            (the binding the reset ended) key_version:byte at:time, crc
//	Quarantine v2 0x02 uid:str station_id:str reason:str at:time
//	            count:var, crc
//
// Tagline writes version 2. A version 2 record whose checksum does not
// match is corrupt, and is refused before any field is read. Version 1
// records carry no checksum: they still decode, and Check counts them as
// unchecksummed. A version 1 batch reads as kdf "tagline" (the default
// before derivations were pinned) and as a production batch. An intent of
// either version reads with KeysMayHaveChanged set (see invariant 3).
//
// Decoders refuse what no writer produces: bytes left after the last
// field, an outcome other than "encoded" or "verified" in a binding, a
// batch status other than "open" or "closed", an unknown derivation, and
// unknown flag bits. A new layout gets a new version byte; decoders keep
// reading every older version (testdata holds v1 and v2 records and a v1
// journal that tests open), and a record of an unknown, newer version is
// refused with ErrFormat rather than misread. The JSON tags on the record
// types are for manifests and command output, not for storage.
//
// UIDs are stored as upper-case hex, key check values as upper-case hex of
// at most 8 bytes (a 16-byte value is refused as probable key material),
// template hashes as lower-case hex SHA-256, times in UTC. The journal
// never holds key bytes.
//
// # Lifecycle
//
// Rekey (BeginOp with OpRekey, then CompleteRekey) and reset (OpReset,
// then CompleteReset) follow the station's protocol: the Op is durable
// before the first change to the tag, and exists only for a tag this
// journal binds with the same master key and has not reclaimed (else
// ErrNotOurs, ErrReclaimed; another open operation or intent is
// ErrOpOpen). CompleteRekey writes a new binding with the new key version
// under the next seq, moving the old one to history as a re-encode does,
// so manifests and the sync send it. CompleteReset records a Reclaim
// naming the binding it ended; the binding stays (records never change),
// and Reclaimed reports the tag reclaimed while that binding is current.
// FailOp keeps the Op open unless its first attempt failed before any
// change. Check verifies that each Op and Reclaim names a bound tag of its
// batch.
//
// Manifests written by Export are described in manifest/MANIFEST.md.
//
// Each journal has a random identity of its own (JournalID), made with
// it, or at the first writable open of a journal made before identities;
// it goes with the journal's sync uploads so that a backend tells two
// journals that claim one station apart.
package batch
