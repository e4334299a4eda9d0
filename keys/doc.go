// Package keys holds tagline's key material and the primitives that make it:
// AES-CMAC (NIST SP 800-38B / RFC 4493), AN10922 AES-128 key
// diversification, the two per-tag key derivations (tagline's own and the
// one of nfc-developer/sdm-backend), key versions and key check values.
//
// A Key is used, not read: Block gives AES under it, CMAC gives AES-CMAC
// under it, and ChangeKeyData / OpenChangeKeyData build and open the
// ChangeKey cryptogram that installs it on a tag. Bytes go into a Key
// (NewKey, ParseMaster); no method gives them back.
//
// Invariants:
//   - Key bytes leave this package only into a cipher: as a key schedule
//     (Block, CMAC), or inside the ChangeKey data, which its caller
//     encrypts under the session at once (case 2 carries the new key as
//     is, as the datasheet requires). Tests that need the bytes of a
//     derived key (leak scans) derive them again with internal/refkdf.
//   - Key and Master format as a redacted check value under every fmt
//     verb and refuse to be marshalled to JSON or text.
//   - Key and Master are incomparable: == and map keys do not compile (a
//     zero-length func array field; TestKeysDoNotCompileUnderEquality
//     builds a program to prove it), so every comparison is the
//     constant-time Equal.
//   - Errors never contain key bytes or the input they were parsed from.
//   - Derivations are pure functions of (master, version, UID): a backend
//     written by someone else re-derives the same keys from the README's
//     description alone. Every key except the SDM meta-read key depends on
//     the UID; the meta-read key cannot, because a backend must decrypt the
//     PICCData before it knows the UID.
//   - Every function here is proven against published vectors
//     (testdata/vectors), not only against our own simulator.
package keys
