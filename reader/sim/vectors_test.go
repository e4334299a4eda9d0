package sim

import (
	"bytes"
	"io"
	"testing"

	"github.com/tagline-station/tagline/apdu"
	"github.com/tagline-station/tagline/ev2"
	"github.com/tagline-station/tagline/internal/vectors"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/sdm"
)

// The simulated tag is given the published random numbers and must answer
// the published R-APDUs byte for byte.

// checkIn compares the tag's answer with a published R-APDU, which the
// vectors file lists among the inputs (it is the PCD's input).
func checkIn(t *testing.T, v vectors.Vector, field string, got []byte) {
	t.Helper()
	if want := v.In(t, field); !bytes.Equal(got, want) {
		t.Errorf("vector %s: %s = %X, want %X", v.Name, field, got, want)
	}
}

func checkSession(t *testing.T, tag *Tag, v vectors.Vector) {
	t.Helper()
	s := sessionOf(tag)
	if s == nil {
		t.Fatalf("vector %s: tag not authenticated", v.Name)
	}
	checkSessionKeys(t, v, s)
	if v.HasOut("ti") {
		vectors.Check(t, v, "ti", s.TI[:])
	}
}

// checkSessionKeys compares the tag's session keys with the published
// ones. A session holds only key schedules, so it is compared by what it
// computes with a session made of the published keys: the command IV is
// one AES block under the ENC key, the command MAC a CMAC under the MAC key.
func checkSessionKeys(t *testing.T, v vectors.Vector, s *ev2.Session) {
	t.Helper()
	enc, _ := keys.NewKey(v.Out(t, "ses_auth_enc_key"))
	mac, _ := keys.NewKey(v.Out(t, "ses_auth_mac_key"))
	want := ev2.NewSession(enc, mac, s.TI, s.KeyNo)
	want.CmdCtr = s.CmdCtr
	if s.CommandIV() != want.CommandIV() {
		vectors.Errorf(t, v, "session ENC key is not ses_auth_enc_key")
	}
	if s.CommandMAC(apdu.InsGetVersion, nil, nil) != want.CommandMAC(apdu.InsGetVersion, nil, nil) {
		vectors.Errorf(t, v, "session MAC key is not ses_auth_mac_key")
	}
}

// authVector runs both parts of an authentication vector on tag, whose
// random source must hold the vector's RndB (and TI).
func authVector(t *testing.T, tag *Tag, v vectors.Vector) {
	t.Helper()
	checkIn(t, v, "r_apdu_part1", tag.Process(v.Out(t, "c_apdu_part1")))
	checkIn(t, v, "r_apdu_part2", tag.Process(v.Out(t, "c_apdu_part2")))
	checkSession(t, tag, v)
}

func TestAuthenticateEV2FirstVectors(t *testing.T) {
	for _, name := range []string{"an12196-authfirst-key0", "an12196-authfirst-key3", "an12343-authfirst-table16"} {
		t.Run(name, func(t *testing.T) {
			v := vectors.Named(t, name)
			rnd := io.MultiReader(bytes.NewReader(v.Out(t, "rnd_b")), bytes.NewReader(v.Out(t, "ti")))
			tag := New(Options{Rand: rnd})
			newPCD(t, tag).selectApp()
			authVector(t, tag, v)
			if got := sessionOf(tag).CmdCtr; got != 0 {
				t.Errorf("CmdCtr = %d after AuthenticateEV2First", got)
			}
		})
	}
}

func TestISOSelectVector(t *testing.T) {
	v := vectors.Named(t, "an12196-isoselect-ndef-app")
	tag := New(Options{})
	if r := tag.Process(v.Out(t, "c_apdu")); sw(r) != apdu.SWOK || len(r) != 2 {
		t.Fatalf("select: %X", r)
	}
}

