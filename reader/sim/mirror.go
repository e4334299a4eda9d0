package sim

import (
	"encoding/hex"
	"strings"

	"github.com/tagline-station/tagline/apdu"
	"github.com/tagline-station/tagline/sdm"
)

// mirror returns the content of SDM file f as a not-authenticated read
// sees it (datasheet 9.3): UID, SDMReadCtr, encrypted PICCData,
// SDMENCFileData and SDMMAC written over their placeholders as uppercase
// ASCII hex. iso tells ISOReadBinary from ReadData for the read-sequence
// rule of 9.3.1: the first read of a sequence increments SDMReadCtr and
// draws fresh PICCData padding, the following ones of the same kind on the
// same file reuse both. On error the counter is left alone; the status is
// the ReadData one (919D at the SDMReadCtrLimit, 911E when the counter is
// exhausted, 91EE when the random source fails).
func (t *Tag) mirror(f *file, iso bool) ([]byte, apdu.StatusWord) {
	s := f.set
	ctrOn := s.SDMOptions&sdm.OptCtrMirror != 0
	uidOn := s.SDMOptions&sdm.OptUIDMirror != 0
	r := t.run
	same := r.valid && r.iso == iso && r.fileNo == f.no
	ctr, pad := f.ctr, r.pad
	if !same {
		pad = nil
		if ctrOn {
			switch {
			case s.SDMOptions&sdm.OptCtrLimit != 0 && uint32(f.ctr) >= s.CtrLimit:
				return nil, apdu.SWPermissionDenied
			case f.ctr >= noMirror:
				return nil, apdu.SWIntegrityError
			}
			ctr = f.ctr + 1
		}
	} else {
		ctr = r.ctr
	}
	data := t.overlayTamper(s, f.data)
	out := append([]byte(nil), data...)
	if s.MetaRead == sdm.AccessFree {
		if uidOn {
			putHex(out, s.UIDOffset, t.uid)
		}
		if ctrOn && s.CtrOffset != noMirror {
			c := ctr.LE()
			putHex(out, s.CtrOffset, []byte{c[2], c[1], c[0]}) // MSB first in ASCII
		}
	}
	if s.MetaRead < NumKeys {
		if pad == nil {
			n := 16 - 1
			if t.lrp {
				n += lrpPICCRandLen
			}
			if uidOn {
				n -= len(t.uid)
			}
			if ctrOn {
				n -= 3
			}
			var err error
			if pad, err = t.random(n); err != nil {
				return nil, apdu.SWMemoryError
			}
		}
		if t.lrp {
			var rnd [lrpPICCRandLen]byte
			copy(rnd[:], pad)
			enc := sdm.EncryptPICCDataLRP(t.keys[s.MetaRead].key, rnd, t.uid, ctr, uidOn, ctrOn, pad[lrpPICCRandLen:])
			putHex(out, s.PICCOffset, enc[:])
		} else {
			enc := sdm.EncryptPICCData(t.keys[s.MetaRead].key, t.uid, ctr, uidOn, ctrOn, pad)
			putHex(out, s.PICCOffset, enc[:])
		}
	}
	if s.FileRead < NumKeys {
		k := t.keys[s.FileRead].key
		if s.SDMOptions&sdm.OptEncFileData != 0 {
			lo, hi := int(s.ENCOffset), int(s.ENCOffset)+int(s.ENCLength)/2
			if hi <= len(f.data) && lo <= hi {
				encrypt := sdm.EncryptFileData
				if t.lrp {
					encrypt = sdm.EncryptFileDataLRP
				}
				if ct, err := encrypt(k, t.uid, ctr, data[lo:hi]); err == nil {
					putHex(out, s.ENCOffset, ct)
				}
			}
		}
		if lo, hi := int(s.MACInOffset), int(s.MACOffset); lo <= hi && hi <= len(out) {
			mac8 := sdm.MAC
			if t.lrp {
				mac8 = sdm.MACLRP
			}
			mac := mac8(k, t.uid, ctr, out[lo:hi])
			putHex(out, s.MACOffset, mac[:])
		}
	}
	if !same && ctrOn {
		f.ctr = ctr
		t.nvm++
	}
	t.run = readRun{valid: true, iso: iso, fileNo: f.no, ctr: ctr, pad: pad}
	t.keepRun = true
	return out, 0
}

// putHex writes b as uppercase hex at off, if it fits (settings are
// validated when set, so it always does on a well-configured tag).
func putHex(dst []byte, off uint32, b []byte) {
	h := strings.ToUpper(hex.EncodeToString(b))
	if int(off) <= len(dst) && len(h) <= len(dst)-int(off) {
		copy(dst[off:], h)
	}
}
