// Package transcript records the APDUs exchanged with a card and replays
// them, so that tests can hold the encoder to a published or recorded
// session byte for byte (testdata/transcripts). Only tests use it, which is
// why it lives under internal/.
//
// Invariants:
//   - A Replay answers only the exact recorded command APDUs, in order; the
//     first difference fails with ErrReplayMismatch and every later
//     Transmit fails the same way.
//   - Errors are recorded by kind ("removed", "canceled", "deadline") and
//     replayed as the same sentinel, so errors.Is holds across a replay.
package transcript