// TestAN12196Key0Personalisation chains the key-0 session of AN12196:
// AuthenticateEV2First, WriteData of the NDEF file in CommMode.Full (CmdCtr
// 0), ChangeFileSettings enabling SDM (CmdCtr 1), then reads the SUN URL
// that these settings produce.
func TestAN12196Key0Personalisation(t *testing.T) {
	auth := vectors.Named(t, "an12196-authfirst-key0")
	wr := vectors.Named(t, "an12196-writedata-ndef-commmode-full")
	cfs := vectors.Named(t, "an12196-changefilesettings-sdm")
	tag2 := New(Options{Rand: io.MultiReader(bytes.NewReader(auth.Out(t, "rnd_b")), bytes.NewReader(auth.Out(t, "ti")), seeded(1))})
	// The application note writes the NDEF file in CommMode.Full with the
	// key-0 session, so the file is taken as configured for that (through
	// a free write right the command would run in plain): CommMode.Full,
	// write key 0.
	setFile(tag2, apdu.FileNDEF, settings(sdm.CommModeFull, sdm.AccessFree, 0, 0, 0, 256), nil)
	newPCD(t, tag2).selectApp()
	authVector(t, tag2, auth)
	checkIn(t, wr, "r_apdu", tag2.Process(wr.Out(t, "c_apdu")))
	checkIn(t, cfs, "r_apdu", tag2.Process(cfs.Out(t, "c_apdu")))
	// A replayed command fails (CmdCtr moved on) and ends the session.
	if r := tag2.Process(cfs.Out(t, "c_apdu")); !bytes.Equal(r, apdu.SWIntegrityError.Bytes()) {
		t.Fatalf("replayed ChangeFileSettings: %X", r)
	}
	if sessionOf(tag2) != nil {
		t.Fatal("session survived an integrity error")
	}

	f, _ := tag2.File(apdu.FileNDEF)
	want, err := sdm.ParseChange(cfs.In(t, "cmd_data"))
	if err != nil {
		t.Fatal(err)
	}
	want.FileSize = 256
	if f.Settings != want {
		t.Errorf("settings after ChangeFileSettings: %+v, want %+v", f.Settings, want)
	}
	if !bytes.Equal(f.Data[:128], wr.In(t, "cmd_data")) {
		t.Errorf("ndef content %X", f.Data[:128])
	}

	// Not authenticated any more after re-selecting: the file reads as a
	// SUN URL that a backend with the (all-zero) keys accepts.
	p := newPCD(t, tag2)
	p.selectApp()
	p.selectEF(apdu.FIDNDEF)
	url, err := sdm.URLFromNDEF(p.readBinary(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := sdm.ParseTemplate("https://choose.url.com/ntag424?e={picc}&c={mac}")
	if err != nil {
		t.Fatal(err)
	}
	got, err := tpl.Verify(url, zeroKeys{})
	if err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	if got.Ctr != 1 || !bytes.Equal(got.UID, tag2.UID()) {
		t.Errorf("verified uid %X ctr %d", got.UID, got.Ctr)
	}
}

type zeroKeys struct{}

func (zeroKeys) MetaRead() keys.Key                    { return keys.FactoryKey }
func (zeroKeys) FileRead(uid []byte) (keys.Key, error) { return keys.FactoryKey, nil }

// TestAN12196Key3AndChangeKey chains the key-3 session of AN12196:
// AuthenticateEV2First with key 3, WriteData of the proprietary file in
// CommMode.Full, AuthenticateEV2NonFirst with key 0 (TI 7614281A and the
// counter kept), ChangeKey case 1 of key 2 and case 2 of key 0.
func TestAN12196Key3AndChangeKey(t *testing.T) {
	auth3 := vectors.Named(t, "an12196-authfirst-key3")
	wr := vectors.Named(t, "an12196-writedata-file3-commmode-full")
	nonFirst := vectors.Named(t, "an12196-authnonfirst-key0")
	ck1 := vectors.Named(t, "an12196-changekey-case1-key2")
	ck2 := vectors.Named(t, "an12196-changekey-case2-key0")
	rnd := io.MultiReader(bytes.NewReader(auth3.Out(t, "rnd_b")), bytes.NewReader(auth3.Out(t, "ti")),
		bytes.NewReader(nonFirst.Out(t, "rnd_b")))
	tag := New(Options{Rand: rnd})
	newPCD(t, tag).selectApp()
	authVector(t, tag, auth3)
	checkIn(t, wr, "r_apdu", tag.Process(wr.Out(t, "c_apdu")))
	f, _ := tag.File(apdu.FileProprietary)
	if !bytes.Equal(f.Data[:10], wr.In(t, "cmd_data")) {
		t.Errorf("file 3 content %X", f.Data[:16])
	}
	// One command the note does not print ran between the WriteData
	// (CmdCtr 0) and the ChangeKey (CmdCtr 2).
	setCmdCtr(tag, 2)
	authVector(t, tag, nonFirst)
	if s := sessionOf(tag); s.CmdCtr != 2 || s.KeyNo != 0 {
		t.Fatalf("after NonFirst: CmdCtr %d key %d", s.CmdCtr, s.KeyNo)
	}
	checkIn(t, ck1, "r_apdu", tag.Process(ck1.Out(t, "c_apdu")))
	if r := tag.Process(ck2.Out(t, "c_apdu")); !bytes.Equal(r, []byte{0x91, 0x00}) {
		t.Fatalf("case-2 ChangeKey answered %X, want plain 9100", r)
	}
	if sessionOf(tag) != nil {
		t.Error("session survived a case-2 ChangeKey")
	}
	if !tag.Key(2).Equal(mustKey(t, ck1.In(t, "new_key"))) || tag.KeyVersion(2) != 1 {
		t.Errorf("key 2 = %v v%d", tag.Key(2), tag.KeyVersion(2))
	}
	if !tag.Key(0).Equal(mustKey(t, ck2.In(t, "new_key"))) || tag.KeyVersion(0) != 1 {
		t.Errorf("key 0 = %v v%d", tag.Key(0), tag.KeyVersion(0))
	}
}

func TestGetFileSettingsMACVector(t *testing.T) {
	v := vectors.Named(t, "an12196-getfilesettings-commmode-mac")
	tag := New(Options{})
	s, err := sdm.ParseGet(v.Out(t, "response_data"))
	if err != nil {
		t.Fatal(err)
	}
	setFile(tag, apdu.FileNDEF, s, nil)
	// Only the MAC key is published; the ENC key is not used by this
	// command.
	injectSession(tag, keys.FactoryKey, mustKey(t, v.In(t, "ses_auth_mac_key")), v.In(t, "ti"), 0, 0)
	checkIn(t, v, "r_apdu", tag.Process(v.Out(t, "c_apdu")))
}

func TestGetCardUIDVector(t *testing.T) {
	v := vectors.Named(t, "an12196-getcarduid-commmode-full")
	tag := New(Options{UID: v.Out(t, "response_data")})
	injectSession(tag, mustKey(t, v.In(t, "ses_auth_enc_key")), mustKey(t, v.In(t, "ses_auth_mac_key")), v.In(t, "ti"), 0, 0)
	checkIn(t, v, "r_apdu", tag.Process(v.Out(t, "c_apdu")))
}

func TestGetKeyVersionMACVector(t *testing.T) {
	v := vectors.Named(t, "an12343-getkeyversion-commmode-mac")
	tag := New(Options{})
	injectSession(tag, keys.FactoryKey, mustKey(t, v.In(t, "ses_auth_mac_key")), v.In(t, "ti"), 0, 0)
	checkIn(t, v, "r_apdu", tag.Process(v.Out(t, "c_apdu")))
}

func TestAN12343ChangeKeyVectors(t *testing.T) {
	for _, name := range []string{"an12343-changekey-case1-key1", "an12343-changekey-case2-key0"} {
		t.Run(name, func(t *testing.T) {
			v := vectors.Named(t, name)
			tag := New(Options{})
			injectSession(tag, mustKey(t, v.In(t, "ses_auth_enc_key")), mustKey(t, v.In(t, "ses_auth_mac_key")), v.In(t, "ti"), 0, 0)
			r := tag.Process(v.Out(t, "c_apdu"))
			if v.HasIn("r_apdu") {
				checkIn(t, v, "r_apdu", r)
			} else if !bytes.Equal(r, []byte{0x91, 0x00}) {
				t.Fatalf("case-2 ChangeKey answered %X", r)
			}
			no := int(v.In(t, "key_no")[0])
			if !tag.Key(no).Equal(mustKey(t, v.In(t, "new_key"))) || tag.KeyVersion(no) != v.In(t, "new_key_version")[0] {
				t.Errorf("key %d = %v v%d", no, tag.Key(no), tag.KeyVersion(no))
			}
		})
	}
}

// TestAN12343DataVectors writes and reads back file 00 of the AN12343
// examples (a MIFARE DESFire Light file, added to the simulated tag) in
// CommMode.MAC and CommMode.Full.
func TestAN12343DataVectors(t *testing.T) {
	for _, c := range []struct {
		write, read string
		mode        byte
	}{
		{"an12343-writedata-commmode-mac", "an12343-readdata-commmode-mac", sdm.CommModeMAC},
		{"an12343-writedata-commmode-full", "an12343-readdata-commmode-full", sdm.CommModeFull},
	} {
		t.Run(c.write, func(t *testing.T) {
			w, r := vectors.Named(t, c.write), vectors.Named(t, c.read)
			tag := New(Options{})
			addFile(tag, 0x00, 0xE100, 256, settings(c.mode, 0, 0, 0, 0, 256))
			injectSession(tag, mustKey(t, w.In(t, "ses_auth_enc_key")), mustKey(t, w.In(t, "ses_auth_mac_key")), w.In(t, "ti"), 0, 0)
			checkIn(t, w, "r_apdu", tag.Process(w.Out(t, "c_apdu")))
			checkIn(t, r, "r_apdu", tag.Process(r.Out(t, "c_apdu")))
		})
	}
}

// TestSUNURLVectors reads the NDEF file of a tag configured from a URL
// template and checks the SUN URLs of AN12196 byte for byte.
func TestSUNURLVectors(t *testing.T) {
	mac := vectors.Named(t, "an12196-sdmmac-empty-input-table4")
	picc := vectors.Named(t, "an12196-picc-data-decrypt-table2")
	enc := vectors.Named(t, "an12196-sun-url-with-enc-file-data")
	cases := []struct {
		name, tpl, want string
		uid, pad        []byte
		ctr             sdm.Counter
		encData         []byte
	}{
		{
			name: mac.Name, tpl: "https://ntag.nxp.com/424?e={picc}&c={mac}",
			want: "https://ntag.nxp.com/424?e=" + vectors.Upper(picc.In(t, "picc_enc_data")) + "&c=" + mac.OutString(t, "sdmmac"),
			uid:  mac.In(t, "uid"), pad: picc.Out(t, "picc_data")[11:], ctr: 61,
		},
		{
			name: enc.Name, tpl: "https://www.my424dna.com/?picc_data={picc}&enc={enc}&cmac={mac}",
			want: "https://www.my424dna.com/?picc_data=" + vectors.Upper(enc.In(t, "picc_enc_data")) +
				"&enc=" + vectors.Upper(enc.In(t, "sdm_enc_file_data")) + "&cmac=" + enc.OutString(t, "sdmmac"),
			uid: enc.Out(t, "uid"), pad: piccPadding(t, enc.In(t, "picc_enc_data")), ctr: 8,
			encData: enc.Out(t, "file_data"),
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tpl, err := sdm.ParseTemplate(c.tpl)
			if err != nil {
				t.Fatal(err)
			}
			ndef, err := tpl.NDEF(c.encData)
			if err != nil {
				t.Fatal(err)
			}
			s := tpl.Settings(2, 1)
			s.Access = sdm.AccessRights{Read: sdm.AccessFree, Write: 3, ReadWrite: 3, Change: 0}
			tag, err := NewPersonalised(Options{UID: c.uid, Rand: bytes.NewReader(c.pad)},
				Personalisation{NDEF: ndef, NDEFSettings: &s, SDMReadCtr: c.ctr - 1})
			if err != nil {
				t.Fatal(err)
			}
			p := newPCD(t, tag)
			p.selectApp()
			p.selectEF(apdu.FIDNDEF)
			// Read in two chunks, as phones do (NLEN first): one read
			// sequence, one counter increment, one URL.
			head := p.readBinary(0, 2)
			rest := p.readBinary(2, 0)
			url, err := sdm.URLFromNDEF(append(head, rest...))
			if err != nil {
				t.Fatal(err)
			}
			if url != c.want {
				t.Errorf("url\n got %s\nwant %s", url, c.want)
			}
			if tag.SDMReadCtr() != c.ctr {
				t.Errorf("SDMReadCtr = %d, want %d", tag.SDMReadCtr(), c.ctr)
			}
		})
	}
}

// piccPadding recovers the random padding of published PICCData (zero
// meta-read key) so that the simulated tag can be given it.
func piccPadding(t *testing.T, enc []byte) []byte {
	t.Helper()
	d, err := sdm.DecryptPICCData(keys.FactoryKey, enc)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ev2.DecryptZeroIV(keys.FactoryKey, enc) // the same AES-CBC, zero IV
	if err != nil {
		t.Fatal(err)
	}
	return raw[1+len(d.UID)+3:]
}
