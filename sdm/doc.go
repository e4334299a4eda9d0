// Package sdm implements Secure Dynamic Messaging (SUN) of the NTAG 424 DNA:
// the SDM session keys, PICCData encryption, SDMMAC and SDMENCFileData
// (datasheet NT4H2421Gx section 9.3, AN12196 section 3), the file settings
// that switch it on, the URL templates the operator writes, and the
// verification of a SUN URL that QA and any backend use.
//
// Invariants:
//   - SDMReadCtr is 3 bytes LSB first in PICCData and the session vectors;
//     a plainly mirrored counter is shown MSB first in the URL and is
//     reversed before use.
//   - A template that Build accepts fits the NDEF file, contains exactly one
//     MAC, and has every offset inside the file; offsets in FileSettings are
//     computed from the NDEF bytes actually written, never typed by hand.
//   - A template that ParseTemplate accepts is an https URL of printable
//     ASCII that phones send unchanged (no fragment, user information,
//     spaces, percent escapes or characters browsers escape, a lower-case
//     host, a path servers do not clean) with its placeholders in the path
//     or query where the backend finds them: filled with sample values,
//     taken apart as an HTTP server does and rebuilt from the template's
//     origin and the request target, it gives the same values back.
//   - Verify compares MACs in constant time and never says which byte
//     differed; its errors never contain key bytes.
package sdm
