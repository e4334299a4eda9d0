package sim

import (
	"bytes"
	"testing"

	"github.com/tagline-station/tagline/apdu"
	"github.com/tagline-station/tagline/keys"
)

func TestFailedAuthenticationDelayAndLock(t *testing.T) {
	tag := New(Options{AuthDelayAfter: 3, AuthDelayResponses: 2, TotFailCtrLimit: 8, TotFailCtrDecr: 2})
	p := newPCD(t, tag)
	p.selectApp()
	wrong := mustKey(t, bytes.Repeat([]byte{0xEE}, 16))
	rndA := bytes.Repeat([]byte{0x42}, 16)

	for range 3 {
		p.authFail(1, wrong, apdu.SWAdditionalFrame)
	}
	if s := tag.Snapshot(); s.TotFailCtr[1] != 3 || s.SeqFailCtr[1] != 3 || s.TotFailCtr[0] != 0 {
		t.Fatalf("counters %v %v", s.TotFailCtr, s.SeqFailCtr)
	}
	// The delay: the next two attempts with key 1 are refused 91AD; other
	// keys are not affected.
	p.authFail(1, wrong, apdu.SWAuthDelay)
	p.authFirst(2, keys.FactoryKey, rndA)
	p.authFail(1, wrong, apdu.SWAuthDelay)
	// Delay spent: a correct authentication works again, clears the
	// consecutive counter and takes TotFailCtrDecr off the total.
	p.authFirst(1, keys.FactoryKey, rndA)
	if s := tag.Snapshot(); s.TotFailCtr[1] != 1 || s.SeqFailCtr[1] != 0 {
		t.Fatalf("after success: tot %d seq %d", s.TotFailCtr[1], s.SeqFailCtr[1])
	}
	// Fail until the total reaches the limit: 91AD answers in between are
	// part of the model, the lock is permanent.
	for tag.Snapshot().TotFailCtr[1] < 8 {
		r := tag.Process(apdu.Native(apdu.InsAuthenticateEV2First, []byte{1, 0}))
		if sw(r) == apdu.SWAdditionalFrame {
			p.s = nil
			cr := bytes.Repeat([]byte{0x01}, 32)
			if got := sw(tag.Process(apdu.Native(apdu.InsAdditionalFrame, cr))); got != apdu.SWAuthError {
				t.Fatalf("wrong cryptogram answered %04X", uint16(got))
			}
		} else if sw(r) != apdu.SWAuthDelay {
			t.Fatalf("part 1 answered %X", r)
		}
	}
	for range 5 {
		p.authFail(1, keys.FactoryKey, apdu.SWPermissionDenied)
	}
	// Recovery: ChangeKey of the locked key with key 0 resets its counters.
	p.authFirst(0, keys.FactoryKey, rndA)
	nk := mustKey(t, bytes.Repeat([]byte{0x77}, 16))
	p.changeKey(1, keys.FactoryKey, nk, 2)
	p.authFirst(1, nk, rndA)
	if s := tag.Snapshot(); s.TotFailCtr[1] != 0 || s.KeyVersion[1] != 2 {
		t.Fatalf("after recovery: tot %d ver %d", s.TotFailCtr[1], s.KeyVersion[1])
	}
}

