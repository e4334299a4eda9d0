package sim

import (
	"github.com/tagline-station/tagline/apdu"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/sdm"
)

const okNative = 0x91

// handle runs one command APDU; the caller holds mu.
func (t *Tag) handle(c []byte) []byte {
	t.keepRun = false
	r := t.dispatch(c)
	if !t.keepRun {
		// Any command other than a repeated read of the same kind ends
		// the read sequence of 9.3.1.
		t.run = readRun{}
	}
	return r
}

func (t *Tag) dispatch(c []byte) []byte {
	if len(c) < 4 {
		return t.fail(apdu.SWISOWrongLength)
	}
	cmd, err := apdu.Parse(c)
	switch c[0] {
	case apdu.ClaNative:
		if err != nil {
			return t.fail(apdu.SWLengthError)
		}
		return t.native(cmd)
	case apdu.ClaISO:
		if err != nil {
			return t.fail(apdu.SWISOWrongLength)
		}
		return t.iso(cmd, c)
	}
	return t.fail(apdu.SWISOClaNotSupported)
}

// fail answers an error: the session and any multi-frame command end
// (datasheet 9.1.9), nothing persistent changes.
func (t *Tag) fail(sw apdu.StatusWord) []byte {
	t.sess = nil
	t.pend = pending{}
	return sw.Bytes()
}

// appLevel lists the native commands that need the application selected.
var appLevel = map[byte]bool{
	apdu.InsAuthenticateEV2First: true, apdu.InsAuthenticateEV2NonFirst: true,
	apdu.InsGetKeyVersion: true, apdu.InsChangeKey: true, apdu.InsGetFileSettings: true,
	apdu.InsChangeFileSettings: true, apdu.InsReadData: true, apdu.InsWriteData: true,
	apdu.InsGetFileCounters: true, apdu.InsSetConfiguration: true,
}

func (t *Tag) native(cmd apdu.Command) []byte {
	if r, ok := t.lrpNative(cmd); ok {
		return r
	}
	if cmd.Ins == apdu.InsAdditionalFrame {
		p := t.pend
		t.pend = pending{}
		switch p.kind {
		case pendAuthFirst, pendAuthNonFirst:
			return t.authPart2(p, cmd.Data)
		case pendVersion:
			return t.versionNext(p, cmd.Data)
		}
		return t.fail(apdu.SWIllegalCommand)
	}
	// Any other command aborts a multi-frame command in progress.
	t.pend = pending{}
	if appLevel[cmd.Ins] && !t.appSelected {
		return t.fail(apdu.SWPermissionDenied)
	}
	switch cmd.Ins {
	case apdu.InsGetVersion:
		return t.getVersion(cmd.Data)
	case apdu.InsGetCardUID:
		return t.getCardUID(cmd.Data)
	case apdu.InsSetConfiguration:
		return t.setPICCConfiguration(cmd.Data)
	case apdu.InsAuthenticateEV2First:
		return t.authPart1(cmd.Data, pendAuthFirst)
	case apdu.InsAuthenticateEV2NonFirst:
		return t.authPart1(cmd.Data, pendAuthNonFirst)
	case apdu.InsGetKeyVersion:
		return t.getKeyVersion(cmd.Data)
	case apdu.InsChangeKey:
		return t.changeKey(cmd.Data)
	case apdu.InsGetFileSettings:
		return t.getFileSettings(cmd.Data)
	case apdu.InsChangeFileSettings:
		return t.changeFileSettings(cmd.Data)
	case apdu.InsReadData:
		return t.readData(cmd.Data)
	case apdu.InsWriteData:
		return t.writeData(cmd.Data)
	case apdu.InsGetFileCounters:
		return t.getFileCounters(cmd.Data)
	case insReadSig:
		return t.readSig(cmd.Data)
	}
	return t.fail(apdu.SWIllegalCommand)
}

// commMode normalises a FileOption communication mode: X0b is plain.
func commMode(m byte) byte {
	switch m & 0x03 {
	case sdm.CommModeMAC:
		return sdm.CommModeMAC
	case sdm.CommModeFull:
		return sdm.CommModeFull
	}
	return sdm.CommModePlain
}

