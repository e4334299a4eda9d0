package ev2

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"fmt"

	"github.com/tagline-station/tagline/apdu"
	"github.com/tagline-station/tagline/keys"
)

// Failures of the secure channel's own checks are apdu.ErrIntegrity, the
// class of the tag's 91 1E for the same failure seen from its side: one
// sentinel, whichever end caught it.
var (
	errMAC     = fmt.Errorf("%w: mac does not verify", apdu.ErrIntegrity)
	errPadding = fmt.Errorf("%w: padding does not verify", apdu.ErrIntegrity)
	errBlocks  = fmt.Errorf("%w: not a whole number of blocks", apdu.ErrIntegrity)
)

// Labels of the IV and session-vector inputs (section 9.1.4 and 9.1.7).
var (
	labelCmdIV  = [2]byte{0xA5, 0x5A}
	labelRespIV = [2]byte{0x5A, 0xA5}
	labelSV1    = [2]byte{0xA5, 0x5A}
	labelSV2    = [2]byte{0x5A, 0xA5}
)

// Session is an authenticated EV2 session: the two session keys, the
// transaction identifier and the command counter (section 9.1.2).
type Session struct {
	TI     [4]byte
	CmdCtr uint16
	KeyNo  byte

	// Only the key schedules: a session cannot hand out its keys.
	enc cipher.Block
	mac *keys.CMAC
	lrp *lrpState // LRP mode (lrp.go): replaces enc and mac
}

// NewSession builds a session from its two keys.
func NewSession(encKey, macKey keys.Key, ti [4]byte, keyNo byte) *Session {
	return &Session{TI: ti, KeyNo: keyNo, enc: encKey.Block(), mac: macKey.CMAC()}
}

// SessionVector builds SV1 or SV2 (section 9.1.7): label || 00 01 00 80 ||
// RndA[0..1] || (RndA[2..7] XOR RndB[0..5]) || RndB[6..15] || RndA[8..15],
// 32 bytes, bytes indexed in wire order.
func SessionVector(sv2 bool, rndA, rndB []byte) [32]byte {
	var v [32]byte
	if sv2 {
		copy(v[0:2], labelSV2[:])
	} else {
		copy(v[0:2], labelSV1[:])
	}
	copy(v[2:6], []byte{0x00, 0x01, 0x00, 0x80})
	copy(v[6:8], rndA[0:2])
	subtle.XORBytes(v[8:14], rndA[2:8], rndB[0:6])
	copy(v[14:24], rndB[6:16])
	copy(v[24:32], rndA[8:16])
	return v
}

// DeriveSessionKeys returns SesAuthENCKey = CMAC(K, SV1) and
// SesAuthMACKey = CMAC(K, SV2).
func DeriveSessionKeys(k keys.Key, rndA, rndB []byte) (enc, mac keys.Key) {
	c := k.CMAC()
	sv1 := SessionVector(false, rndA, rndB)
	sv2 := SessionVector(true, rndA, rndB)
	e := c.Sum(sv1[:])
	m := c.Sum(sv2[:])
	enc, _ = keys.NewKey(e[:])
	mac, _ = keys.NewKey(m[:])
	return enc, mac
}

func (s *Session) iv(label [2]byte, ctr uint16) [16]byte {
	var in [16]byte
	copy(in[0:2], label[:])
	copy(in[2:6], s.TI[:])
	binary.LittleEndian.PutUint16(in[6:8], ctr)
	s.enc.Encrypt(in[:], in[:])
	return in
}

// CommandIV is E(SesAuthENCKey, A5 5A || TI || CmdCtr || 0^8).
func (s *Session) CommandIV() [16]byte { return s.iv(labelCmdIV, s.CmdCtr) }

// ResponseIV is E(SesAuthENCKey, 5A A5 || TI || CmdCtr+1 || 0^8); the
// counter is the one after the command, as the PICC increments it first.
func (s *Session) ResponseIV() [16]byte { return s.iv(labelRespIV, s.CmdCtr+1) }

// CommandMAC is MACt over Cmd || CmdCtr || TI || CmdHeader || Data.
func (s *Session) CommandMAC(cmd byte, header, data []byte) [8]byte {
	buf := make([]byte, 0, 7+len(header)+len(data))
	buf = append(buf, cmd, byte(s.CmdCtr), byte(s.CmdCtr>>8))
	buf = append(buf, s.TI[:]...)
	buf = append(buf, header...)
	buf = append(buf, data...)
	return s.macT(buf)
}

// macT is the MACt of either mode.
func (s *Session) macT(buf []byte) [8]byte {
	if s.lrp != nil {
		return s.lrp.prim.CMACTruncated(buf)
	}
	return s.mac.SumTruncated(buf)
}

