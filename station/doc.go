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
//     should do; none carries key bytes.
//   - Time comes from Config.Now and randomness from Config.Rand, so a lane
//     replays byte for byte against a recorded transcript.
package station
