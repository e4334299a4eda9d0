package sdm

// TagTamper (NTAG 424 DNA TT, NT4H2421Tx): a wire loop on the chip, whose
// status the chip mirrors into the NDEF file at TTStatusOffset as two ASCII
// characters when SDMOptions bit 3 is set: the permanent status (has the
// loop ever been open) and the current one, each 'C' closed, 'O' open or
// 'I' invalid (TagTamper not enabled). The {tt} placeholder places it as
// sdm-backend and AN12196 do, with TTStatusOffset = SDMENCOffset: the
// status is the first two bytes of the encrypted file data, so the
// encryption and the SDMMAC cover it, and the other 14 bytes are the
// station's {enc} data.

// PhTT is encrypted file data whose first two plaintext bytes are the
// tamper status: 16 bytes encrypted as 32 hex characters, like {enc}.
const PhTT = "tt"

// Tamper is the tamper status a SUN message proves, in the words of
// verify, serve and the brand's pages.
type Tamper string

const (
	// TamperNone: the template mirrors no tamper status.
	TamperNone Tamper = ""
	// TamperClosed: the loop was never opened ("CC").
	TamperClosed Tamper = "closed"
	// TamperOpened: the loop was opened, and may be closed again now
	// ("OO", "OC").
	TamperOpened Tamper = "opened"
	// TamperInvalid: the chip reports no valid status ("II": TagTamper
	// not enabled, or a chip without it).
	TamperInvalid Tamper = "invalid"
)

// TamperOf reads the two status characters, permanent then current.
func TamperOf(st []byte) Tamper {
	switch {
	case len(st) < 2:
		return TamperInvalid
	case st[0] == 'C' && st[1] == 'C':
		return TamperClosed
	case st[0] == 'O' && (st[1] == 'O' || st[1] == 'C'):
		return TamperOpened
	}
	return TamperInvalid
}

// encName is the placeholder that holds the encrypted file data, {enc}
// or {tt}; "" when there is none.
func (t *Template) encName() string {
	switch {
	case t.hasPh(PhTT):
		return PhTT
	case t.hasPh(PhEnc):
		return PhEnc
	}
	return ""
}

func (t *Template) hasPh(name string) bool { _, ok := t.pos[name]; return ok }

// HasTT reports whether the template mirrors the tamper status.
func (t *Template) HasTT() bool { return t.hasPh(PhTT) }
