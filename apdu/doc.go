// Package apdu frames ISO/IEC 7816-4 APDUs for the NTAG 424 DNA and turns
// status words into comparable error values.
//
// Native NTAG 424 DNA commands travel ISO-wrapped (datasheet NT4H2421Gx
// section 8.4): CLA 90, INS = the native command code, P1 P2 = 00 00,
// Lc, data, Le 00; the answer ends in 91 xx. ISO commands (SELECT, READ
// BINARY, UPDATE BINARY) use CLA 00 and answer 90 00 / 6x xx.
//
// Invariants:
//   - A StatusWord is a comparable value: errors.Is(err, apdu.SWAuthError)
//     works through any wrapping.
//   - Every status word maps to exactly one of the few public classes callers
//     branch on (ErrAuthFailed, ErrIntegrity, ErrPermission, ErrLength,
//     ErrAuthDelay) or to ErrTag.
//   - ErrIntegrity is the one integrity error: the tag's 91 1E and the
//     host's own failed MAC or padding check (package ev2) both wrap it.
//   - Every status word and class is a tag error to errkind.Of.
package apdu