// unwrap checks the secure messaging of a command in communication mode
// mode: it splits off the hdrLen-byte CmdHeader, verifies the MACt against
// the current CmdCtr and, in CommMode.Full, decrypts and unpads the data.
// Without a session or in CommMode.Plain the data is taken as is.
func (t *Tag) unwrap(ins byte, data []byte, hdrLen int, mode byte) (hdr, body []byte, sw apdu.StatusWord) {
	if len(data) < hdrLen {
		return nil, nil, apdu.SWLengthError
	}
	hdr, body = data[:hdrLen], data[hdrLen:]
	s := t.sess
	if s == nil || mode == sdm.CommModePlain {
		return hdr, body, 0
	}
	if s.CmdCtr == 0xFFFF {
		// 9.1.2: handled like a wrong MAC.
		return nil, nil, apdu.SWIntegrityError
	}
	if len(body) < 8 {
		return nil, nil, apdu.SWLengthError
	}
	mac := body[len(body)-8:]
	body = body[:len(body)-8]
	if s.VerifyCommandMAC(ins, hdr, body, mac) != nil {
		return nil, nil, apdu.SWIntegrityError
	}
	if mode == sdm.CommModeFull && len(body) > 0 {
		p, err := s.DecryptCommand(body)
		if err != nil {
			return nil, nil, apdu.SWIntegrityError
		}
		body = p
	}
	return hdr, body, 0
}

// wrap builds a successful answer in communication mode mode and counts
// the command in an authenticated session (CmdCtr+1 is already used by the
// response IV and MAC, 9.1.2).
func (t *Tag) wrap(mode byte, data []byte) []byte {
	s := t.sess
	if s == nil {
		return append(append([]byte(nil), data...), okNative, 0x00)
	}
	var out []byte
	switch mode {
	case sdm.CommModeMAC:
		m := s.ResponseMAC(0x00, data)
		out = append(append(out, data...), m[:]...)
	case sdm.CommModeFull:
		var ct []byte
		if len(data) > 0 {
			ct = s.EncryptResponse(data)
		}
		m := s.ResponseMAC(0x00, ct)
		out = append(append(out, ct...), m[:]...)
	default:
		out = append(out, data...)
	}
	s.CmdCtr++
	return append(out, okNative, 0x00)
}

// smMode is CommMode.MAC when authenticated, else plain: the mode of
// GetVersion, GetKeyVersion and GetFileSettings.
func (t *Tag) smMode() byte {
	if t.sess != nil {
		return sdm.CommModeMAC
	}
	return sdm.CommModePlain
}

func (t *Tag) getVersion(data []byte) []byte {
	maced := t.sess != nil
	_, body, sw := t.unwrap(apdu.InsGetVersion, data, 0, t.smMode())
	if sw != 0 {
		return t.fail(sw)
	}
	if len(body) != 0 {
		return t.fail(apdu.SWLengthError)
	}
	t.pend = pending{kind: pendVersion, part: 2, maced: maced}
	return append(append([]byte(nil), versionHW...), okNative, 0xAF)
}

func (t *Tag) versionNext(p pending, data []byte) []byte {
	if len(data) != 0 {
		return t.fail(apdu.SWLengthError)
	}
	if p.part == 2 {
		t.pend = pending{kind: pendVersion, part: 3, maced: p.maced}
		return append(append([]byte(nil), versionSW...), okNative, 0xAF)
	}
	uid := t.uid
	if t.randomID {
		// A random-ID tag names no UID before a session (randomid.go).
		uid = make([]byte, len(t.uid))
	}
	part3 := append(append([]byte(nil), uid...), versionBatch...)
	if !p.maced || t.sess == nil {
		return append(part3, okNative, 0x00)
	}
	// Table 22 note 1: the MAC comes with the last frame and covers the
	// three parts.
	all := append(append(append([]byte(nil), versionHW...), versionSW...), part3...)
	m := t.sess.ResponseMAC(0x00, all)
	t.sess.CmdCtr++
	return append(append(part3, m[:]...), okNative, 0x00)
}

func (t *Tag) getCardUID(data []byte) []byte {
	if t.sess == nil {
		return t.fail(apdu.SWAuthError)
	}
	_, body, sw := t.unwrap(apdu.InsGetCardUID, data, 0, sdm.CommModeFull)
	if sw != 0 {
		return t.fail(sw)
	}
	if len(body) != 0 {
		return t.fail(apdu.SWLengthError)
	}
	return t.wrap(sdm.CommModeFull, t.uid)
}

func (t *Tag) getKeyVersion(data []byte) []byte {
	mode := t.smMode()
	hdr, body, sw := t.unwrap(apdu.InsGetKeyVersion, data, 1, mode)
	if sw != 0 {
		return t.fail(sw)
	}
	if len(body) != 0 {
		return t.fail(apdu.SWLengthError)
	}
	if hdr[0] >= NumKeys {
		return t.fail(apdu.SWNoSuchKey)
	}
	return t.wrap(mode, []byte{t.keys[hdr[0]].ver})
}

func (t *Tag) getFileSettings(data []byte) []byte {
	mode := t.smMode()
	hdr, body, sw := t.unwrap(apdu.InsGetFileSettings, data, 1, mode)
	if sw != 0 {
		return t.fail(sw)
	}
	if len(body) != 0 {
		return t.fail(apdu.SWLengthError)
	}
	f := t.file(hdr[0])
	if f == nil {
		return t.fail(apdu.SWFileNotFound)
	}
	return t.wrap(mode, f.set.GetData())
}

