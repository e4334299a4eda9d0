package sim

import (
	"bytes"

	"github.com/tagline-station/tagline/apdu"
)

// picc level DF name (datasheet 10.9.1): selecting it selects the PICC level.
var piccDFName = []byte{0xD2, 0x76, 0x00, 0x00, 0x85, 0x01, 0x00}

const fidMF = 0x3F00

// okISO is a fresh 90 00 (answers are mutable: see CorruptResponse).
func okISO() []byte { return apdu.SWOK.Bytes() }

func (t *Tag) iso(cmd apdu.Command, raw []byte) []byte {
	t.pend = pending{}
	switch cmd.Ins {
	case apdu.InsSelect:
		return t.isoSelect(cmd)
	case apdu.InsReadBinary:
		return t.isoReadBinary(cmd, raw)
	case apdu.InsUpdateBinary:
		return t.isoUpdateBinary(cmd)
	}
	return t.fail(apdu.SWISOInsNotSupported)
}

// selectDF selects the application (app) or the PICC level; it ends any
// authenticated session.
func (t *Tag) selectDF(app bool) []byte {
	t.sess = nil
	t.appSelected = app
	t.selEF = nil
	return okISO()
}

func (t *Tag) isoSelect(cmd apdu.Command) []byte {
	if cmd.P2 != 0x00 && cmd.P2 != 0x0C {
		return t.fail(apdu.SWISOWrongParams)
	}
	d := cmd.Data
	switch cmd.P1 {
	case 0x04:
		switch {
		case len(d) == 0 || len(d) > 16:
			return t.fail(apdu.SWISOWrongDataLength)
		case bytes.Equal(d, apdu.NDEFAppName):
			return t.selectDF(true)
		case bytes.Equal(d, piccDFName):
			return t.selectDF(false)
		}
		return t.fail(apdu.SWISOFileNotFound)
	case 0x03:
		if len(d) != 0 {
			return t.fail(apdu.SWISOWrongDataLength)
		}
		return t.selectDF(false)
	case 0x00, 0x01, 0x02:
	default:
		return t.fail(apdu.SWISOWrongParams)
	}
	if len(d) == 0 && cmd.P1 == 0x00 {
		return t.selectDF(false)
	}
	if len(d) != 2 {
		return t.fail(apdu.SWISOWrongDataLength)
	}
	fid := uint16(d[0])<<8 | uint16(d[1])
	switch {
	case fid == fidMF && cmd.P1 == 0x00:
		return t.selectDF(false)
	case fid == apdu.FIDApplication && cmd.P1 != 0x02:
		return t.selectDF(true)
	case cmd.P1 != 0x01 && t.appSelected:
		if f := t.fileByFID(fid); f != nil {
			t.selEF = f
			return okISO()
		}
	}
	return t.fail(apdu.SWISOFileNotFound)
}

// isoTarget resolves P1 P2 of ISOReadBinary / ISOUpdateBinary: a short
// file identifier (P1 bit 7, selecting that file) with offset P2, or a
// 15-bit offset into the selected file.
func (t *Tag) isoTarget(cmd apdu.Command) (*file, int, apdu.StatusWord) {
	off := int(cmd.P1&0x7F)<<8 | int(cmd.P2)
	if cmd.P1&0x80 != 0 {
		if cmd.P1&0x60 != 0 || cmd.P1&0x1F == 0x1F {
			return nil, 0, apdu.SWISOWrongParams
		}
		off = int(cmd.P2)
		if sfi := cmd.P1 & 0x1F; sfi != 0 {
			f := t.file(sfi)
			if f == nil || !t.appSelected {
				return nil, 0, apdu.SWISOFileNotFound
			}
			t.selEF = f
		}
	}
	if t.selEF == nil {
		return nil, 0, apdu.SWISOConditions
	}
	if t.sess != nil {
		// Table 89: ISO commands are not allowed in AuthenticatedEV2 state.
		return nil, 0, apdu.SWISOSecurityStatus
	}
	return t.selEF, off, 0
}

func (t *Tag) isoReadBinary(cmd apdu.Command, raw []byte) []byte {
	if !cmd.HasLe || len(cmd.Data) != 0 {
		return t.fail(apdu.SWISOWrongLength)
	}
	le := int(raw[len(raw)-1])
	if le == 0 {
		le = 256
	}
	f, off, sw := t.isoTarget(cmd)
	if sw != 0 {
		return t.fail(sw)
	}
	if _, sw := t.grant(f, false); sw != 0 {
		return t.fail(apdu.SWISOSecurityStatus)
	}
	if off >= len(f.data) {
		return t.fail(apdu.SWISOWrongParams)
	}
	n := min(le, len(f.data)-off)
	content := f.data
	if f.set.SDM {
		var sw apdu.StatusWord
		if content, sw = t.mirror(f, true); sw != 0 {
			if sw == apdu.SWMemoryError {
				return t.fail(apdu.SWISOMemoryFailure)
			}
			return t.fail(apdu.SWISOSecurityStatus)
		}
	}
	return append(append([]byte(nil), content[off:off+n]...), okISO()...)
}

func (t *Tag) isoUpdateBinary(cmd apdu.Command) []byte {
	if len(cmd.Data) == 0 {
		return t.fail(apdu.SWISOWrongLength)
	}
	f, off, sw := t.isoTarget(cmd)
	if sw != 0 {
		return t.fail(sw)
	}
	if _, sw := t.grant(f, true); sw != 0 {
		return t.fail(apdu.SWISOSecurityStatus)
	}
	if off >= len(f.data) {
		return t.fail(apdu.SWISOWrongParams)
	}
	if off+len(cmd.Data) > len(f.data) {
		return t.fail(apdu.SWISOWrongLength)
	}
	copy(f.data[off:], cmd.Data)
	t.nvm += (len(cmd.Data) + 31) / 32
	return okISO()
}