func TestAuthenticationErrors(t *testing.T) {
	tag := New(Options{})
	p := newPCD(t, tag)
	// At PICC level the application keys are not available.
	p.expect(apdu.Native(apdu.InsAuthenticateEV2First, []byte{0, 0}), apdu.SWPermissionDenied)
	p.selectApp()
	p.expect(apdu.Native(apdu.InsAuthenticateEV2First, []byte{5, 0}), apdu.SWNoSuchKey)
	p.expect(apdu.Native(apdu.InsAuthenticateEV2First, []byte{0}), apdu.SWLengthError)
	p.expect(apdu.Native(apdu.InsAuthenticateEV2NonFirst, []byte{0}), apdu.SWPermissionDenied)
	p.expect(apdu.Native(apdu.InsAdditionalFrame, make([]byte, 32)), apdu.SWIllegalCommand)
	// Another command between the parts aborts the authentication.
	p.expect(apdu.Native(apdu.InsAuthenticateEV2First, []byte{0, 0}), apdu.SWAdditionalFrame)
	p.expect(apdu.Native(apdu.InsGetKeyVersion, []byte{0}), apdu.SWNativeOK)
	p.expect(apdu.Native(apdu.InsAdditionalFrame, make([]byte, 32)), apdu.SWIllegalCommand)
	// A wrong MAC ends the session with 911E and no MAC.
	p.authFirst(0, keys.FactoryKey, bytes.Repeat([]byte{3}, 16))
	r := tag.Process(apdu.Native(apdu.InsGetKeyVersion, []byte{0}, make([]byte, 8)))
	if !bytes.Equal(r, apdu.SWIntegrityError.Bytes()) || sessionOf(tag) != nil {
		t.Fatalf("bad mac: %X", r)
	}
	// GetCardUID needs a session.
	p.expect(apdu.Native(apdu.InsGetCardUID), apdu.SWAuthError)
	// ChangeKey needs key 0.
	p.authFirst(2, keys.FactoryKey, bytes.Repeat([]byte{4}, 16))
	p.full(apdu.InsChangeKey, []byte{1}, make([]byte, 21), apdu.SWAuthError)
	// NonFirst keeps TI and counter and switches the key.
	p.authFirst(2, keys.FactoryKey, bytes.Repeat([]byte{5}, 16))
	p.mac(apdu.InsGetKeyVersion, []byte{0}, nil)
	ti, ctr := p.s.TI, p.s.CmdCtr
	p.authNonFirst(0, keys.FactoryKey, bytes.Repeat([]byte{6}, 16))
	if p.s.TI != ti || p.s.CmdCtr != ctr || sessionOf(tag).KeyNo != 0 {
		t.Fatalf("NonFirst: TI %X ctr %d", p.s.TI, p.s.CmdCtr)
	}
	p.mac(apdu.InsGetKeyVersion, []byte{0}, nil)
	// ChangeKey now works (key 0), the session goes on.
	p.changeKey(4, keys.FactoryKey, mustKey(t, bytes.Repeat([]byte{8}, 16)), 3)
	p.mac(apdu.InsGetKeyVersion, []byte{4}, nil)
}

func TestGetVersion(t *testing.T) {
	tag := New(Options{UID: unhex(t, "04112233445566")})
	p := newPCD(t, tag)
	hw := p.expect(apdu.Native(apdu.InsGetVersion), apdu.SWAdditionalFrame)
	swv := p.expect(apdu.Native(apdu.InsAdditionalFrame), apdu.SWAdditionalFrame)
	prod := p.expect(apdu.Native(apdu.InsAdditionalFrame), apdu.SWNativeOK)
	if !bytes.Equal(hw, versionHW) || !bytes.Equal(swv, versionSW) || !bytes.Equal(prod[:7], tag.UID()) || len(prod) != 14 {
		t.Fatalf("GetVersion %X %X %X", hw, swv, prod)
	}
	// Authenticated: MAC on the command, MAC over the three parts at the end.
	p.selectApp()
	p.authFirst(0, keys.FactoryKey, bytes.Repeat([]byte{9}, 16))
	m := p.s.CommandMAC(apdu.InsGetVersion, nil, nil)
	p.expect(apdu.Native(apdu.InsGetVersion, m[:]), apdu.SWAdditionalFrame)
	p.expect(apdu.Native(apdu.InsAdditionalFrame), apdu.SWAdditionalFrame)
	last := p.expect(apdu.Native(apdu.InsAdditionalFrame), apdu.SWNativeOK)
	all := append(append(append([]byte(nil), versionHW...), versionSW...), last[:14]...)
	if err := p.s.VerifyResponseMAC(0, all, last[14:]); err != nil {
		t.Fatal(err)
	}
	p.s.CmdCtr++
	p.mac(apdu.InsGetKeyVersion, []byte{0}, nil)
}
