package sdm

import (
	"errors"

	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/lrp"
)

// SUN messages of a tag in LRP mode (datasheet NT4H2421Gx section 9.3 in
// LRP mode, AN12304): the same keys and the same file layout as AES mode,
// other cryptography.
//
//   - PICCData is 24 bytes: PICCRand (8 random bytes, mirrored as they are)
//     followed by LRICB under KSDMMetaRead, updated key 0, with PICCRand as
//     the counter, over the same 16-byte record as in AES mode.
//   - One session key, CMAC_LRP(KSDMFileRead, SV) with
//     SV = 00 01 00 80 || UID || SDMReadCtr || zero padding || 1E E1 (one
//     block); the SDMMAC is the MACt of CMAC_LRP under it (updated key 0)
//     and SDMENCFileData is LRICB under it with updated key 1 and the
//     counter SDMReadCtr || 00 00 00.

// LRPPICCDataLen is the length of LRP PICCData: PICCRand and one block.
const LRPPICCDataLen = 8 + 16

// lrpSV is the session vector of an LRP SUN message.
func lrpSV(uid []byte, ctr Counter) []byte {
	v := make([]byte, 0, 16)
	v = append(v, 0x00, 0x01, 0x00, 0x80)
	v = append(v, uid...)
	c := ctr.LE()
	v = append(v, c[:]...)
	for (len(v)+2)%16 != 0 {
		v = append(v, 0x00)
	}
	return append(v, 0x1E, 0xE1)
}

// LRPSessionKey is the SDM session key of LRP mode,
// CMAC_LRP(KSDMFileRead, SV).
func LRPSessionKey(fileRead keys.Key, uid []byte, ctr Counter) keys.Key {
	return lrp.MACKey(fileRead, lrpSV(uid, ctr))
}

// MACLRP is the SDMMAC of LRP mode over input (the file content from
// SDMMACInputOffset to SDMMACOffset, empty when they are equal).
func MACLRP(fileRead keys.Key, uid []byte, ctr Counter, input []byte) [8]byte {
	return lrp.New(LRPSessionKey(fileRead, uid, ctr)).CMACTruncated(input)
}

// EncryptPICCDataLRP is the tag side: piccRand is the 8-byte counter the
// tag draws for this read, rnd fills the record's padding.
func EncryptPICCDataLRP(meta keys.Key, piccRand [8]byte, uid []byte, ctr Counter, withUID, withCtr bool, rnd []byte) [LRPPICCDataLen]byte {
	p := piccPlain(uid, ctr, withUID, withCtr, rnd)
	ct, _ := lrp.New(meta).LRICB(0, piccRand[:]).Encrypt(p[:]) // one block: cannot fail
	var out [LRPPICCDataLen]byte
	copy(out[:8], piccRand[:])
	copy(out[8:], ct)
	return out
}

// DecryptPICCDataLRP decrypts and parses LRP PICCData.
func DecryptPICCDataLRP(meta keys.Key, enc []byte) (PICCData, error) {
	if len(enc) != LRPPICCDataLen {
		return PICCData{}, ErrBadPICCData
	}
	p, err := lrp.New(meta).LRICB(0, enc[:8]).Decrypt(enc[8:])
	if err != nil {
		return PICCData{}, ErrBadPICCData
	}
	return parsePICCData(p)
}

// lrpFileCounter is the LRICB counter of SDMENCFileData.
func lrpFileCounter(ctr Counter) []byte {
	c := ctr.LE()
	return []byte{c[0], c[1], c[2], 0, 0, 0}
}

var errFileBlocks = errors.New("sdm file data must be a whole number of 16-byte blocks")

// EncryptFileDataLRP is the tag side of SDMENCFileData in LRP mode.
func EncryptFileDataLRP(fileRead keys.Key, uid []byte, ctr Counter, plain []byte) ([]byte, error) {
	out, err := lrp.New(LRPSessionKey(fileRead, uid, ctr)).LRICB(1, lrpFileCounter(ctr)).Encrypt(plain)
	if err != nil {
		return nil, errFileBlocks
	}
	return out, nil
}

// DecryptFileDataLRP decrypts SDMENCFileData of LRP mode.
func DecryptFileDataLRP(fileRead keys.Key, uid []byte, ctr Counter, ct []byte) ([]byte, error) {
	out, err := lrp.New(LRPSessionKey(fileRead, uid, ctr)).LRICB(1, lrpFileCounter(ctr)).Decrypt(ct)
	if err != nil {
		return nil, errFileBlocks
	}
	return out, nil
}

// ErrNotLRPLayout: VerifyUnswitched needs the LRP layout of a template.
var ErrNotLRPLayout = errors.New("sdm: not the lrp layout of a template")

// VerifyUnswitched verifies what a tag written with this LRP layout
// mirrors while it is still in AES mode (personalised, not yet switched):
// AES PICCData in the first 32 characters of {picc}, the other 16 still
// the zeros the NDEF file was written with, and an AES SDMMAC. Plain
// mirrors are the same in both layouts.
func (t *Template) VerifyUnswitched(url string, k KeyLookup) (Verified, error) {
	if !t.lrp {
		return Verified{}, ErrNotLRPLayout
	}
	aes, err := parseTemplate(t.raw, false)
	if err != nil {
		return Verified{}, err
	}
	if t.Encrypted() {
		rest, err := t.match(url)
		if err != nil {
			return Verified{}, err
		}
		at := len(url) - len(rest) + t.pos[PhPICC] + 2*16
		if url[at:at+16] != "0000000000000000" {
			return Verified{}, ErrURLMismatch
		}
		url = url[:at] + url[at+16:]
	}
	return aes.verifyMode(url, k)
}

// width is the number of characters a placeholder takes in this mode.
func (t *Template) width(name string) int {
	if name == PhPICC && t.lrp {
		return 2 * LRPPICCDataLen
	}
	return phWidth[name]
}

// verifyEither tells the modes apart by what the URL shows: an encrypted
// PICCData mirror is 48 characters in LRP mode and 32 in AES mode, so the
// length decides. Plain mirrors are as long in both modes; the AES MAC is
// tried first and the LRP MAC only when it fails, so a forger gets two
// guesses at a 64-bit MAC instead of one.
func (t *Template) verifyEither(url string, k KeyLookup) (Verified, error) {
	if t.Encrypted() {
		if _, err := t.twin.match(url); err == nil {
			return t.twin.verifyMode(url, k)
		}
		return t.verifyMode(url, k)
	}
	v, err := t.verifyMode(url, k)
	if errors.Is(err, ErrBadMAC) {
		if lv, lerr := t.twin.verifyMode(url, k); lerr == nil {
			return lv, nil
		}
	}
	return v, err
}

// LRP returns this template's layout for a tag in LRP mode, where {picc}
// mirrors 24 bytes: the encoder writes its NDEF and settings, and its
// Verify takes LRP taps only.
func (t *Template) LRP() (*Template, error) {
	if t.lrp {
		return t, nil
	}
	if t.twin == nil {
		return parseTemplate(t.raw, true) // gives the reason it does not fit
	}
	return t.twin, nil
}

// IsLRP reports whether this is an LRP layout.
func (t *Template) IsLRP() bool { return t.lrp }
