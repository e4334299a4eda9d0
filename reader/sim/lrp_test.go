package sim

import (
	"bytes"
	"io"
	"testing"

	"github.com/tagline-station/tagline/apdu"
	"github.com/tagline-station/tagline/internal/vectors"
)

// Given AN12321's RndB and TI, a tag in LRP mode answers the published
// AuthenticateLRPFirst byte for byte, and its session starts at EncCtr 1.
func TestAuthenticateLRPFirstVector(t *testing.T) {
	v := vectors.Named(t, "an12321-authenticatelrpfirst-table2")
	rnd := io.MultiReader(bytes.NewReader(v.Out(t, "rnd_b")), bytes.NewReader(v.Out(t, "ti")))
	tag := New(Options{Rand: rnd, LRP: true})
	newPCD(t, tag).selectApp()
	checkIn(t, v, "r_apdu_part1", tag.Process(v.Out(t, "c_apdu_part1")))
	checkIn(t, v, "r_apdu_part2", tag.Process(v.Out(t, "c_apdu_part2")))
	s := sessionOf(tag)
	if s == nil || !s.IsLRP() || s.EncCtr() != 1 || s.KeyNo != 3 {
		t.Fatalf("session after AuthenticateLRPFirst: %+v", s)
	}
	vectors.Check(t, v, "ti", s.TI[:])
}

// A wrong PCDResponse is a failed authentication, counted as in AES mode.
func TestAuthenticateLRPFirstWrongKeyCounts(t *testing.T) {
	v := vectors.Named(t, "an12321-authenticatelrpfirst-table2")
	tag := New(Options{Rand: seeded(3), LRP: true})
	newPCD(t, tag).selectApp()
	if r := tag.Process(v.Out(t, "c_apdu_part1")); sw(r) != apdu.SWAdditionalFrame {
		t.Fatalf("part 1: %X", r)
	}
	// The published proof belongs to another RndB.
	if r := tag.Process(v.Out(t, "c_apdu_part2")); sw(r) != apdu.SWAuthError {
		t.Fatalf("part 2 with a proof for another RndB: %X", r)
	}
	if s := tag.Snapshot(); s.TotFailCtr[3] != 1 || s.Authenticated {
		t.Fatalf("after a failed LRP authentication: %+v", s)
	}
}

// AN12343 table 18's SetConfiguration switches the tag: it answers 9100
// without a MAC, ends the session, and from then on refuses
// AuthenticateEV2First with 919D without counting a failure, while an AES
// tag refuses AuthenticateLRPFirst the same way.
func TestSetConfigurationSwitchesToLRP(t *testing.T) {
	v := vectors.Named(t, "an12343-setconfiguration-lrp-switch")
	tag := New(Options{Rand: seeded(4)})
	lrpAuth := vectors.Named(t, "an12321-authenticatelrpfirst-table2").Out(t, "c_apdu_part1")
	newPCD(t, tag).selectApp()
	if r := tag.Process(lrpAuth); sw(r) != apdu.SWPermissionDenied {
		t.Fatalf("AES tag answered AuthenticateLRPFirst with %X", r)
	}
	injectSession(tag, mustKey(t, v.In(t, "ses_auth_enc_key")), mustKey(t, v.In(t, "ses_auth_mac_key")), v.In(t, "ti"), 0, 0)
	if r := tag.Process(v.Out(t, "c_apdu")); !bytes.Equal(r, []byte{0x91, 0x00}) {
		t.Fatalf("SetConfiguration answered %X, want 9100", r)
	}
	s := tag.Snapshot()
	if !s.LRP || s.Authenticated {
		t.Fatalf("after the switch: LRP %v, authenticated %v", s.LRP, s.Authenticated)
	}
	aes := apdu.Native(apdu.InsAuthenticateEV2First, []byte{0, 0})
	if r := tag.Process(aes); sw(r) != apdu.SWPermissionDenied {
		t.Fatalf("LRP tag answered AuthenticateEV2First with %X", r)
	}
	if r := tag.Process(apdu.Native(apdu.InsAuthenticateEV2NonFirst, []byte{0})); sw(r) != apdu.SWPermissionDenied {
		t.Fatalf("LRP tag answered AuthenticateEV2NonFirst with %X", r)
	}
	if s := tag.Snapshot(); s.TotFailCtr != [NumKeys]int{} {
		t.Fatalf("refusals counted as failures: %v", s.TotFailCtr)
	}
	if r := tag.Process(lrpAuth); sw(r) != apdu.SWAdditionalFrame || r[0] != 0x01 || len(r) != 19 {
		t.Fatalf("LRP tag answered AuthenticateLRPFirst with %X", r)
	}
}

// The switch needs a session with key 0 and a correct MAC; otherwise
// the tag stays in AES mode.
func TestSetConfigurationNeedsKey0(t *testing.T) {
	v := vectors.Named(t, "an12343-setconfiguration-lrp-switch")
	for name, keyNo := range map[string]byte{"no session": 0xFF, "key 1": 1, "bad mac": 0} {
		tag := New(Options{Rand: seeded(5)})
		newPCD(t, tag).selectApp()
		c := bytes.Clone(v.Out(t, "c_apdu"))
		if keyNo != 0xFF {
			injectSession(tag, mustKey(t, v.In(t, "ses_auth_enc_key")), mustKey(t, v.In(t, "ses_auth_mac_key")), v.In(t, "ti"), keyNo, 0)
		}
		if name == "bad mac" {
			c[len(c)-2] ^= 1
		}
		if r := tag.Process(c); sw(r).OK() {
			t.Errorf("%s: switched (%X)", name, r)
		}
		if tag.Snapshot().LRP {
			t.Errorf("%s: the tag is in LRP mode", name)
		}
	}
}
