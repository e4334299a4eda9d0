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
		return t.authPart2(p, cmd.Data), true
	case apdu.InsAuthenticateEV2First:
		asksLRP := len(cmd.Data) >= 3 && cmd.Data[1] >= 1 && cmd.Data[2]&ev2.PCDCap2LRP != 0
		switch {
		case !t.appSelected:
			return nil, false // native answers 919D at PICC level
		case asksLRP != t.lrp:
			return t.fail(apdu.SWPermissionDenied), true
		case t.lrp:
			t.pend = pending{}
			return t.authPart1(cmd.Data, pendAuthLRP), true
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