// ResponseMAC is MACt over RC || CmdCtr+1 || TI || RespData.
func (s *Session) ResponseMAC(rc byte, data []byte) [8]byte {
	ctr := s.CmdCtr + 1
	buf := make([]byte, 0, 7+len(data))
	buf = append(buf, rc, byte(ctr), byte(ctr>>8))
	buf = append(buf, s.TI[:]...)
	buf = append(buf, data...)
	return s.macT(buf)
}

// VerifyCommandMAC checks a received command MAC in constant time.
func (s *Session) VerifyCommandMAC(cmd byte, header, data, mac []byte) error {
	want := s.CommandMAC(cmd, header, data)
	if !keys.Equal(want[:], mac) {
		return errMAC
	}
	return nil
}

// VerifyResponseMAC checks a received response MAC in constant time.
func (s *Session) VerifyResponseMAC(rc byte, data, mac []byte) error {
	want := s.ResponseMAC(rc, data)
	if !keys.Equal(want[:], mac) {
		return errMAC
	}
	return nil
}

// EncryptCommand pads (method 2) and encrypts command data with the command IV.
func (s *Session) EncryptCommand(plain []byte) []byte {
	if s.lrp != nil {
		out, _ := s.lrp.crypt(PadM2(plain), false)
		return out
	}
	iv := s.CommandIV()
	return cbcEncrypt(s.enc, iv[:], PadM2(plain))
}

// DecryptCommand is the PICC side of EncryptCommand.
func (s *Session) DecryptCommand(ct []byte) ([]byte, error) {
	if s.lrp != nil {
		return s.lrpDecryptPadded(ct)
	}
	iv := s.CommandIV()
	p, err := cbcDecrypt(s.enc, iv[:], ct)
	if err != nil {
		return nil, err
	}
	return UnpadM2(p)
}

// EncryptResponse pads and encrypts response data with the response IV.
func (s *Session) EncryptResponse(plain []byte) []byte {
	if s.lrp != nil {
		out, _ := s.lrp.crypt(PadM2(plain), false)
		return out
	}
	iv := s.ResponseIV()
	return cbcEncrypt(s.enc, iv[:], PadM2(plain))
}

// DecryptResponse is the PCD side of EncryptResponse.
func (s *Session) DecryptResponse(ct []byte) ([]byte, error) {
	if s.lrp != nil {
		return s.lrpDecryptPadded(ct)
	}
	iv := s.ResponseIV()
	p, err := cbcDecrypt(s.enc, iv[:], ct)
	if err != nil {
		return nil, err
	}
	return UnpadM2(p)
}

// EncryptRaw encrypts already block-aligned data with the command IV and
// no padding; ChangeKey pads its own 32-byte cryptogram.
func (s *Session) EncryptRaw(plain []byte) []byte {
	if s.lrp != nil {
		out, _ := s.lrp.crypt(plain, false)
		return out
	}
	iv := s.CommandIV()
	return cbcEncrypt(s.enc, iv[:], plain)
}

// DecryptRaw is the PICC side of EncryptRaw.
func (s *Session) DecryptRaw(ct []byte) ([]byte, error) {
	if s.lrp != nil {
		return s.lrp.crypt(ct, true)
	}
	iv := s.CommandIV()
	return cbcDecrypt(s.enc, iv[:], ct)
}

func cbcEncrypt(b cipher.Block, iv, plain []byte) []byte {
	out := make([]byte, len(plain))
	cipher.NewCBCEncrypter(b, iv).CryptBlocks(out, plain)
	return out
}

func cbcDecrypt(b cipher.Block, iv, ct []byte) ([]byte, error) {
	if len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return nil, errBlocks
	}
	out := make([]byte, len(ct))
	cipher.NewCBCDecrypter(b, iv).CryptBlocks(out, ct)
	return out, nil
}

// PadM2 applies ISO/IEC 9797-1 padding method 2: 80 then zeros to the next
// block boundary, a whole extra block when already aligned.
func PadM2(b []byte) []byte {
	n := len(b) + 1
	if r := n % aes.BlockSize; r != 0 {
		n += aes.BlockSize - r
	}
	out := make([]byte, n)
	copy(out, b)
	out[len(b)] = 0x80
	return out
}

// UnpadM2 removes method 2 padding.
func UnpadM2(b []byte) ([]byte, error) {
	for i := len(b) - 1; i >= 0 && i >= len(b)-aes.BlockSize; i-- {
		switch b[i] {
		case 0x00:
			continue
		case 0x80:
			return b[:i], nil
		}
		break
	}
	return nil, errPadding
}

// lrpDecryptPadded decrypts with EncCtr and removes method 2 padding.
func (s *Session) lrpDecryptPadded(ct []byte) ([]byte, error) {
	p, err := s.lrp.crypt(ct, true)
	if err != nil {
		return nil, err
	}
	return UnpadM2(p)
}
