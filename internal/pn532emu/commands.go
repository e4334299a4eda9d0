package pn532emu

import (
	"bytes"
	"time"

	"github.com/tagline-station/tagline/reader"
)

// PN532 command codes (PN532 user manual UM0701-02, chapter 7).
const (
	CmdDiagnose            = 0x00
	CmdGetFirmwareVersion  = 0x02
	CmdGetGeneralStatus    = 0x04
	CmdReadRegister        = 0x06
	CmdWriteRegister       = 0x08
	CmdReadGPIO            = 0x0C
	CmdWriteGPIO           = 0x0E
	CmdSetSerialBaudRate   = 0x10
	CmdSetParameters       = 0x12
	CmdSAMConfiguration    = 0x14
	CmdPowerDown           = 0x16
	CmdRFConfiguration     = 0x32
	CmdInDataExchange      = 0x40
	CmdInCommunicateThru   = 0x42
	CmdInDeselect          = 0x44
	CmdInJumpForPSL        = 0x46
	CmdInListPassiveTarget = 0x4A
	CmdInPSL               = 0x4E
	CmdInATR               = 0x50
	CmdInRelease           = 0x52
	CmdInSelect            = 0x54
	CmdInJumpForDEP        = 0x56
	CmdInAutoPoll          = 0x60
)

// PN532 status codes used in answers.
const (
	StatusOK         = 0x00
	StatusTimeout    = 0x01 // the target did not answer (libnfc: NFC_ERFTRANS)
	StatusBadParam   = 0x10
	StatusNotAllowed = 0x27 // command not acceptable in the current context
)

// Firmware is what GetFirmwareVersion reports: IC PN532, version 1.6,
// support for ISO/IEC 14443 A and B and ISO 18092.
var Firmware = []byte{0x32, 0x01, 0x06, 0x07}

// AutoPoll target types (InAutoPoll).
const (
	pttGeneric106  = 0x00
	pttMifare      = 0x10
	pttISO14443_4A = 0x20
)

// execute runs one command. It returns a frame that interrupted a blocking
// command, to be handled next.
func (e *Emulator) execute(cmd []byte) (next *Frame) {
	code, p := cmd[0], cmd[1:]
	e.note(code)
	switch code {
	case CmdDiagnose:
		e.diagnose(p)
	case CmdGetFirmwareVersion:
		e.reply(code, Firmware)
	case CmdGetGeneralStatus:
		e.reply(code, e.generalStatus())
	case CmdReadRegister:
		if len(p) == 0 || len(p)%2 != 0 {
			e.replyError()
			return nil
		}
		vals := make([]byte, 0, len(p)/2)
		for i := 0; i < len(p); i += 2 {
			vals = append(vals, e.st.regs[uint16(p[i])<<8|uint16(p[i+1])])
		}
		e.reply(code, vals)
	case CmdWriteRegister:
		if len(p) == 0 || len(p)%3 != 0 {
			e.replyError()
			return nil
		}
		for i := 0; i < len(p); i += 3 {
			e.st.regs[uint16(p[i])<<8|uint16(p[i+1])] = p[i+2]
		}
		e.reply(code, nil)
	case CmdReadGPIO:
		e.reply(code, []byte{0x3F, 0x07, 0x00})
	case CmdWriteGPIO, CmdSetSerialBaudRate:
		e.reply(code, nil)
	case CmdSetParameters:
		if len(p) != 1 {
			e.replyError()
			return nil
		}
		e.st.params = p[0]
		e.reply(code, nil)
	case CmdSAMConfiguration:
		if len(p) == 0 || p[0] < 1 || p[0] > 4 {
			e.replyError()
			return nil
		}
		e.reply(code, nil)
	case CmdPowerDown:
		e.reply(code, []byte{StatusOK})
	case CmdRFConfiguration:
		e.rfConfiguration(p)
	case CmdInListPassiveTarget:
		return e.inListPassiveTarget(p)
	case CmdInAutoPoll:
		return e.inAutoPoll(p)
	case CmdInDataExchange:
		e.reply(code, e.inDataExchange(p))
	case CmdInCommunicateThru:
		e.reply(code, e.inCommunicateThru(p))
	case CmdInJumpForDEP, CmdInJumpForPSL, CmdInATR, CmdInPSL:
		// NFC-DEP: no such target in the field.
		e.reply(code, []byte{StatusTimeout})
	case CmdInDeselect:
		if e.st.target {
			e.st.active = false
			e.st.chainIn, e.st.chainOut = nil, nil
		}
		e.reply(code, []byte{StatusOK})
	case CmdInRelease:
		e.release()
		e.reply(code, []byte{StatusOK})
	case CmdInSelect:
		e.reply(code, []byte{e.inSelect(p)})
	default:
		e.mu.Lock()
		e.unknown = append(e.unknown, code)
		e.mu.Unlock()
		e.logf("pn532emu: unknown command %02X (% X), answering with an error frame", code, p)
		e.replyError()
	}
	return nil
}

