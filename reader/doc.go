// Package reader is the boundary between tagline and the hardware.
//
// Everything above this package talks to a tag through Card, a one-method
// transport that carries one ISO 7816-4 command APDU to the tag and returns its
// response APDU (data followed by SW1 SW2). Discovery and tag events come from
// Reader. Bindings (PC/SC through ebfe/scard, libnfc through clausecker/nfc)
// live in the sub-packages reader/pcsc and reader/libnfc, the only places where
// cgo is allowed; reader/sim is the software reader with simulated tags.
//
// Invariants:
//   - A Card that lost its tag returns an error wrapping ErrTagRemoved, never a
//     partial response; callers treat it as "the tag left the field".
//   - Transmit honours ctx: a cancelled or expired context returns promptly.
//   - No type in this package holds key material.
package reader
