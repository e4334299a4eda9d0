package encoder

import "github.com/tagline-station/tagline/internal/errkind"

// ErrNoTagTamper: the template mirrors the tamper status ({tt}) and the
// chip refused the setting, as an NTAG 424 DNA without the TagTamper loop
// does (SDMOptions bit 3 is RFU on it). The NDEF file may hold the URL;
// no key was changed yet.
var ErrNoTagTamper = errkind.New(errkind.Tag, "the chip has no tagtamper loop (not an ntag 424 dna tt)")
