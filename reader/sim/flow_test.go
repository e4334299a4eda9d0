package sim

import (
	"bytes"
	"testing"

	"github.com/tagline-station/tagline/apdu"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/sdm"
)

// tagKeys is a fixed set of application keys for the flow tests.
func tagKeys(t testing.TB, seed byte) [NumKeys]keys.Key {
	var ks [NumKeys]keys.Key
	for i := range ks {
		ks[i] = mustKey(t, bytes.Repeat([]byte{seed + byte(i)}, 16))
	}
	return ks
}

// keyLookup serves Template.Verify from a key set (meta-read key 2,
// file-read key 1, as the flow configures).
type keyLookup [NumKeys]keys.Key

func (k keyLookup) MetaRead() keys.Key                    { return k[2] }
func (k keyLookup) FileRead(uid []byte) (keys.Key, error) { return k[1], nil }

const flowTemplate = "https://brand.example/t?p={picc}&m={mac}"

// personalise runs the encoder's personalisation flow on a factory tag
// through p and returns the URL the tag shows afterwards.
func personalise(t testing.TB, p *pcd, ks [NumKeys]keys.Key, rndA []byte) string {
	t.Helper()
	tpl, err := sdm.ParseTemplate(flowTemplate)
	if err != nil {
		t.Fatal(err)
	}
	ndef, err := tpl.NDEF(nil)
	if err != nil {
		t.Fatal(err)
	}
	p.selectApp()
	p.selectEF(apdu.FIDNDEF)
	if got := p.readBinary(0, 0); !bytes.Equal(got, make([]byte, 256)) {
		t.Fatalf("factory ndef file: %X", got)
	}
	p.authFirst(0, keys.FactoryKey, rndA)
	if uid := p.full(apdu.InsGetCardUID, nil, nil, apdu.SWNativeOK); !bytes.Equal(uid, p.tag.UID()) {
		t.Fatalf("GetCardUID = %X", uid)
	}
	// WriteData in plain (the write right is free), in frames that fit.
	for off := 0; off < len(ndef); off += 64 {
		chunk := ndef[off:min(off+64, len(ndef))]
		p.plain(apdu.InsWriteData, dataHdr(apdu.FileNDEF, off, len(chunk)), chunk, apdu.SWNativeOK)
	}
	s := tpl.Settings(2, 1)
	s.Access = sdm.AccessRights{Read: sdm.AccessFree, Write: 3, ReadWrite: 3, Change: 0}
	p.full(apdu.InsChangeFileSettings, []byte{apdu.FileNDEF}, s.ChangeData(), apdu.SWNativeOK)
	for no := byte(1); no < NumKeys; no++ {
		p.changeKey(no, keys.FactoryKey, ks[no], 1)
	}
	p.changeKey(0, keys.FactoryKey, ks[0], 1)
	// The case-2 ChangeKey ended the session; the NDEF file is still
	// selected and reads unauthenticated as a SUN URL.
	url, err := sdm.URLFromNDEF(p.readBinary(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	return url
}

func TestPersonalisationFlow(t *testing.T) {
	tag := New(Options{Rand: seeded(7)})
	ks := tagKeys(t, 0x40)
	p := newPCD(t, tag)
	url := personalise(t, p, ks, bytes.Repeat([]byte{0xA5}, 16))

	tpl, _ := sdm.ParseTemplate(flowTemplate)
	v, err := tpl.Verify(url, keyLookup(ks))
	if err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	if !bytes.Equal(v.UID, tag.UID()) || v.Ctr != 1 {
		t.Errorf("verified uid %X ctr %d", v.UID, v.Ctr)
	}
	if !tag.IsPersonalisedWith(ks) || tag.IsFactoryFresh() {
		t.Error("tag does not hold the new keys")
	}
	if tag.ChainedWrites() != 0 {
		t.Errorf("%d chained writes", tag.ChainedWrites())
	}
	// A second read sequence gets the next counter and a fresh URL.
	p.selectEF(apdu.FIDNDEF)
	url2, _ := sdm.URLFromNDEF(p.readBinary(0, 0))
	if v2, err := tpl.Verify(url2, keyLookup(ks)); err != nil || v2.Ctr != 2 || url2 == url {
		t.Errorf("second read: %s ctr %d err %v", url2, v2.Ctr, err)
	}

	// Recovery of a tag: GetKeyVersion in a session with the new key 0.
	p.authFirst(0, ks[0], bytes.Repeat([]byte{0x5A}, 16))
	for no := byte(0); no < NumKeys; no++ {
		if ver := p.mac(apdu.InsGetKeyVersion, []byte{no}, nil); !bytes.Equal(ver, []byte{1}) {
			t.Errorf("key %d version %X", no, ver)
		}
	}
	// The old factory key no longer authenticates.
	p.authFail(0, keys.FactoryKey, apdu.SWAdditionalFrame)

	// The NDEF file now needs key 3 to be written.
	p.selectApp()
	p.plain(apdu.InsWriteData, dataHdr(apdu.FileNDEF, 0, 4), []byte("evil"), apdu.SWAuthError)
	p.selectEF(apdu.FIDNDEF)
	p.expect([]byte{0x00, 0xD6, 0x00, 0x00, 0x04, 'e', 'v', 'i', 'l'}, apdu.SWISOSecurityStatus)
	p.authFirst(3, ks[3], bytes.Repeat([]byte{0x33}, 16))
	p.plain(apdu.InsWriteData, dataHdr(apdu.FileNDEF, 0, 2), []byte{0x00, 0x00}, apdu.SWNativeOK)
}

// TestHalfKeyedRecovery: a tag whose personalisation stopped after
// ChangeKey of keys 1 and 2 answers GetKeyVersion in plain and
// authenticates with the factory key 0 still.
func TestHalfKeyedRecovery(t *testing.T) {
	ks := tagKeys(t, 0x10)
	tag, err := NewPersonalised(Options{}, Personalisation{
		Keys:     [NumKeys]keys.Key{keys.FactoryKey, ks[1], ks[2], keys.FactoryKey, keys.FactoryKey},
		Versions: [NumKeys]byte{0, 1, 1, 0, 0},
	})
	if err != nil {
		t.Fatal(err)
	}
	p := newPCD(t, tag)
	p.selectApp()
	for no, want := range []byte{0, 1, 1, 0, 0} {
		if got := p.plain(apdu.InsGetKeyVersion, []byte{byte(no)}, nil, apdu.SWNativeOK); !bytes.Equal(got, []byte{want}) {
			t.Errorf("key %d version %X, want %02X", no, got, want)
		}
	}
	p.plain(apdu.InsGetKeyVersion, []byte{5}, nil, apdu.SWNoSuchKey)
	p.authFirst(0, keys.FactoryKey, bytes.Repeat([]byte{1}, 16))
	p.changeKey(3, keys.FactoryKey, ks[3], 1)
	// Case 1 computed with a wrong old key: the key the tag recovers does
	// not match CRC32NK(NewKey).
	data := ks[4].ChangeKeyData(ks[1], 1, false)
	p.full(apdu.InsChangeKey, []byte{4}, data, apdu.SWIntegrityError)
	if !tag.Key(4).IsZero() {
		t.Error("key 4 changed by a failed ChangeKey")
	}
	if !tag.Key(3).Equal(ks[3]) {
		t.Error("key 3 not changed")
	}
}
