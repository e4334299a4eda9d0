// Package ev2 holds the NTAG 424 DNA EV2 secure-messaging primitives that
// both ends of the exchange need: the encoder (PCD side) and the simulated
// tag (PICC side) call the same functions, and both are proven against the
// AN12196/AN12343 vectors, so neither can agree with the other on a mistake.
//
// References are to the datasheet NT4H2421Gx Rev. 3.0 section 9 (secure
// messaging) unless noted.
//
// Invariants:
//   - The 2-byte command counter is LSB first in every IV and MAC input.
//   - MACt is the CMAC bytes 1, 3, ..., 15 (keys.Truncate).
//   - Full-mode data is padded with ISO/IEC 9797-1 method 2 even when it is
//     block aligned; authentication uses a zero IV and no padding.
//   - MACs are compared in constant time; a failed comparison reveals no
//     byte position.
//   - A Session never holds the long-term key it was derived from, and
//     holds its session keys only as key schedules: it cannot hand them
//     out, so tests compare sessions by what they compute.
//   - An LRP session (lrp.go) has one master key, CMAC_LRP(Kx, SV) with SV
//     ending 96 69; its updated key 0 MACs and updated key 1 encrypts with
//     LRICB and the 4-byte EncCtr, which AuthenticateLRPFirst's answer used
//     at 0, so secure messaging starts at 1 and every encrypted block of
//     command or response takes the next value. Both ends advance it in the
//     same order: command data, then response data. CommandIV and
//     ResponseIV exist in AES mode only.
package ev2