// validRight reports whether an access condition is a key number, E or F.
func validRight(r byte) bool { return r < NumKeys || r == sdm.AccessFree || r == sdm.AccessNone }

// validateSettings applies sdm.FileSettings.Validate; an SDMReadCtrOffset
// of FFFFFF (a counter that is kept but not mirrored, table 69) is accepted.
func validateSettings(s sdm.FileSettings, size uint32) error {
	if s.SDM && s.SDMOptions&sdm.OptCtrMirror != 0 && s.MetaRead == sdm.AccessFree && s.CtrOffset == noMirror {
		s.CtrOffset = 0
	}
	return s.Validate(size)
}

// noMirror is the SDMReadCtrOffset that disables counter mirroring.
const noMirror = 0xFFFFFF

// changeGrant decides the mode of a command guarded by a single access
// condition (Change, SDMCtrRet): E is free in plain, F never, a key
// requires a session with that key and CommMode.Full.
func (t *Tag) changeGrant(right byte) (byte, apdu.StatusWord) {
	switch {
	case right == sdm.AccessFree:
		return sdm.CommModePlain, 0
	case right == sdm.AccessNone:
		return 0, apdu.SWPermissionDenied
	case t.sess != nil && t.sess.KeyNo == right:
		return sdm.CommModeFull, 0
	}
	return 0, apdu.SWAuthError
}

func (t *Tag) changeFileSettings(data []byte) []byte {
	if len(data) < 1 {
		return t.fail(apdu.SWLengthError)
	}
	f := t.file(data[0])
	if f == nil {
		return t.fail(apdu.SWFileNotFound)
	}
	mode, sw := t.changeGrant(f.set.Access.Change)
	if sw != 0 {
		return t.fail(sw)
	}
	_, body, sw := t.unwrap(apdu.InsChangeFileSettings, data, 1, mode)
	if sw != 0 {
		return t.fail(sw)
	}
	s, err := sdm.ParseChange(body)
	if err != nil {
		return t.fail(apdu.SWLengthError)
	}
	if s.SDM && f.no != apdu.FileNDEF {
		return t.fail(apdu.SWPermissionDenied)
	}
	a := s.Access
	if !validRight(a.Read) || !validRight(a.Write) || !validRight(a.ReadWrite) || !validRight(a.Change) {
		return t.fail(apdu.SWParameterError)
	}
	ctr := f.ctr
	if s.SDM {
		if !validRight(s.CtrRet) || !validRight(s.MetaRead) || !(s.FileRead < NumKeys || s.FileRead == sdm.AccessNone) ||
			s.SDMOptions&sdm.OptTTStatus != 0 && !t.opts.TagTamper {
			return t.fail(apdu.SWParameterError)
		}
		if !f.set.SDM {
			ctr = 0 // 9.3.1: enabling SDM resets the counter
		}
		if s.SDMOptions&sdm.OptCtrLimit != 0 && (s.SDMOptions&sdm.OptCtrMirror == 0 || s.CtrLimit <= uint32(ctr)) {
			return t.fail(apdu.SWParameterError)
		}
	}
	if err := validateSettings(s, uint32(len(f.data))); err != nil {
		return t.fail(apdu.SWParameterError)
	}
	s.FileType, s.FileSize = 0, uint32(len(f.data))
	f.set = s
	f.ctr = ctr
	t.nvm++
	return t.wrap(mode, nil)
}

func (t *Tag) changeKey(data []byte) []byte {
	if t.sess == nil || t.sess.KeyNo != 0 {
		return t.fail(apdu.SWAuthError)
	}
	if len(data) < 1 {
		return t.fail(apdu.SWLengthError)
	}
	no := data[0]
	if no >= NumKeys {
		return t.fail(apdu.SWNoSuchKey)
	}
	_, body, sw := t.unwrap(apdu.InsChangeKey, data, 1, sdm.CommModeFull)
	if sw != 0 {
		return t.fail(sw)
	}
	k := &t.keys[no]
	if no == t.sess.KeyNo {
		// Case 2: the authenticated key itself, NewKey || KeyVer. The
		// answer is plain and the session is over.
		if len(body) != 17 {
			return t.fail(apdu.SWLengthError)
		}
		nk, ver, _ := keys.OpenChangeKeyData(k.key, body, true)
		*k = keySlot{key: nk, ver: ver}
		t.nvm++
		t.sess = nil
		return []byte{okNative, 0x00}
	}
	// Case 1: (NewKey XOR OldKey) || KeyVer || CRC32NK(NewKey).
	if len(body) != 21 {
		return t.fail(apdu.SWLengthError)
	}
	nk, ver, ok := keys.OpenChangeKeyData(k.key, body, false)
	if !ok {
		return t.fail(apdu.SWIntegrityError)
	}
	// ChangeKey also resets the key's failed-authentication counters.
	*k = keySlot{key: nk, ver: ver}
	t.nvm++
	return t.wrap(sdm.CommModeFull, nil)
}