func (e *Emulator) diagnose(p []byte) {
	if len(p) == 0 {
		e.replyError()
		return
	}
	switch p[0] {
	case 0x00: // communication line test: echo
		e.reply(CmdDiagnose, p)
	case 0x01, 0x02, 0x07: // ROM, RAM, antenna self tests
		e.reply(CmdDiagnose, []byte{StatusOK})
	case 0x04: // polling test: number of failures
		fails := byte(0)
		if e.targetTag() == nil {
			fails = 0x01
		}
		e.reply(CmdDiagnose, []byte{fails})
	case 0x06: // attention request / ISO 14443-4 card presence
		inField, _ := e.currentTag()
		switch {
		case !e.st.target && inField != nil:
			e.reply(CmdDiagnose, []byte{StatusNotAllowed})
		case e.targetTag() == nil || !e.st.active:
			e.reply(CmdDiagnose, []byte{StatusTimeout})
		default:
			e.reply(CmdDiagnose, []byte{StatusOK})
		}
	default:
		e.logf("pn532emu: unsupported Diagnose test %02X", p[0])
		e.replyError()
	}
}

func (e *Emulator) generalStatus() []byte {
	field := byte(0)
	if e.st.rfOn {
		field = 1
	}
	if e.targetTag() == nil {
		return []byte{StatusOK, field, 0x00, 0x00}
	}
	// Err, Field, NbTg, Tg BrRx BrTx Type, SAM status.
	return []byte{StatusOK, field, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00}
}

func (e *Emulator) rfConfiguration(p []byte) {
	if len(p) == 0 {
		e.replyError()
		return
	}
	switch p[0] {
	case 0x01: // RF field
		if len(p) < 2 {
			e.replyError()
			return
		}
		on := p[1]&0x01 != 0
		if !on {
			// The tag loses power: whatever was activated is gone.
			if e.st.rfOn {
				e.resetTag()
			}
			e.st.targetGen = 0
			e.st.chainIn, e.st.chainOut = nil, nil
		}
		e.st.rfOn = on
	case 0x05: // MxRtyATR, MxRtyPSL, MxRtyPassiveActivation
		if len(p) < 4 {
			e.replyError()
			return
		}
		e.st.mxRtyPassive = p[3]
	}
	// Timings (02), MaxRtyCOM (04) and analog settings (0A–0D) are accepted
	// and have no effect on an emulated field.
	e.reply(CmdRFConfiguration, nil)
}

// release forgets the listed target (InRelease, or a new listing).
func (e *Emulator) release() {
	e.st.target, e.st.active, e.st.targetGen = false, false, 0
	e.st.chainIn, e.st.chainOut = nil, nil
}

// resetTag tells a tag that models it that it lost power or its session.
func (e *Emulator) resetTag() {
	if tag, _ := e.currentTag(); tag != nil {
		if r, ok := tag.(Resetter); ok {
			r.Reset()
		}
	}
}

// activate makes the tag of generation gen logical target 1.
func (e *Emulator) activate(gen uint64, uid []byte) {
	e.resetTag()
	e.st.target, e.st.active, e.st.targetGen = true, true, gen
	e.st.targetUID = append(e.st.targetUID[:0], uid...)
	e.st.piccBlock = 1 // ISO 14443-4: the PICC block number starts at 1
	// The PN532 switches the CIU to ISO 14443-A framing at 106 kbit/s.
	e.st.regs[0x6302] &^= 0x73
	e.st.regs[0x6303] &^= 0x73
	e.st.chainIn, e.st.chainOut = nil, nil
}

