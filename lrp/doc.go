// Package lrp implements the Leakage Resilient Primitive of NXP AN12304
// (Rev. 1.1): the secret plaintexts (algorithm 1), the updated keys
// (algorithm 2), EvalLRP (algorithm 3), LRICB encryption and decryption
// with a counter (algorithms 4 and 5) and CMAC_LRP, the AES-CMAC
// construction over EvalLRP that NTAG 424 DNA uses in LRP mode for its
// authentication, secure messaging and SUN messages.
//
// A Primitive is built from a keys.Key and holds only what it derived from
// it; like ev2.Session it never hands its secrets out as bytes. Plaintexts,
// updated keys and EvalLRP outputs leave it as keys.Key values, which
// cannot be printed or compared with ==, so tests compare them with Equal;
// a Primitive or Cipher itself prints, logs and marshals as redacted.
//
// Invariants:
//   - m = 4 (16 plaintexts, one per nibble) and q = 4 updated keys, the
//     parameters NTAG 424 DNA uses; nibbles are taken high then low.
//   - The plaintext chosen by each nibble is selected in constant time (all
//     sixteen are read every step), because the nibbles of a CMAC chaining
//     value or of a counter are secret or secret-derived. AES itself is the
//     standard library's, constant time on hardware with AES instructions.
//   - An LRICB counter is big-endian, keeps its length, and wraps to zero;
//     each block uses the counter then increments it, so a stream of
//     commands and responses shares one counter (EncCtr).
//   - CMAC_LRP's subkeys are K1 = 2·K0 and K2 = 4·K0 in GF(2^128) with
//     K0 = EvalLRP(0^16) under updated key 0, doubling in constant time.
//   - Every function is proven against published AN12304, AN12321 and
//     sdm-backend vectors in testdata/vectors/lrp_vectors.json, exercised
//     by name in internal/conformance.
package lrp