// grant decides whether f may be read (or written) and in which mode: a
// right naming the authenticated key uses the file's CommMode, a free right
// CommMode.Plain; an SDM file with SDMFileRead set can be read in plain
// when not authenticated. Otherwise 919D if every relevant right is F,
// 91AE if one names a key (tables 80 and 83).
func (t *Tag) grant(f *file, write bool) (byte, apdu.StatusWord) {
	a := f.set.Access
	rights := []byte{a.Read, a.ReadWrite}
	sdmRead := !write && f.set.SDM && f.set.FileRead != sdm.AccessNone
	if write {
		rights = []byte{a.Write, a.ReadWrite}
		sdmRead = false
	}
	if t.sess != nil {
		for _, r := range rights {
			if r == t.sess.KeyNo {
				return commMode(f.set.CommMode), 0
			}
		}
	}
	for _, r := range rights {
		if r == sdm.AccessFree {
			return sdm.CommModePlain, 0
		}
	}
	if sdmRead && t.sess == nil {
		return sdm.CommModePlain, 0
	}
	if !sdmRead && rights[0] == sdm.AccessNone && rights[1] == sdm.AccessNone {
		return 0, apdu.SWPermissionDenied
	}
	return 0, apdu.SWAuthError
}

func le24(b []byte) int { return int(b[0]) | int(b[1])<<8 | int(b[2])<<16 }

// dataCmd is the common part of ReadData and WriteData: the header
// FileNo || Offset || Length, the target file, the access decision and the
// secure messaging of the command in the mode the access grants.
func (t *Tag) dataCmd(ins byte, data []byte, write bool) (f *file, off, n int, mode byte, body []byte, sw apdu.StatusWord) {
	if len(data) < 7 {
		return nil, 0, 0, 0, nil, apdu.SWLengthError
	}
	if f = t.file(data[0]); f == nil {
		return nil, 0, 0, 0, nil, apdu.SWFileNotFound
	}
	if mode, sw = t.grant(f, write); sw != 0 {
		return nil, 0, 0, 0, nil, sw
	}
	if _, body, sw = t.unwrap(ins, data, 7, mode); sw != 0 {
		return nil, 0, 0, 0, nil, sw
	}
	return f, le24(data[1:4]), le24(data[4:7]), mode, body, 0
}

func (t *Tag) readData(data []byte) []byte {
	f, off, n, mode, body, sw := t.dataCmd(apdu.InsReadData, data, false)
	if sw != 0 {
		return t.fail(sw)
	}
	if len(body) != 0 {
		return t.fail(apdu.SWLengthError)
	}
	size := len(f.data)
	if off >= size {
		return t.fail(apdu.SWBoundaryError)
	}
	if n == 0 {
		n = size - off
	}
	if off+n > size {
		return t.fail(apdu.SWBoundaryError)
	}
	content := f.data
	if t.sess == nil && f.set.SDM {
		if content, sw = t.mirror(f, false); sw != 0 {
			return t.fail(sw)
		}
	}
	return t.wrap(mode, content[off:off+n])
}

func (t *Tag) writeData(data []byte) []byte {
	f, off, n, mode, body, sw := t.dataCmd(apdu.InsWriteData, data, true)
	if sw != 0 {
		return t.fail(sw)
	}
	if n == 0 || len(body) != n {
		return t.fail(apdu.SWLengthError)
	}
	if off+n > len(f.data) {
		return t.fail(apdu.SWBoundaryError)
	}
	copy(f.data[off:], body)
	t.nvm += (n + 31) / 32
	return t.wrap(mode, nil)
}

func (t *Tag) getFileCounters(data []byte) []byte {
	if len(data) < 1 {
		return t.fail(apdu.SWLengthError)
	}
	f := t.file(data[0])
	if f == nil {
		return t.fail(apdu.SWFileNotFound)
	}
	if !f.set.SDM {
		return t.fail(apdu.SWPermissionDenied)
	}
	mode, sw := t.changeGrant(f.set.CtrRet)
	if sw != 0 {
		return t.fail(sw)
	}
	_, body, sw := t.unwrap(apdu.InsGetFileCounters, data, 1, mode)
	if sw != 0 {
		return t.fail(sw)
	}
	if len(body) != 0 {
		return t.fail(apdu.SWLengthError)
	}
	c := f.ctr.LE()
	return t.wrap(mode, []byte{c[0], c[1], c[2], 0x00, 0x00})
}