// targetData is TargetData of InListPassiveTarget for a type A tag:
// Tg SENS_RES(2) SEL_RES NFCIDLength NFCID1 [ATS including TL].
func (e *Emulator) targetData(tag reader.Emulated, withATS bool) []byte {
	atqa, sak := [2]byte{0x03, 0x44}, byte(0x20)
	if a, ok := tag.(Anticollision); ok {
		atqa, sak = a.ATQA(), a.SAK()
	}
	uid := tag.UID()
	d := []byte{0x01, atqa[0], atqa[1], sak, byte(len(uid))}
	d = append(d, uid...)
	if withATS && sak&0x20 != 0 && e.st.params&paramAutoRATS != 0 {
		d = append(d, tag.ATS()...)
	}
	return d
}

// uidMatches compares the InListPassiveTarget initiator data (the UID,
// possibly with cascade tags 88) with uid. Empty initiator data matches.
func uidMatches(init, uid []byte) bool {
	if len(init) == 0 {
		return true
	}
	if bytes.Equal(init, uid) {
		return true
	}
	var plain []byte
	for i := 0; i < len(init); i += 4 {
		chunk := init[i:min(i+4, len(init))]
		if len(chunk) == 4 && chunk[0] == 0x88 && i+4 < len(init) {
			chunk = chunk[1:]
		}
		plain = append(plain, chunk...)
	}
	return bytes.Equal(plain, uid)
}

func (e *Emulator) inListPassiveTarget(p []byte) *Frame {
	if len(p) < 2 || p[0] == 0 || p[0] > 2 {
		e.replyError()
		return nil
	}
	brTy, init := p[1], p[2:]
	e.release()
	e.st.rfOn = true
	if brTy != 0x00 {
		// FeliCa, type B, Jewel: nothing of the kind in the field.
		e.reply(CmdInListPassiveTarget, []byte{0x00})
		return nil
	}
	for {
		tag, gen := e.currentTag()
		if tag != nil && uidMatches(init, tag.UID()) {
			e.activate(gen, tag.UID())
			e.reply(CmdInListPassiveTarget, append([]byte{0x01}, e.targetData(tag, true)...))
			return nil
		}
		if e.st.mxRtyPassive != 0xFF {
			e.reply(CmdInListPassiveTarget, []byte{0x00})
			return nil
		}
		// Infinite retries: the PN532 answers when a tag shows up.
		_, aborted, next := e.waitTagChange(gen, time.Time{})
		if aborted {
			return next
		}
	}
}

func (e *Emulator) inAutoPoll(p []byte) *Frame {
	if len(p) < 3 || p[0] == 0 || p[1] == 0 || p[1] > 0x0F {
		e.replyError()
		return nil
	}
	pollNr, period, types := p[0], p[1], p[2:]
	e.release()
	e.st.rfOn = true
	var deadline time.Time
	if pollNr != 0xFF {
		d := time.Duration(pollNr) * time.Duration(len(types)) * time.Duration(period) * 150 * time.Millisecond
		deadline = time.Now().Add(d)
	}
	for {
		tag, gen := e.currentTag()
		if tag != nil {
			for _, t := range types {
				if t != pttGeneric106 && t != pttMifare && t != pttISO14443_4A {
					continue
				}
				withATS := t == pttISO14443_4A
				if t == pttGeneric106 {
					t = pttMifare
					if e.targetData(tag, false)[3]&0x20 != 0 {
						t, withATS = pttISO14443_4A, true
					}
				}
				d := e.targetData(tag, withATS)
				e.activate(gen, tag.UID())
				e.reply(CmdInAutoPoll, append([]byte{0x01, t, byte(len(d))}, d...))
				return nil
			}
		}
		changed, aborted, next := e.waitTagChange(gen, deadline)
		if aborted {
			return next
		}
		if !changed {
			e.reply(CmdInAutoPoll, []byte{0x00})
			return nil
		}
	}
}

