package sim

import (
	"github.com/tagline-station/tagline/apdu"
	"github.com/tagline-station/tagline/ev2"
	"github.com/tagline-station/tagline/keys"
)

// The three authentications the tag models share one flow: part 1 checks
// the key and draws RndB, part 2 checks the PCD's proof, counts a failure
// or clears the counters, and starts the session. What the cipher
// changes (the challenge, the proof, the answer and the session) is in
// the small functions after them.
//
//	pendAuthFirst     AuthenticateEV2First (datasheet 10.4.1)
//	pendAuthNonFirst  AuthenticateEV2NonFirst (10.4.2): keeps TI and CmdCtr
//	pendAuthLRP       AuthenticateLRPFirst (9.2, AN12304)

// authPart1 checks the key of an authentication of kind, draws RndB and
// answers the challenge with 91AF.
func (t *Tag) authPart1(data []byte, kind pendingKind) []byte {
	p := pending{kind: kind}
	if kind != pendAuthNonFirst {
		// KeyNo || LenCap || PCDcap2[LenCap]; longer is accepted (9.1.5).
		if len(data) < 2 || data[1] > 6 || len(data) < 2+int(data[1]) {
			return t.fail(apdu.SWLengthError)
		}
		copy(p.pcdCap[:], data[2:2+int(data[1])])
	} else {
		if len(data) != 1 {
			return t.fail(apdu.SWLengthError)
		}
		if t.sess == nil {
			return t.fail(apdu.SWPermissionDenied)
		}
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
	return append(p.challenge(k.key), okNative, 0xAF)
}

// authPart2 checks the PCD's proof of the key and establishes the
// session.
func (t *Tag) authPart2(p pending, data []byte) []byte {
	if len(data) != 32 {
		return t.fail(apdu.SWLengthError)
	}
	k := &t.keys[p.keyNo]
	start, ok := p.proof(k.key, data)
	if !ok {
		k.totFail++
		k.seqFail++
		if k.seqFail >= t.opts.AuthDelayAfter {
			k.delay = t.opts.AuthDelayResponses
		}
		t.nvm++
		return t.fail(apdu.SWAuthError)
	}
	ti := p.ti
	if p.kind != pendAuthNonFirst {
		b, err := t.random(4)
		if err != nil {
			return t.fail(apdu.SWMemoryError)
		}
		copy(ti[:], b)
	}
	k.seqFail, k.delay = 0, 0
	if k.totFail > 0 {
		k.totFail = max(0, k.totFail-t.opts.TotFailCtrDecr)
		t.nvm++
	}
	ans, s := start(ti)
	t.sess = s
	return append(ans, okNative, 0x00)
}

// sessionStart gives the answer of part 2 and the session, once the
// transaction identifier is known.
type sessionStart func(ti [4]byte) ([]byte, *ev2.Session)

// challenge is part 1's answer: E(Kx, RndB) in AES mode, AuthMode 01 ||
// RndB in clear in LRP mode.
func (p pending) challenge(key keys.Key) []byte {
	if p.kind == pendAuthLRP {
		return append([]byte{ev2.AuthModeLRP}, p.rndB...)
	}
	return ev2.EncryptZeroIV(key, p.rndB)
}

// proof checks part 2's cryptogram: E(Kx, RndA || RndB') in AES mode,
// RndA || PCDResponse in LRP mode.
func (p pending) proof(key keys.Key, data []byte) (sessionStart, bool) {
	if p.kind == pendAuthLRP {
		return p.lrpProof(key, data)
	}
	rndA, err := ev2.PICCCheckPart2(key, data, p.rndB)
	if err != nil {
		return nil, false
	}
	return func(ti [4]byte) ([]byte, *ev2.Session) {
		enc, mac := ev2.DeriveSessionKeys(key, rndA, p.rndB)
		s := ev2.NewSession(enc, mac, ti, p.keyNo)
		if p.kind == pendAuthNonFirst {
			s.CmdCtr = p.ctr
			return ev2.EncryptZeroIV(key, ev2.RotateLeft(rndA)), s
		}
		// TI || RndA' || PDcap2 || PCDcap2 (PDcap2 all zero: AES mode).
		plain := make([]byte, 0, 32)
		plain = append(plain, ti[:]...)
		plain = append(plain, ev2.RotateLeft(rndA)...)
		plain = append(plain, make([]byte, 6)...)
		plain = append(plain, p.pcdCap[:]...)
		return ev2.EncryptZeroIV(key, plain), s
	}, true
}

// lrpProof answers PICCData || PICCResponse; the session starts with
// EncCtr 1.
func (p pending) lrpProof(key keys.Key, data []byte) (sessionStart, bool) {
	rndA := data[:16]
	master := ev2.LRPSessionMasterKey(key, rndA, p.rndB)
	if ev2.LRPCheckPCDResponse(master, rndA, p.rndB, data[16:]) != nil {
		return nil, false
	}
	return func(ti [4]byte) ([]byte, *ev2.Session) {
		ans := ev2.LRPFirstAnswer(master, rndA, p.rndB, ti, lrpPDCap2, p.pcdCap)
		return ans, ev2.NewLRPSession(master, ti, p.keyNo, 1)
	}, true
}
