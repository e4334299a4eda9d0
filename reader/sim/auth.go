package sim

import (
	"github.com/tagline-station/tagline/apdu"
	"github.com/tagline-station/tagline/ev2"
)

// authPart1 is AuthenticateEV2First (first) or AuthenticateEV2NonFirst,
// part 1 (datasheet 10.4.1, 10.4.2): check the key, draw RndB, answer
// E(Kx, RndB) with 91AF.
func (t *Tag) authPart1(data []byte, first bool) []byte {
	var p pending
	if first {
		// KeyNo || LenCap || PCDcap2[LenCap]; longer is accepted (9.1.5).
		if len(data) < 2 || data[1] > 6 || len(data) < 2+int(data[1]) {
			return t.fail(apdu.SWLengthError)
		}
		p.kind = pendAuthFirst
		copy(p.pcdCap[:], data[2:2+int(data[1])])
	} else {
		if len(data) != 1 {
			return t.fail(apdu.SWLengthError)
		}
		if t.sess == nil {
			return t.fail(apdu.SWPermissionDenied)
		}
		p.kind = pendAuthNonFirst
		p.ti, p.ctr = t.sess.TI, t.sess.CmdCtr
	}
	p.keyNo = data[0]
	if p.keyNo >= NumKeys {
		return t.fail(apdu.SWNoSuchKey)
	}
	// From here the tag is in the middle of an authentication: whatever
	// happens next, the previous session is over (9.1.5, 9.1.6).
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
	return append(ev2.EncryptZeroIV(k.key, rndB), okNative, 0xAF)
}

// authPart2 checks E(Kx, RndA || RndB') and establishes the session.
func (t *Tag) authPart2(p pending, data []byte) []byte {
	if len(data) != 32 {
		return t.fail(apdu.SWLengthError)
	}
	k := &t.keys[p.keyNo]
	rndA, err := ev2.PICCCheckPart2(k.key, data, p.rndB)
	if err != nil {
		k.totFail++
		k.seqFail++
		if k.seqFail >= t.opts.AuthDelayAfter {
			k.delay = t.opts.AuthDelayResponses
		}
		t.nvm++
		return t.fail(apdu.SWAuthError)
	}
	var ti [4]byte
	if p.kind == pendAuthFirst {
		b, err := t.random(4)
		if err != nil {
			return t.fail(apdu.SWMemoryError)
		}
		copy(ti[:], b)
	} else {
		ti = p.ti
	}
	k.seqFail, k.delay = 0, 0
	if k.totFail > 0 {
		k.totFail = max(0, k.totFail-t.opts.TotFailCtrDecr)
		t.nvm++
	}
	enc, mac := ev2.DeriveSessionKeys(k.key, rndA, p.rndB)
	s := ev2.NewSession(enc, mac, ti, p.keyNo)
	var plain []byte
	if p.kind == pendAuthFirst {
		// TI || RndA' || PDcap2 || PCDcap2 (PDcap2 all zero: AES mode).
		plain = make([]byte, 0, 32)
		plain = append(plain, ti[:]...)
		plain = append(plain, ev2.RotateLeft(rndA)...)
		plain = append(plain, make([]byte, 6)...)
		plain = append(plain, p.pcdCap[:]...)
	} else {
		s.CmdCtr = p.ctr
		plain = ev2.RotateLeft(rndA)
	}
	t.sess = s
	return append(ev2.EncryptZeroIV(k.key, plain), okNative, 0x00)
}
