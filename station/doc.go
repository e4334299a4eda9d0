// Package station is the encoding station's loop: it waits for a tag on a
// reader, personalises it with the encoder, and journals the result, one
// lane per reader, all lanes sharing one journal.
//
// Invariants:
//   - The journal's intent for a tag is durable before the encoder writes
//     anything to it (encoder.Job.BeforeWrite); a binding is written only
//     after the tag was read back and its SUN message verified.
//   - A failure before the first write removes the intent; a failure after
//     it leaves the intent open and marked, so the same tag presented again
//     is finished, not forgotten.
//   - Every result carries a plain-words reason and what the operator
//     should do; none carries key bytes.
//   - Time comes from Config.Now and randomness from Config.Rand, so a lane
//     replays byte for byte against a recorded transcript.
package station
