// Package station is the encoding station's loop: it waits for a tag on a
// reader, personalises it with the encoder, and journals the result, one
// lane per reader, all lanes sharing one journal.
//
// Invariants:
//   - The journal's intent for a tag is durable before the encoder writes
//     anything to it (encoder.Job.BeforeWrite); a binding is written only
//     after the tag was read back and its SUN message verified.
//   - A failure before the first write of a tag's first attempt removes the
//     intent; any other failure, and a station stopped mid-attempt, leaves
//     it open, so the same tag presented again is finished, not forgotten.
//   - A batch is encoded only with the key derivation it was created with
//     (New refuses a Deriver of another scheme).
//   - Every failed or duplicate result is counted once in the batch's
//     journal counters (by FailIntent, BeginIntent's refusal, or
//     CountOutcome for tags refused before an intent), so batch show
//     agrees with the screen.
//   - Every result carries a plain-words reason and what the operator
//     should do; none carries key bytes. A refused tag's reason comes from
//     the journal where it knows the UID: our own tag of another batch is a
//     duplicate, not a foreign tag; only a tag this journal bound with
//     another master key points at the master key file; a blank tag whose
//     UID is bound is not done but a cloned UID or a tag reset elsewhere.
//   - A card that misbehaves (malformed answers, error status words, a bad
//     MAC, no answer within Config.ExchangeTimeout, not an NTAG 424 DNA)
//     fails that tag only; the lane goes on with the next.
//   - Life runs tagline rekey and tagline reset: a tag is touched only
//     when the journal binds it (in the run's batch, with this master key)
//     and records no reset since; the journal's operation (batch.Op) is
//     durable before the first change and its outcome (a new binding with
//     the new key version, or a reclaim) is written after the read-back. A
//     tag the journal does not know is quarantined by reset, untouched. A
//     tag reclaimed by reset is encoded again as a re-encode.
//   - Time comes from Config.Now and randomness from Config.Rand, so a lane
//     replays byte for byte against a recorded transcript.
package station
