package sim

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tagline-station/tagline/apdu"
	"github.com/tagline-station/tagline/internal/vectors"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/sdm"
)

// sdmTag returns a tag personalised from a template with keys ks.
func sdmTag(t *testing.T, template string, ks [NumKeys]keys.Key, limit uint32) (*Tag, *sdm.Template) {
	t.Helper()
	tpl, err := sdm.ParseTemplate(template)
	if err != nil {
		t.Fatal(err)
	}
	ndef, err := tpl.NDEF(nil)
	if err != nil {
		t.Fatal(err)
	}
	s := tpl.Settings(2, 1)
	s.Access = sdm.AccessRights{Read: sdm.AccessFree, Write: 3, ReadWrite: 3, Change: 0}
	if limit > 0 {
		s.SDMOptions |= sdm.OptCtrLimit
		s.CtrLimit = limit
	}
	tag, err := NewPersonalised(Options{Rand: seeded(3)}, Personalisation{Keys: ks, NDEF: ndef, NDEFSettings: &s})
	if err != nil {
		t.Fatal(err)
	}
	return tag, tpl
}

func readURL(t *testing.T, data []byte) string {
	t.Helper()
	u, err := sdm.URLFromNDEF(data)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestSDMReadSequence(t *testing.T) {
	ks := tagKeys(t, 0x20)
	tag, tpl := sdmTag(t, flowTemplate, ks, 0)
	p := newPCD(t, tag)
	p.selectApp()
	p.selectEF(apdu.FIDNDEF)
	ctrOf := func(u string) sdm.Counter {
		t.Helper()
		v, err := tpl.Verify(u, keyLookup(ks))
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		return v.Ctr
	}
	u1 := readURL(t, p.readBinary(0, 0))
	u1b := readURL(t, p.readBinary(0, 0))
	if u1 != u1b || ctrOf(u1) != 1 {
		t.Fatalf("consecutive reads differ: %s / %s", u1, u1b)
	}
	// ReadData is another command type: a new sequence.
	u2 := readURL(t, p.plain(apdu.InsReadData, dataHdr(apdu.FileNDEF, 0, 0), nil, apdu.SWNativeOK))
	if ctrOf(u2) != 2 {
		t.Fatalf("ReadData after ISOReadBinary: %s", u2)
	}
	// Any other command in between ends the sequence too.
	p.plain(apdu.InsGetFileSettings, []byte{apdu.FileNDEF}, nil, apdu.SWNativeOK)
	u3 := readURL(t, p.plain(apdu.InsReadData, dataHdr(apdu.FileNDEF, 0, 0), nil, apdu.SWNativeOK))
	if ctrOf(u3) != 3 || u3 == u2 {
		t.Fatalf("after another command: %s", u3)
	}
	// GetFileCounters needs SDMCtrRet (key 1 here).
	p.plain(apdu.InsGetFileCounters, []byte{apdu.FileNDEF}, nil, apdu.SWAuthError)
	p.authFirst(1, ks[1], bytes.Repeat([]byte{1}, 16))
	if c := p.full(apdu.InsGetFileCounters, []byte{apdu.FileNDEF}, nil, apdu.SWNativeOK); !bytes.Equal(c, []byte{3, 0, 0, 0, 0}) {
		t.Fatalf("GetFileCounters = %X", c)
	}
	// Authenticated reads see the static file and do not count; ISO reads
	// are refused.
	p.selectApp()
	p.authFirst(3, ks[3], bytes.Repeat([]byte{2}, 16))
	static := p.plain(apdu.InsReadData, dataHdr(apdu.FileNDEF, 0, 0), nil, apdu.SWNativeOK)
	if u := readURL(t, static); !strings.Contains(u, "p=00000000000000000000000000000000&m=0000000000000000") {
		t.Fatalf("authenticated read mirrored: %s", u)
	}
	p.selectEF(apdu.FIDNDEF)
	p.expect([]byte{0x00, 0xB0, 0x00, 0x00, 0x00}, apdu.SWISOSecurityStatus)
	if tag.SDMReadCtr() != 3 {
		t.Fatalf("SDMReadCtr = %d", tag.SDMReadCtr())
	}
}

func TestSDMPlainMirrorAndLimit(t *testing.T) {
	ks := tagKeys(t, 0x30)
	tag, tpl := sdmTag(t, "https://brand.example/t?u={uid}&c={ctr}&m={mac}", ks, 2)
	p := newPCD(t, tag)
	p.selectApp()
	p.selectEF(apdu.FIDNDEF)
	u := readURL(t, p.readBinary(0, 0))
	if !strings.Contains(u, "u="+vectors.Upper(tag.UID())+"&c=000001&m=") {
		t.Fatalf("plain mirror: %s", u)
	}
	if _, err := tpl.Verify(u, keyLookup(ks)); err != nil {
		t.Fatalf("%s: %v", u, err)
	}
	p.selectEF(apdu.FIDNDEF)
	if u := readURL(t, p.readBinary(0, 0)); !strings.Contains(u, "&c=000002&") {
		t.Fatalf("second read: %s", u)
	}
	// SDMReadCtrLimit 2 reached: no more reads without authentication.
	p.selectEF(apdu.FIDNDEF)
	p.expect([]byte{0x00, 0xB0, 0x00, 0x00, 0x00}, apdu.SWISOSecurityStatus)
	p.plain(apdu.InsReadData, dataHdr(apdu.FileNDEF, 0, 0), nil, apdu.SWPermissionDenied)
	p.authFirst(0, ks[0], bytes.Repeat([]byte{7}, 16))
	// Read right E: plain, static data, allowed while authenticated.
	p.plain(apdu.InsReadData, dataHdr(apdu.FileNDEF, 0, 16), nil, apdu.SWNativeOK)
}

func TestChangeFileSettingsRules(t *testing.T) {
	tag := New(Options{})
	p := newPCD(t, tag)
	p.selectApp()
	tpl, _ := sdm.ParseTemplate(flowTemplate)
	s := tpl.Settings(2, 1)
	s.Access = sdm.AccessRights{Read: sdm.AccessFree, Write: 3, ReadWrite: 3, Change: 0}
	// Change right is key 0: needs a key-0 session.
	p.plain(apdu.InsChangeFileSettings, []byte{apdu.FileNDEF}, s.ChangeData(), apdu.SWAuthError)
	p.authFirst(0, keys.FactoryKey, bytes.Repeat([]byte{1}, 16))
	p.full(apdu.InsChangeFileSettings, []byte{9}, s.ChangeData(), apdu.SWFileNotFound)
	p.authFirst(0, keys.FactoryKey, bytes.Repeat([]byte{1}, 16))
	// SDM only on the NDEF file.
	p.full(apdu.InsChangeFileSettings, []byte{apdu.FileCC}, s.ChangeData(), apdu.SWPermissionDenied)
	p.authFirst(0, keys.FactoryKey, bytes.Repeat([]byte{1}, 16))
	// Offsets outside the file: parameter error, nothing changes.
	bad := s
	bad.MACOffset = 250
	p.full(apdu.InsChangeFileSettings, []byte{apdu.FileNDEF}, bad.ChangeData(), apdu.SWParameterError)
	if !tag.IsFactoryFresh() {
		t.Fatal("a refused ChangeFileSettings changed the tag")
	}
	p.authFirst(0, keys.FactoryKey, bytes.Repeat([]byte{1}, 16))
	// Access right naming key 7: no such key.
	bad = s
	bad.Access.Write = 7
	p.full(apdu.InsChangeFileSettings, []byte{apdu.FileNDEF}, bad.ChangeData(), apdu.SWParameterError)
	p.authFirst(0, keys.FactoryKey, bytes.Repeat([]byte{1}, 16))
	p.full(apdu.InsChangeFileSettings, []byte{apdu.FileNDEF}, s.ChangeData(), apdu.SWNativeOK)
	got := p.mac(apdu.InsGetFileSettings, []byte{apdu.FileNDEF}, nil)
	want := s
	want.FileSize = 256
	if !bytes.Equal(got, want.GetData()) {
		t.Fatalf("GetFileSettings = %X, want %X", got, want.GetData())
	}
	// Change right F: never.
	cc := settings(sdm.CommModePlain, sdm.AccessFree, 0, 0, sdm.AccessNone, 32)
	p.full(apdu.InsChangeFileSettings, []byte{apdu.FileCC}, cc.ChangeData(), apdu.SWNativeOK)
	p.authFirst(0, keys.FactoryKey, bytes.Repeat([]byte{1}, 16))
	p.full(apdu.InsChangeFileSettings, []byte{apdu.FileCC}, cc.ChangeData(), apdu.SWPermissionDenied)
}

func TestAccessRights(t *testing.T) {
	tag := New(Options{})
	p := newPCD(t, tag)
	p.selectApp()
	// Factory: the CC file is readable, not writable without key 0.
	p.selectEF(apdu.FIDCC)
	if cc := p.readBinary(0, 0x0F); !bytes.Equal(cc, factoryCC[:15]) {
		t.Fatalf("CC = %X", cc)
	}
	p.expect([]byte{0x00, 0xD6, 0x00, 0x00, 0x01, 0x00}, apdu.SWISOSecurityStatus)
	// Proprietary file: read key 2, write key 3, CommMode.Full.
	p.selectEF(apdu.FIDProprietary)
	p.expect([]byte{0x00, 0xB0, 0x00, 0x00, 0x00}, apdu.SWISOSecurityStatus)
	p.plain(apdu.InsReadData, dataHdr(apdu.FileProprietary, 0, 0), nil, apdu.SWAuthError)
	p.authFirst(2, keys.FactoryKey, bytes.Repeat([]byte{1}, 16))
	p.full(apdu.InsWriteData, dataHdr(apdu.FileProprietary, 0, 4), []byte{1, 2, 3, 4}, apdu.SWAuthError)
	p.authFirst(3, keys.FactoryKey, bytes.Repeat([]byte{1}, 16))
	p.full(apdu.InsWriteData, dataHdr(apdu.FileProprietary, 0, 4), []byte{1, 2, 3, 4}, apdu.SWNativeOK)
	p.full(apdu.InsWriteData, dataHdr(apdu.FileProprietary, 126, 4), []byte{1, 2, 3, 4}, apdu.SWBoundaryError)
	p.authFirst(2, keys.FactoryKey, bytes.Repeat([]byte{1}, 16))
	if got := p.full(apdu.InsReadData, dataHdr(apdu.FileProprietary, 0, 6), nil, apdu.SWNativeOK); !bytes.Equal(got, []byte{1, 2, 3, 4, 0, 0}) {
		t.Fatalf("ReadData = %X", got)
	}
	p.full(apdu.InsReadData, dataHdr(apdu.FileProprietary, 128, 1), nil, apdu.SWBoundaryError)
	// Write right of the NDEF file set to key 3: unauthenticated writes
	// fail with AUTHENTICATION_ERROR (datasheet table 83), ISO with 6982.
	p.authFirst(0, keys.FactoryKey, bytes.Repeat([]byte{1}, 16))
	nd := settings(sdm.CommModePlain, sdm.AccessFree, 3, 3, 0, 256)
	p.full(apdu.InsChangeFileSettings, []byte{apdu.FileNDEF}, nd.ChangeData(), apdu.SWNativeOK)
	p.selectApp()
	p.plain(apdu.InsWriteData, dataHdr(apdu.FileNDEF, 0, 1), []byte{1}, apdu.SWAuthError)
	p.selectEF(apdu.FIDNDEF)
	p.expect([]byte{0x00, 0xD6, 0x00, 0x00, 0x01, 0x01}, apdu.SWISOSecurityStatus)
	// At PICC level file commands are refused.
	p.expect([]byte{0x00, 0xA4, 0x00, 0x0C, 0x02, 0x3F, 0x00}, apdu.SWOK)
	p.plain(apdu.InsReadData, dataHdr(apdu.FileNDEF, 0, 1), nil, apdu.SWPermissionDenied)
	p.expect([]byte{0x00, 0xA4, 0x02, 0x0C, 0x02, 0xE1, 0x04}, apdu.SWISOFileNotFound)
}

func TestUnknownCommands(t *testing.T) {
	tag := New(Options{})
	for _, c := range []struct {
		capdu []byte
		want  apdu.StatusWord
	}{
		{[]byte{0x90, 0x6E, 0x00, 0x00, 0x00}, apdu.SWIllegalCommand}, // GetFreeMem: not modelled
		{[]byte{0x90, 0xA4, 0x00, 0x00, 0x00}, apdu.SWIllegalCommand},
		{[]byte{0x00, 0x8D, 0x00, 0x00, 0x00}, apdu.SWISOInsNotSupported},
		{[]byte{0x80, 0xCA, 0x00, 0x00, 0x00}, apdu.SWISOClaNotSupported},
		{[]byte{0x90, 0x60}, apdu.SWISOWrongLength},
		{[]byte{0x90, 0x60, 0x00, 0x00, 0x05, 0x00}, apdu.SWLengthError},
		{[]byte{0x00, 0xA4, 0x04, 0x0C, 0x07, 0xD2, 0x76, 0x00, 0x00, 0x85, 0x01, 0x02, 0x00}, apdu.SWISOFileNotFound},
		{[]byte{0x00, 0xB0, 0x00, 0x00, 0x00}, apdu.SWISOConditions},
	} {
		if r := tag.Process(c.capdu); !bytes.Equal(r, c.want.Bytes()) {
			t.Errorf("%X: %X, want %04X", c.capdu, r, uint16(c.want))
		}
	}
}
