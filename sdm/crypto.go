package sdm

import (
	"crypto/cipher"
	"errors"

	"github.com/tagline-station/tagline/internal/errkind"
	"github.com/tagline-station/tagline/keys"
)

// ErrBadMAC reports an SDMMAC that does not verify.
var ErrBadMAC = errkind.New(errkind.Verification, "sun message mac does not verify")

// ErrBadPICCData reports encrypted PICCData that does not decrypt to a
// well-formed record (wrong meta-read key, or not our tag).
var ErrBadPICCData = errkind.New(errkind.Verification, "picc data does not decrypt to a valid record")

// PICCData tag bits (datasheet 9.3.4, table 24).
const (
	piccUIDMirror = 0x80
	piccCtrMirror = 0x40
	piccUIDLenMsk = 0x0F
)

// Counter is an SDMReadCtr value (24 bits).
type Counter uint32

// LE returns the counter's 3 bytes LSB first, as in PICCData and SV.
func (c Counter) LE() [3]byte { return [3]byte{byte(c), byte(c >> 8), byte(c >> 16)} }

func counterFromLE(b []byte) Counter {
	return Counter(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16)
}

// sessionVector is SV1/SV2 of 9.3.9: label || 00 01 00 80 || UID || ctr,
// zero-padded to one block.
func sessionVector(label [2]byte, uid []byte, ctr Counter) []byte {
	v := make([]byte, 16)
	copy(v, label[:])
	copy(v[2:], []byte{0x00, 0x01, 0x00, 0x80})
	n := 6 + copy(v[6:], uid)
	c := ctr.LE()
	copy(v[n:], c[:])
	return v
}

// SessionKeys returns KSesSDMFileReadENC and KSesSDMFileReadMAC.
func SessionKeys(fileRead keys.Key, uid []byte, ctr Counter) (enc, mac keys.Key) {
	c := fileRead.CMAC()
	e := c.Sum(sessionVector([2]byte{0xC3, 0x3C}, uid, ctr))
	m := c.Sum(sessionVector([2]byte{0x3C, 0xC3}, uid, ctr))
	enc, _ = keys.NewKey(e[:])
	mac, _ = keys.NewKey(m[:])
	return enc, mac
}

// MAC is the SDMMAC: MACt of CMAC(KSesSDMFileReadMAC, input), where input
// is the file content from SDMMACInputOffset to SDMMACOffset (as ASCII when
// mirrored in ASCII); empty when the two offsets are equal.
func MAC(fileRead keys.Key, uid []byte, ctr Counter, input []byte) [8]byte {
	_, mac := SessionKeys(fileRead, uid, ctr)
	return mac.CMAC().SumTruncated(input)
}

// PICCData is the decrypted content of an encrypted PICCData mirror.
type PICCData struct {
	UID     []byte
	Ctr     Counter
	HasUID  bool
	HasCtr  bool
	TagByte byte
}

// EncryptPICCData is the tag side: PICCDataTag || UID || SDMReadCtr ||
// random padding, AES-CBC with a zero IV under KSDMMetaRead. rnd fills the
// padding so that the output changes on every read even without a counter.
func EncryptPICCData(meta keys.Key, uid []byte, ctr Counter, withUID, withCtr bool, rnd []byte) [16]byte {
	p := piccPlain(uid, ctr, withUID, withCtr, rnd)
	var iv [16]byte
	cipher.NewCBCEncrypter(meta.Block(), iv[:]).CryptBlocks(p[:], p[:])
	return p
}

// DecryptPICCData decrypts and parses encrypted PICCData.
func DecryptPICCData(meta keys.Key, enc []byte) (PICCData, error) {
	var d PICCData
	if len(enc) != 16 {
		return d, ErrBadPICCData
	}
	var iv [16]byte
	p := make([]byte, 16)
	cipher.NewCBCDecrypter(meta.Block(), iv[:]).CryptBlocks(p, enc)
	return parsePICCData(p)
}

// piccPlain is the PICCData record both modes encrypt: PICCDataTag ||
// UID || SDMReadCtr || padding from rnd.
func piccPlain(uid []byte, ctr Counter, withUID, withCtr bool, rnd []byte) [16]byte {
	var p [16]byte
	n := 1
	if withUID {
		p[0] |= piccUIDMirror | byte(len(uid)&piccUIDLenMsk)
		n += copy(p[n:], uid)
	}
	if withCtr {
		p[0] |= piccCtrMirror
		c := ctr.LE()
		n += copy(p[n:], c[:])
	}
	copy(p[n:], rnd)
	return p
}

// parsePICCData parses a decrypted 16-byte PICCData record.
func parsePICCData(p []byte) (PICCData, error) {
	var d PICCData
	d.TagByte = p[0]
	n := 1
	if p[0]&piccUIDMirror != 0 {
		l := int(p[0] & piccUIDLenMsk)
		// NTAG 424 DNA UIDs are 7 bytes; a random-UID tag also reports 7
		// here. Anything else means the key was wrong.
		if l != 7 {
			return d, ErrBadPICCData
		}
		d.UID = append([]byte(nil), p[n:n+l]...)
		d.HasUID = true
		n += l
	}
	if p[0]&piccCtrMirror != 0 {
		d.Ctr = counterFromLE(p[n : n+3])
		d.HasCtr = true
		n += 3
	}
	// The other bits of the tag byte are RFU and zero on a genuine tag.
	if p[0]&0x30 != 0 || (!d.HasUID && !d.HasCtr) {
		return d, ErrBadPICCData
	}
	return d, nil
}

// encFileIV is E(KSesSDMFileReadENC, SDMReadCtr || 0^13): the counter comes
// first here, unlike the EV2 IVs.
func encFileIV(b cipher.Block, ctr Counter) []byte {
	iv := make([]byte, 16)
	c := ctr.LE()
	copy(iv, c[:])
	b.Encrypt(iv, iv)
	return iv
}

// EncryptFileData is the tag side of SDMENCFileData.
func EncryptFileData(fileRead keys.Key, uid []byte, ctr Counter, plain []byte) ([]byte, error) {
	if len(plain) == 0 || len(plain)%16 != 0 {
		return nil, errors.New("sdm file data must be a whole number of 16-byte blocks")
	}
	enc, _ := SessionKeys(fileRead, uid, ctr)
	b := enc.Block()
	out := make([]byte, len(plain))
	cipher.NewCBCEncrypter(b, encFileIV(b, ctr)).CryptBlocks(out, plain)
	return out, nil
}

// DecryptFileData decrypts SDMENCFileData with the session ENC key (not the
// meta-read key: a common mistake).
func DecryptFileData(fileRead keys.Key, uid []byte, ctr Counter, ct []byte) ([]byte, error) {
	if len(ct) == 0 || len(ct)%16 != 0 {
		return nil, errors.New("sdm encrypted file data must be a whole number of 16-byte blocks")
	}
	enc, _ := SessionKeys(fileRead, uid, ctr)
	b := enc.Block()
	out := make([]byte, len(ct))
	cipher.NewCBCDecrypter(b, encFileIV(b, ctr)).CryptBlocks(out, ct)
	return out, nil
}
