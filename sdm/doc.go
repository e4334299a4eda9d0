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
//   - LRP mode (lrp.go, AN12304): PICCData is 24 bytes (PICCRand, the
//     LRICB counter, then one encrypted block), one session key
//     CMAC_LRP(KSDMFileRead, 00 01 00 80 || UID || ctr || pad || 1E E1)
//     gives the MAC (updated key 0) and the file data (updated key 1,
//     counter ctr || 00 00 00). A template from ParseTemplate verifies taps
//     of both modes, told apart by the length of {picc} (48 characters in
//     LRP mode) or, for plain mirrors, by trying the AES MAC then the LRP
//     MAC; Template.LRP is the layout the encoder writes for an LRP tag
//     and verifies LRP taps only.
//   - TagTamper (tamper.go): {tt} is encrypted file data whose first two
//     plaintext bytes the chip fills with the loop's status (SDMOptions
//     bit 3, TTStatusOffset = SDMENCOffset, written after PICCDataOffset),
//     so the status is read only from a message whose MAC verified, and
//     Verified.Tamper is empty for a template without {tt}.
package sdm
