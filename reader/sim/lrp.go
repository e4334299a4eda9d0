package sim

import (
	"github.com/tagline-station/tagline/apdu"
	"github.com/tagline-station/tagline/ev2"
	"github.com/tagline-station/tagline/sdm"
)

// LRP mode (datasheet 9.2, AN12304). A tag leaves the factory in AES mode;
// SetConfiguration option 05 with PDCap2.1 = 02, under a session with key
// 0, switches it to LRP for good. From then on it accepts only
// AuthenticateLRPFirst (INS 71 with PCDcap2.1 = 02), refuses
// AuthenticateEV2First and the non-first authentications with 919D
// (counting no failure: no cryptogram was checked), speaks LRP secure
// messaging and mirrors LRP SUN messages (sdm/lrp.go). A tag in AES mode
// refuses AuthenticateLRPFirst the same way.

// pendAuthLRP is part 2 of AuthenticateLRPFirst.
const pendAuthLRP = pendVersion + 100

// lrpPDCap2 is the PDcap2 an LRP tag reports: PDCap2.1 = 02.
var lrpPDCap2 = [6]byte{ev2.PCDCap2LRP}

// lrpNative handles what LRP changes in the native command set and
// reports false for everything it leaves to native.
func (t *Tag) lrpNative(cmd apdu.Command) ([]byte, bool) {
	switch cmd.Ins {
	case apdu.InsAdditionalFrame:
		if t.pend.kind != pendAuthLRP {
			return nil, false
		}
		p := t.pend
		t.pend = pending{}
		return t.lrpAuthPart2(p, cmd.Data), true
	case apdu.InsAuthenticateEV2First:
		asksLRP := len(cmd.Data) >= 3 && cmd.Data[1] >= 1 && cmd.Data[2]&ev2.PCDCap2LRP != 0
		switch {
		case !t.appSelected:
			return nil, false // native answers 919D at PICC level
		case asksLRP != t.lrp:
			return t.fail(apdu.SWPermissionDenied), true
		case t.lrp:
			t.pend = pending{}
			return t.lrpAuthPart1(cmd.Data), true
		}
	case apdu.InsAuthenticateEV2NonFirst:
		if t.lrp && t.appSelected {
			// AuthenticateLRPNonFirst is not modelled.
			return t.fail(apdu.SWPermissionDenied), true
		}
	case apdu.InsSetConfiguration:
		if len(cmd.Data) == 0 || cmd.Data[0] != 0x05 {
			return nil, false // other options are not LRP's
		}
		t.pend = pending{}
		return t.setConfiguration(cmd.Data), true
	}
	return nil, false
}

// lrpAuthPart1 checks the key like AuthenticateEV2First and answers
// AuthMode 01 || RndB in clear with 91AF.
func (t *Tag) lrpAuthPart1(data []byte) []byte {
	if len(data) < 2 || data[1] > 6 || len(data) < 2+int(data[1]) {
		return t.fail(apdu.SWLengthError)
	}
	p := pending{kind: pendAuthLRP, keyNo: data[0]}
	copy(p.pcdCap[:], data[2:2+int(data[1])])
	if p.keyNo >= NumKeys {
		return t.fail(apdu.SWNoSuchKey)
	}
	t.sess = nil
	k := &t.keys[p.keyNo]
	if k.totFail >= t.opts.TotFailCtrLimit {
		return t.fail(apdu.SWPermissionDenied)
	}
	if k.delay > 0 {
		k.delay--
		return t.fail(apdu.SWAuthDelay)
	}
	rndB, err := t.random(16)
	if err != nil {
		return t.fail(apdu.SWMemoryError)
	}
	p.rndB = rndB
	t.pend = p
	return append(append([]byte{ev2.AuthModeLRP}, rndB...), okNative, 0xAF)
}

// lrpAuthPart2 checks RndA || PCDResponse and answers PICCData ||
// PICCResponse; the session starts with EncCtr 1.
func (t *Tag) lrpAuthPart2(p pending, data []byte) []byte {
	if len(data) != 32 {
		return t.fail(apdu.SWLengthError)
	}
	k := &t.keys[p.keyNo]
	rndA := data[:16]
	master := ev2.LRPSessionMasterKey(k.key, rndA, p.rndB)
	if ev2.LRPCheckPCDResponse(master, rndA, p.rndB, data[16:]) != nil {
		k.totFail++
		k.seqFail++
		if k.seqFail >= t.opts.AuthDelayAfter {
			k.delay = t.opts.AuthDelayResponses
		}
		t.nvm++
		return t.fail(apdu.SWAuthError)
	}
	b, err := t.random(4)
	if err != nil {
		return t.fail(apdu.SWMemoryError)
	}
	var ti [4]byte
	copy(ti[:], b)
	k.seqFail, k.delay = 0, 0
	if k.totFail > 0 {
		k.totFail = max(0, k.totFail-t.opts.TotFailCtrDecr)
		t.nvm++
	}
	ans := ev2.LRPFirstAnswer(master, rndA, p.rndB, ti, lrpPDCap2, p.pcdCap)
	t.sess = ev2.NewLRPSession(master, ti, p.keyNo, 1)
	return append(ans, okNative, 0x00)
}

// setConfiguration models option 05 (PDCap2) only, the LRP switch: key 0,
// CommMode.Full, ten bytes with PDCap2.1 at index 4. The tag switches, ends
// the session and answers 9100 without a MAC (as NXP tags do). Other
// options go to native.
func (t *Tag) setConfiguration(data []byte) []byte {
	if !t.appSelected {
		return t.fail(apdu.SWPermissionDenied)
	}
	if t.sess == nil || t.sess.KeyNo != 0 {
		return t.fail(apdu.SWAuthError)
	}
	hdr, body, sw := t.unwrap(apdu.InsSetConfiguration, data, 1, sdm.CommModeFull)
	if sw != 0 {
		return t.fail(sw)
	}
	if hdr[0] != 0x05 {
		return t.fail(apdu.SWParameterError)
	}
	if len(body) != 10 {
		return t.fail(apdu.SWLengthError)
	}
	if body[4]&ev2.PCDCap2LRP != 0 && !t.lrp {
		t.lrp = true
		t.nvm++
	}
	t.sess = nil
	return []byte{okNative, 0x00}
}

// lrpPICCRandLen is the part of the drawn PICCData random that is PICCRand
// in LRP mode; the rest pads the encrypted record.
const lrpPICCRandLen = 8
