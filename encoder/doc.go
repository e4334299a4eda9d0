// Package encoder speaks NTAG 424 DNA over a reader.Card: ISO selection,
// EV2 authentication, secure messaging in CommMode.Plain, MAC and Full, the
// file and key commands, and the personalisation flow built from them.
//
// Commands are small methods on Conn, one per datasheet command, with the
// section of NT4H2421Gx Rev. 3.0 they implement beside them.
//
// Invariants:
//   - Every response MAC is verified, in constant time, before any response
//     data is used; a failed check drops the session.
//   - Any error status word drops the session, as the tag does.
//   - No write is larger than one ISO 14443-4 frame, so every write is
//     tear-protected by the tag.
//   - Personalise never tries a key it has no reason to believe the tag
//     holds: key versions and the existing SUN message decide the candidate,
//     and each candidate gets at most one authentication attempt. A 91AD
//     (authentication delay) stops the flow.
//   - The journal hook runs, and must succeed, before the first write to a
//     tag; key 0 is changed last, so a tag torn at any point can be finished
//     by presenting it again.
//   - Randomness (RndA) comes from Options.Rand so a recorded transcript
//     replays byte for byte.
package encoder
