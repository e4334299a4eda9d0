// Package keys holds tagline's key material and the primitives that make it:
// AES-CMAC (NIST SP 800-38B / RFC 4493), AN10922 AES-128 key
// diversification, the two per-tag key derivations (tagline's own and the
// one of nfc-developer/sdm-backend), key versions and key check values.
//
// Invariants:
//   - Key bytes never leave this package in printable form: Key and Master
//     format as a redacted check value under every fmt verb, refuse to be
//     marshalled to JSON or text, and are compared in constant time.
//   - Errors never contain key bytes or the input they were parsed from.
//   - Derivations are pure functions of (master, version, UID): a backend
//     written by someone else re-derives the same keys from the README's
//     description alone. Every key except the SDM meta-read key depends on
//     the UID; the meta-read key cannot, because a backend must decrypt the
//     PICCData before it knows the UID.
//   - Every function here is proven against published vectors
//     (testdata/vectors), not only against our own simulator.
package keys
