package ev2

import (
	"crypto/subtle"

	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/lrp"
)

// LRP secure messaging (datasheet NT4H2421Gx section 9.2, AN12304): the
// same commands, counters, MAC inputs and truncation as AES mode, with
// CMAC_LRP for the MACs and LRICB with the 32-bit EncCtr for encryption.
// AuthenticateLRPFirst is INS 71 with PCDcap2.1 = 02: the tag sends RndB
// in clear and both sides prove the key with CMAC_LRP under the session
// key, which only a holder of the long-term key can derive.

// PCDCap2LRP is PCDcap2.1 asking AuthenticateEV2First's INS for LRP.
const PCDCap2LRP = 0x02

// AuthModeLRP is the first byte of the tag's answer to part 1 in LRP mode.
const AuthModeLRP = 0x01

const (
	lrpMACKey = 0 // updated key of SesAuthMACKey
	lrpENCKey = 1 // updated key of SesAuthENCKey
)

// LRPSessionVector is SV = 00 01 00 80 || RndA[0..1] || (RndA[2..7] XOR
// RndB[0..5]) || RndB[6..15] || RndA[8..15] || 96 69, bytes in wire order.
func LRPSessionVector(rndA, rndB []byte) [32]byte {
	var v [32]byte
	copy(v[0:4], []byte{0x00, 0x01, 0x00, 0x80})
	copy(v[4:6], rndA[0:2])
	subtle.XORBytes(v[6:12], rndA[2:8], rndB[0:6])
	copy(v[12:22], rndB[6:16])
	copy(v[22:30], rndA[8:16])
	v[30], v[31] = 0x96, 0x69
	return v
}

// LRPSessionMasterKey is SesAuthMasterKey = CMAC_LRP(Kx, SV). Its updated
// key 0 is SesAuthMACKey, updated key 1 SesAuthENCKey.
func LRPSessionMasterKey(k keys.Key, rndA, rndB []byte) keys.Key {
	sv := LRPSessionVector(rndA, rndB)
	return lrp.MACKey(k, sv[:])
}

// lrpState is the LRP half of a Session: the MAC primitive and the LRICB
// cipher whose counter is EncCtr.
type lrpState struct {
	prim *lrp.Primitive
	enc  *lrp.Cipher
}

// NewLRPSession is the session of AuthenticateLRPFirst from its master key
// with EncCtr at encCtr (1 after authentication: part 2 used 0).
func NewLRPSession(master keys.Key, ti [4]byte, keyNo byte, encCtr uint32) *Session {
	p := lrp.New(master)
	ctr := []byte{byte(encCtr >> 24), byte(encCtr >> 16), byte(encCtr >> 8), byte(encCtr)}
	return &Session{TI: ti, KeyNo: keyNo, lrp: &lrpState{prim: p, enc: p.LRICB(lrpENCKey, ctr)}}
}

// IsLRP reports whether the session is an LRP session.
func (s *Session) IsLRP() bool { return s.lrp != nil }

// EncCtr is the LRP encryption counter the next block will use.
func (s *Session) EncCtr() uint32 {
	c := s.lrp.enc.Counter()
	return uint32(c[0])<<24 | uint32(c[1])<<16 | uint32(c[2])<<8 | uint32(c[3])
}

func (l *lrpState) crypt(in []byte, decrypt bool) ([]byte, error) {
	if decrypt {
		out, err := l.enc.Decrypt(in)
		if err != nil {
			return nil, errBlocks
		}
		return out, nil
	}
	out, err := l.enc.Encrypt(in)
	if err != nil {
		panic("ev2: lrp encryption of unpadded data") // callers pad first
	}
	return out, nil
}

// LRPFirstAnswer is the tag's part-2 answer of AuthenticateLRPFirst:
// PICCData = LRICB(SesAuthENCKey, EncCtr 0, TI || PDcap2 || PCDcap2) and
// PICCResponse = CMAC_LRP(SesAuthMACKey, RndB || RndA || PICCData).
func LRPFirstAnswer(master keys.Key, rndA, rndB []byte, ti [4]byte, pdCap2, pcdCap2 [6]byte) []byte {
	p := lrp.New(master)
	plain := append(append(append(make([]byte, 0, 16), ti[:]...), pdCap2[:]...), pcdCap2[:]...)
	piccData, _ := p.LRICB(lrpENCKey, make([]byte, 4)).Encrypt(plain) // one block
	resp := p.CMAC(append(append(append(make([]byte, 0, 48), rndB...), rndA...), piccData...))
	return append(piccData, resp[:]...)
}

// LRPPCDResponse is the reader's proof, CMAC_LRP(SesAuthMACKey, RndA || RndB).
func LRPPCDResponse(master keys.Key, rndA, rndB []byte) [16]byte {
	return lrp.New(master).CMAC(append(append(make([]byte, 0, 32), rndA...), rndB...))
}

// LRPCheckPCDResponse is the tag side: the reader's proof in constant time.
func LRPCheckPCDResponse(master keys.Key, rndA, rndB, got []byte) error {
	want := LRPPCDResponse(master, rndA, rndB)
	if !keys.Equal(want[:], got) {
		return ErrAuthMismatch
	}
	return nil
}

// LRPVerifyFirst is the reader side of part 2: it checks PICCResponse
// before it decrypts PICCData, and returns the session with EncCtr 1.
func LRPVerifyFirst(master keys.Key, rndA, rndB, answer []byte, keyNo byte) (*Session, FirstAnswer, error) {
	var a FirstAnswer
	if len(answer) != 32 {
		return nil, a, ErrAuthMismatch
	}
	p := lrp.New(master)
	want := p.CMAC(append(append(append(make([]byte, 0, 48), rndB...), rndA...), answer[:16]...))
	if !keys.Equal(want[:], answer[16:]) {
		return nil, a, ErrAuthMismatch
	}
	plain, err := p.LRICB(lrpENCKey, make([]byte, 4)).Decrypt(answer[:16])
	if err != nil {
		return nil, a, ErrAuthMismatch
	}
	copy(a.TI[:], plain[0:4])
	copy(a.PDCap2[:], plain[4:10])
	copy(a.PCDCap2[:], plain[10:16])
	return NewLRPSession(master, a.TI, keyNo, 1), a, nil
}
