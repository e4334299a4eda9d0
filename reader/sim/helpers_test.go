package sim

import (
	"bytes"
	"context"
	"encoding/hex"
	"math/rand/v2"
	"testing"

	"github.com/tagline-station/tagline/apdu"
	"github.com/tagline-station/tagline/ev2"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/sdm"
)

// This file holds the test-only ways into the tag's state (sessions, file
// settings, extra files) and a small PCD built from the ev2 package, the
// same primitives the encoder uses.

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func mustKey(t testing.TB, b []byte) keys.Key {
	t.Helper()
	k, err := keys.NewKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// seeded is a deterministic random source.
func seeded(seed uint64) *rand.ChaCha8 {
	var s [32]byte
	s[0] = byte(seed)
	s[1] = byte(seed >> 8)
	return rand.NewChaCha8(s)
}

// injectSession puts the tag in EV2 authenticated state with the given
// session (application selected), as after an authentication whose random
// numbers are not published.
func injectSession(tag *Tag, enc, mac keys.Key, ti []byte, keyNo byte, ctr uint16) {
	tag.mu.Lock()
	defer tag.mu.Unlock()
	var t4 [4]byte
	copy(t4[:], ti)
	s := ev2.NewSession(enc, mac, t4, keyNo)
	s.CmdCtr = ctr
	tag.appSelected = true
	tag.sess = s
}

// setCmdCtr moves the command counter of the current session.
func setCmdCtr(tag *Tag, ctr uint16) {
	tag.mu.Lock()
	defer tag.mu.Unlock()
	tag.sess.CmdCtr = ctr
}

// sessionOf returns the current session (nil when none).
func sessionOf(tag *Tag) *ev2.Session {
	tag.mu.Lock()
	defer tag.mu.Unlock()
	return tag.sess
}

// setFile replaces a file's settings (and content when data is not nil).
func setFile(tag *Tag, no byte, s sdm.FileSettings, data []byte) {
	tag.mu.Lock()
	defer tag.mu.Unlock()
	f := tag.file(no)
	s.FileType, s.FileSize = 0, uint32(len(f.data))
	f.set = s
	if data != nil {
		copy(f.data, data)
	}
}

// setCounter sets a file's SDMReadCtr.
func setCounter(tag *Tag, no byte, c sdm.Counter) {
	tag.mu.Lock()
	defer tag.mu.Unlock()
	tag.file(no).ctr = c
}

// addFile adds a StandardData file, e.g. file 00 of a MIFARE DESFire Light
// for the AN12343 examples.
func addFile(tag *Tag, no byte, fid uint16, size int, s sdm.FileSettings) {
	tag.mu.Lock()
	defer tag.mu.Unlock()
	s.FileSize = uint32(size)
	tag.files = append(tag.files, &file{no: no, fid: fid, data: make([]byte, size), set: s})
}

func sw(r []byte) apdu.StatusWord {
	if len(r) < 2 {
		return 0
	}
	return apdu.StatusWord(uint16(r[len(r)-2])<<8 | uint16(r[len(r)-1]))
}

// pcd is a minimal reader-side implementation for the tests.
type pcd struct {
	t    testing.TB
	tag  *Tag
	s    *ev2.Session
	send func([]byte) []byte
}

func newPCD(t testing.TB, tag *Tag) *pcd { return &pcd{t: t, tag: tag, send: tag.Process} }

// cardPCD talks to tag through a reader.Card.
func cardPCD(t testing.TB, tag *Tag, c reader.Card) *pcd {
	return &pcd{t: t, tag: tag, send: func(capdu []byte) []byte {
		t.Helper()
		r, err := c.Transmit(context.Background(), capdu)
		if err != nil {
			t.Fatalf("transmit %X: %v", capdu, err)
		}
		return r
	}}
}

// expect sends c and checks the status word; it returns the data.
func (p *pcd) expect(c []byte, want apdu.StatusWord) []byte {
	p.t.Helper()
	r := p.send(c)
	if got := sw(r); got != want {
		p.t.Fatalf("%X: got %X, want status %04X", c, r, uint16(want))
	}
	if !want.OK() && want != apdu.SWAdditionalFrame {
		p.s = nil
	}
	return r[:len(r)-2]
}

func (p *pcd) selectApp() {
	p.t.Helper()
	p.expect(append([]byte{0x00, 0xA4, 0x04, 0x0C, 0x07}, append(apdu.NDEFAppName, 0x00)...), apdu.SWOK)
	p.s = nil
}

func (p *pcd) selectEF(fid uint16) {
	p.t.Helper()
	p.expect([]byte{0x00, 0xA4, 0x02, 0x0C, 0x02, byte(fid >> 8), byte(fid), 0x00}, apdu.SWOK)
}

func (p *pcd) readBinary(off int, le byte) []byte {
	p.t.Helper()
	return p.expect([]byte{0x00, 0xB0, byte(off >> 8), byte(off), le}, apdu.SWOK)
}

// authFirst runs AuthenticateEV2First with the given RndA.
func (p *pcd) authFirst(keyNo byte, k keys.Key, rndA []byte) {
	p.t.Helper()
	enc := p.expect(apdu.Native(apdu.InsAuthenticateEV2First, []byte{keyNo, 0x00}), apdu.SWAdditionalFrame)
	crypt, rndB, err := ev2.PCDPart2(k, enc, rndA)
	if err != nil {
		p.t.Fatal(err)
	}
	ans := p.expect(apdu.Native(apdu.InsAdditionalFrame, crypt), apdu.SWNativeOK)
	a, err := ev2.PCDVerifyFirst(k, ans, rndA)
	if err != nil {
		p.t.Fatal(err)
	}
	e, m := ev2.DeriveSessionKeys(k, rndA, rndB)
	p.s = ev2.NewSession(e, m, a.TI, keyNo)
}

// authNonFirst runs AuthenticateEV2NonFirst in the current session.
func (p *pcd) authNonFirst(keyNo byte, k keys.Key, rndA []byte) {
	p.t.Helper()
	ti, ctr := p.s.TI, p.s.CmdCtr
	enc := p.expect(apdu.Native(apdu.InsAuthenticateEV2NonFirst, []byte{keyNo}), apdu.SWAdditionalFrame)
	crypt, rndB, err := ev2.PCDPart2(k, enc, rndA)
	if err != nil {
		p.t.Fatal(err)
	}
	ans := p.expect(apdu.Native(apdu.InsAdditionalFrame, crypt), apdu.SWNativeOK)
	if err := ev2.PCDVerifyNonFirst(k, ans, rndA); err != nil {
		p.t.Fatal(err)
	}
	e, m := ev2.DeriveSessionKeys(k, rndA, rndB)
	p.s = ev2.NewSession(e, m, ti, keyNo)
	p.s.CmdCtr = ctr
}

// authFail runs an AuthenticateEV2First with a wrong key and expects the
// given status at part 1 (91AF goes on to part 2, which must fail 91AE).
func (p *pcd) authFail(keyNo byte, wrong keys.Key, part1 apdu.StatusWord) {
	p.t.Helper()
	enc := p.expect(apdu.Native(apdu.InsAuthenticateEV2First, []byte{keyNo, 0x00}), part1)
	if part1 != apdu.SWAdditionalFrame {
		return
	}
	crypt, _, err := ev2.PCDPart2(wrong, enc, bytes.Repeat([]byte{0x11}, 16))
	if err != nil {
		p.t.Fatal(err)
	}
	p.expect(apdu.Native(apdu.InsAdditionalFrame, crypt), apdu.SWAuthError)
}

// plain sends a command in CommMode.Plain inside or outside a session.
func (p *pcd) plain(ins byte, hdr, data []byte, want apdu.StatusWord) []byte {
	p.t.Helper()
	r := p.expect(apdu.Native(ins, hdr, data), want)
	if p.s != nil && want.OK() {
		p.s.CmdCtr++
	}
	return r
}

// mac sends a CommMode.MAC command and checks the response MAC.
func (p *pcd) mac(ins byte, hdr, data []byte) []byte {
	p.t.Helper()
	m := p.s.CommandMAC(ins, hdr, data)
	r := p.expect(apdu.Native(ins, hdr, data, m[:]), apdu.SWNativeOK)
	if len(r) < 8 {
		p.t.Fatalf("response %X has no mac", r)
	}
	body, rm := r[:len(r)-8], r[len(r)-8:]
	if err := p.s.VerifyResponseMAC(0x00, body, rm); err != nil {
		p.t.Fatalf("response mac: %v", err)
	}
	p.s.CmdCtr++
	return body
}

// full sends a CommMode.Full command; want is the expected status word.
func (p *pcd) full(ins byte, hdr, data []byte, want apdu.StatusWord) []byte {
	p.t.Helper()
	var ct []byte
	if len(data) > 0 {
		ct = p.s.EncryptCommand(data)
	}
	m := p.s.CommandMAC(ins, hdr, ct)
	r := p.expect(apdu.Native(ins, hdr, ct, m[:]), want)
	if want != apdu.SWNativeOK {
		return nil
	}
	if len(r) < 8 {
		p.t.Fatalf("response %X has no mac", r)
	}
	body, rm := r[:len(r)-8], r[len(r)-8:]
	if err := p.s.VerifyResponseMAC(0x00, body, rm); err != nil {
		p.t.Fatalf("response mac: %v", err)
	}
	var plain []byte
	if len(body) > 0 {
		var err error
		if plain, err = p.s.DecryptResponse(body); err != nil {
			p.t.Fatal(err)
		}
	}
	p.s.CmdCtr++
	return plain
}

// changeKey runs ChangeKey for key no (case 1 unless no is the
// authenticated key).
func (p *pcd) changeKey(no byte, oldKey, newKey keys.Key, ver byte) {
	p.t.Helper()
	data := newKey.ChangeKeyData(oldKey, ver, no == p.s.KeyNo)
	if no != p.s.KeyNo {
		p.full(apdu.InsChangeKey, []byte{no}, data, apdu.SWNativeOK)
		return
	}
	ct := p.s.EncryptCommand(data)
	m := p.s.CommandMAC(apdu.InsChangeKey, []byte{no}, ct)
	r := p.expect(apdu.Native(apdu.InsChangeKey, []byte{no}, ct, m[:]), apdu.SWNativeOK)
	if len(r) != 0 {
		p.t.Fatalf("case-2 ChangeKey answered data %X", r)
	}
	p.s = nil
}

// dataHdr is FileNo || Offset || Length of ReadData / WriteData.
func dataHdr(no byte, off, n int) []byte {
	return []byte{no, byte(off), byte(off >> 8), byte(off >> 16), byte(n), byte(n >> 8), byte(n >> 16)}
}
