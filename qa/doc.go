// Package qa is the engine of `tagline verify`: it proves that the tags of
// a personalised batch are good, from the tags themselves (presented to a
// reader) or from SUN URLs that phones captured (a file, one per line).
//
// # What is checked
//
// For every tag or URL, in this order:
//
//  1. The tag is read as a phone reads it (ReadURL: select the NDEF
//     application and file E104, ISOReadBinary of NLEN then the message,
//     unauthenticated). A tag that stops answering is unreadable; one
//     without a URI record is url_mismatch.
//  2. The URL must match the batch's template (from the batch record),
//     else url_mismatch, and its SUN message must verify with keys derived
//     from the master key (sdm.Template.Verify with the keys.Deriver), else
//     bad_mac. A URL that does not verify names no UID we trust.
//  3. For a presented tag the reader's anticollision UID must be the UID in
//     the message (uid_mismatch).
//  4. The UID must be bound in the journal (unknown_uid), to the batch
//     (wrong_batch) and the SKU (wrong_sku) expected.
//  5. The read counter must be strictly greater than the last value known
//     for the UID: the binding's read_ctr, then every counter QA saw
//     (counter_replay).
//  6. A tag moved by tagline rekey is verified with the key version its
//     binding records (every version the batch's bindings record is
//     tried after the batch's own); TagResult.KeyVersion says which
//     version verified, and one other than the binding's is
//     wrong_key_version.
//  7. With Config.CheckKeys, for presented tags: key versions 0 to 4 must
//     be the binding's (a version 00 is factory_key_present, another is
//     wrong_key_version), and then one AuthenticateEV2First with our key 0
//     derived for this UID must succeed (wrong_key).
//  8. With Config.Genuine, for presented tags: the NXP originality
//     signature (Read_Sig) must verify over the UID (the verified SUN
//     message's, else the reader's) with one of those keys (not_genuine).
//
// A result passes only with no failure. Its Reason is the first failure in
// the order of Reasons, and Reasons lists all of them.
//
// # Modes
//
// ModeFull: every tag bound to the batch must be verified; at Finish the
// ones never verified are reported as missing. ModeSample verifies N of the
// batch's M tags: N is given, or computed by SampleSize for a defect rate p
// and confidence c. With a seed the sample is SelectSample(uids, N, seed),
// reproducible by anyone; tags of the batch outside it that pass are
// reported as skipped, sampled tags never verified as missing. With
// OperatorPick (presented tags only) the operator draws the sample
// physically and the first N distinct tags of the batch make it. With
// FromURLs (what `tagline verify --urls` uses) the seeded sample is drawn
// from the distinct tags of the batch whose URLs verify in the file given
// to VerifyURLs, not from the journal: a QA person verifies the tags they
// captured, all of them when the file holds N or fewer. The statement
// about the batch then rests on the captured tags being a random pick of
// it (or all of it); a file with fewer than N of its tags is incomplete.
//
// # URL files
//
// VerifyURLs reads the whole input before verifying anything, within
// URLLimits (by default 16 KiB a line, 1,000,000 lines, 64 MiB): beyond a
// bound it returns ErrInputLimit and records nothing. A line is a URL, or
// a JSON object whose "url" field is one (encode, demo and verify --json
// output); blank lines and lines starting with '#' are skipped.
//
// # Sampling statement (zero failures, exact hypergeometric)
//
// If d of the M tags are defective, the probability that n tags drawn
// without replacement all pass is
//
//	P0(M, d, n) = C(M-d, n) / C(M, n) = Π_{i=0}^{n-1} (M-d-i)/(M-i).
//
// SampleSize(M, p, c) is the least n with P0(M, ceil(p·M), n) ≤ 1-c, so a
// sample of n with no failure shows, with confidence c, that fewer than
// ceil(p·M) tags are defective, that is a defective fraction below p.
// MaxDefective(M, n, c) turns it around for a given n: the least d with
// P0(M, d, n) ≤ 1-c; the report then states "fewer than d defective". For
// M = 10000, p = 1%, c = 95% it gives n = 294, where the binomial
// approximation ln(1-c)/ln(1-p) gives 299 and the rule of three 300. A
// sample with any failure proves no bound: the batch fails.
//
// # Invariants
//
//   - No key is ever printed, logged or put in a report: reports carry the
//     master key's check value, UIDs, counters and the (public) URLs. MACs
//     are compared in constant time by package sdm.
//   - The factory key is never tried. Key versions are read for free; one
//     authentication is attempted only when all five versions are the
//     batch's, and only with our own derived key 0, so a genuine tag never
//     has a failed attempt counted against its TotFailCtr and a defective
//     one at most one.
//   - Every genuine counter seen (a SUN message that verified, whatever
//     else failed) is recorded, never lowered, and is durable in the state
//     file (Config.StatePath) before VerifyTag, VerifyURL or VerifyURLs
//     returns, and merged with what other runs wrote there, so a replayed
//     URL is caught on every later run. Counters are kept per binding
//     sequence number: a re-encoded tag starts afresh. See "State file".
//   - The journal is only read.
//   - The sample depends only on the seed and the batch's set of UIDs
//     (SHA-256 of "tagline-qa-sample/1" || seed || UID, smallest first),
//     never on a random generator's implementation. Reports (format
//     tagline-qa-report/2) write the seed as a decimal string, since JSON
//     tools that read numbers as float64 round a 63-bit seed and would
//     draw another sample; ReadJSON also takes a number (report/1), from
//     its digits.
//   - Report.OK is false when any result fails or a planned tag was not
//     verified; a skipped tag counts neither way.
//   - Times come from Config.Now.
//
// # State file
//
// Format tagline-qa-state/2: a snapshot line {"format", "gen", "tags":
// {uid: {seq: ctr}}}, then one line per counter seen since, {"uid",
// "seq", "ctr"}; gen counts the rewrites. Format 1 (the snapshot alone)
// is read and rewritten as 2.
//
// Each save appends the new lines and fsyncs: a run's cost is linear in
// the tags it verifies. Format 1 rewrote and re-read the whole file after
// every tag, quadratic: BenchmarkStateRun on tmpfs took 2.2 s for 1,000
// tags and 38 s for 4,000; format 2 takes 0.04 to 0.2 s, 0.13 to 0.2 s,
// and 0.3 to 0.6 s for 10,000 on a loaded machine (on a disk each tag
// adds one fsync's latency).
// The file is rewritten as one snapshot (temporary file, fsync, rename,
// fsync of the directory) only when the appended lines exceed twice the
// live counters plus 1,024, so rewriting costs O(1) amortised per line.
// An append-only log was chosen over "write at the end plus checkpoints
// every N tags or T seconds" because it keeps the bound of the previous
// format, nothing: what a Verify call returned is on disk, so neither a
// crash nor Ctrl-C can let a replay through on the next run, and each
// durable step costs one small write and one fsync, not the whole file.
// A crash during an append leaves a torn last line, never returned to
// anyone: it is ignored on reading and cut before the next append. A
// damaged complete line, like a damaged snapshot, is refused.
//
// Runs may share a state file. Each save takes an flock on the file (and
// takes it again if the file was replaced while it waited), reads what
// other runs appended since its last read, then appends or rewrites; so
// no line is lost to a concurrent rewrite or torn by a concurrent append.
// A run reads on from where it stopped only if the file is the same one
// (inode) of the same generation (gen, at the start of the file), else it
// reads it all again: an inode freed by a rewrite may come back.
// Reading at New takes no lock (a rewrite is a rename; a line being
// appended is incomplete and left for the next read). Without flock
// (non-unix systems) only one run at a time may use a state file.
//
// # Use
//
//	v, err := qa.New(qa.Config{Journal: store, BatchID: id, Deriver: d,
//		StatePath: path, CheckKeys: true})
//	for v.Remaining() > 0 { res, err := v.VerifyTag(ctx, tag); ... }
//	// or: results, err := v.VerifyURLs(file)
//	rep, err := v.Finish()
//	rep.WriteText(os.Stdout) // or WriteJSON, WriteCSV; exit 4 if !rep.OK()
package qa