func (e *Emulator) inSelect(p []byte) byte {
	if len(p) != 1 || p[0]&0x3F != 1 || !e.st.target {
		return StatusNotAllowed
	}
	tag, gen := e.currentTag()
	if tag == nil || !e.st.rfOn {
		return StatusTimeout
	}
	// A tag that arrived since the listing (or the same one put back) only
	// answers if it has the UID the PN532 listed.
	if gen != e.st.targetGen && !bytes.Equal(tag.UID(), e.st.targetUID) {
		return StatusTimeout
	}
	e.activate(gen, tag.UID())
	return StatusOK
}

// inCommunicateThru answers raw frames. The activated ISO 14443-4 tag
// answers the single-byte R and S blocks libnfc sends itself: its presence
// check on a PN532 is an R(NAK) (B2), answered with an R(ACK), and
// S(DESELECT) (C2) is echoed and halts the tag. Every other raw frame times
// out (status 01): libnfc probes type B', ST SRx and ASK CTx tags with raw
// frames, and answering those would make it report phantom targets.
func (e *Emulator) inCommunicateThru(p []byte) []byte {
	typeA := e.st.regs[0x6302]&0x03 == 0 // CIU_TxMode TxFraming: ISO 14443-A
	if len(p) != 1 || !typeA || !e.st.active || e.targetTag() == nil {
		return []byte{StatusTimeout}
	}
	switch pcb := p[0]; {
	case pcb&0xE6 == 0xA2: // R(ACK) or R(NAK), no CID
		return []byte{StatusOK, 0xA2 | e.st.piccBlock}
	case pcb == 0xC2: // S(DESELECT)
		e.st.active = false
		e.st.chainIn, e.st.chainOut = nil, nil
		return []byte{StatusOK, 0xC2}
	}
	return []byte{StatusTimeout}
}

// inDataExchange answers InDataExchange: Status [DataIn].
func (e *Emulator) inDataExchange(p []byte) []byte {
	if len(p) == 0 {
		return []byte{StatusBadParam}
	}
	tg, data := p[0], p[1:]
	more := tg&0x40 != 0
	tag := e.targetTag()
	if tg&0x3F != 1 || tag == nil || !e.st.active {
		e.st.chainIn, e.st.chainOut = nil, nil
		if inField, _ := e.currentTag(); tg&0x3F == 1 && (e.st.target || inField == nil) {
			// Nothing answers the I-block: the tag left, was put
			// back without a new listing, or was deselected.
			return []byte{StatusTimeout}
		}
		return []byte{StatusNotAllowed} // no such target listed
	}
	if len(data) == 0 && !more && e.st.chainOut != nil {
		return e.nextChunk()
	}
	e.st.chainOut = nil
	if more {
		// The host chains a long C-APDU: collect it.
		e.st.chainIn = append(e.st.chainIn, data...)
		return []byte{StatusOK}
	}
	capdu := append(e.st.chainIn, data...)
	e.st.chainIn = nil

	e.mu.Lock()
	gen := e.tagGen
	tear := false
	if e.removeDuring > 0 {
		e.removeDuring--
		tear = e.removeDuring == 0
	}
	e.mu.Unlock()

	resp := append([]byte(nil), tag.Process(capdu)...)

	e.mu.Lock()
	e.exchanges++
	if e.tagGen != gen {
		e.mu.Unlock()
		return []byte{StatusTimeout} // removed while the tag was busy
	}
	if tear || len(resp) == 0 {
		// An empty answer is no answer: reader/sim's tag gives one
		// when its own fault hooks took it out of the field.
		e.setTagLocked(nil)
		e.mu.Unlock()
		return []byte{StatusTimeout}
	}
	if e.removeAfter > 0 {
		e.removeAfter--
		if e.removeAfter == 0 {
			e.setTagLocked(nil)
		}
	}
	e.mu.Unlock()

	e.st.piccBlock ^= 1 // approximately: one I-block exchange per APDU
	e.st.chainOut = resp
	return e.nextChunk()
}

// nextChunk returns the next part of the pending R-APDU, with the MI bit set
// while more remains.
func (e *Emulator) nextChunk() []byte {
	rest := e.st.chainOut
	n := min(len(rest), e.opts.MaxExchangeData)
	status := byte(StatusOK)
	if n < len(rest) {
		status |= 0x40
		e.st.chainOut = rest[n:]
	} else {
		e.st.chainOut = nil
	}
	return append([]byte{status}, rest[:n]...)
}
