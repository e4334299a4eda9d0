package sdm

import (
	"errors"
	"fmt"
)

// Access condition values (datasheet 8.2.3.3): 0..4 a key number, E free
// access, F no access.
const (
	AccessFree = 0x0E
	AccessNone = 0x0F
)

// SDMOptions bits (datasheet 10.7.1, table 69).
const (
	OptUIDMirror   = 0x80
	OptCtrMirror   = 0x40
	OptCtrLimit    = 0x20
	OptEncFileData = 0x10
	OptTTStatus    = 0x08 // NTAG 424 DNA TT: mirror the tamper status (tamper.go)
	OptASCII       = 0x01
)

// FileOption bits.
const (
	FileOptSDM      = 0x40
	CommModePlain   = 0x00
	CommModeMAC     = 0x01
	CommModeFull    = 0x03
	commModeMask    = 0x03
	fileTypeStdData = 0x00
)

// AccessRights are the four access conditions of a file.
type AccessRights struct {
	Read, Write, ReadWrite, Change byte
}

// Bytes encodes them as on the wire: RW<<4|Change, Read<<4|Write.
func (a AccessRights) Bytes() [2]byte {
	return [2]byte{a.ReadWrite<<4 | a.Change&0x0F, a.Read<<4 | a.Write&0x0F}
}

func parseAccess(b []byte) AccessRights {
	return AccessRights{ReadWrite: b[0] >> 4, Change: b[0] & 0x0F, Read: b[1] >> 4, Write: b[1] & 0x0F}
}

func (a AccessRights) String() string {
	return fmt.Sprintf("read %s, write %s, read-write %s, change %s", cond(a.Read), cond(a.Write), cond(a.ReadWrite), cond(a.Change))
}

func cond(c byte) string {
	switch c {
	case AccessFree:
		return "free"
	case AccessNone:
		return "never"
	}
	return fmt.Sprintf("key %d", c)
}

// FileSettings is the content of ChangeFileSettings / GetFileSettings for a
// standard data file, including the SDM part when FileOption has SDM on.
type FileSettings struct {
	FileType byte // GetFileSettings only
	CommMode byte
	Access   AccessRights
	FileSize uint32 // GetFileSettings only

	SDM         bool
	SDMOptions  byte
	CtrRet      byte // SDMCtrRet access condition
	MetaRead    byte // SDMMetaRead access condition
	FileRead    byte // SDMFileRead access condition
	UIDOffset   uint32
	CtrOffset   uint32
	PICCOffset  uint32
	TTOffset    uint32 // TTStatusOffset (NTAG 424 DNA TT)
	MACInOffset uint32
	ENCOffset   uint32
	ENCLength   uint32
	MACOffset   uint32
	CtrLimit    uint32
}

// ErrSettings reports file settings that the tag would refuse or that do
// not parse.
var ErrSettings = errors.New("invalid file settings")

// has reports which optional fields are present (datasheet table 69).
func (s FileSettings) has() (uid, ctr, picc, mac, enc, limit bool) {
	uid = s.SDMOptions&OptUIDMirror != 0 && s.MetaRead == AccessFree
	ctr = s.SDMOptions&OptCtrMirror != 0 && s.MetaRead == AccessFree
	picc = s.MetaRead <= 4
	mac = s.FileRead != AccessNone
	enc = mac && s.SDMOptions&OptEncFileData != 0
	limit = s.SDMOptions&OptCtrLimit != 0
	return
}

// hasTT reports TTStatusOffset, present when the tamper status is
// mirrored (NT4H2421Tx table 69); it follows PICCDataOffset.
func (s FileSettings) hasTT() bool { return s.SDMOptions&OptTTStatus != 0 }

// ChangeData encodes the data of ChangeFileSettings (after the FileNo).
func (s FileSettings) ChangeData() []byte {
	fo := s.CommMode & commModeMask
	if s.SDM {
		fo |= FileOptSDM
	}
	ar := s.Access.Bytes()
	out := []byte{fo, ar[0], ar[1]}
	if !s.SDM {
		return out
	}
	return append(out, s.sdmBytes()...)
}

func (s FileSettings) sdmBytes() []byte {
	out := []byte{s.SDMOptions, 0xF0 | s.CtrRet&0x0F, s.MetaRead<<4 | s.FileRead&0x0F}
	uid, ctr, picc, mac, enc, limit := s.has()
	put := func(v uint32) { out = append(out, byte(v), byte(v>>8), byte(v>>16)) }
	if uid {
		put(s.UIDOffset)
	}
	if ctr {
		put(s.CtrOffset)
	}
	if picc {
		put(s.PICCOffset)
	}
	if s.hasTT() {
		put(s.TTOffset)
	}
	if mac {
		put(s.MACInOffset)
	}
	if enc {
		put(s.ENCOffset)
		put(s.ENCLength)
	}
	if mac {
		put(s.MACOffset)
	}
	if limit {
		put(s.CtrLimit)
	}
	return out
}

// GetData encodes the answer of GetFileSettings (the simulated tag's side).
func (s FileSettings) GetData() []byte {
	fo := s.CommMode & commModeMask
	if s.SDM {
		fo |= FileOptSDM
	}
	ar := s.Access.Bytes()
	out := []byte{s.FileType, fo, ar[0], ar[1], byte(s.FileSize), byte(s.FileSize >> 8), byte(s.FileSize >> 16)}
	if s.SDM {
		out = append(out, s.sdmBytes()...)
	}
	return out
}

// ParseChange decodes ChangeFileSettings data (the simulated tag's side).
func ParseChange(b []byte) (FileSettings, error) {
	var s FileSettings
	if len(b) < 3 {
		return s, fmt.Errorf("%w: %d bytes", ErrSettings, len(b))
	}
	s.CommMode = b[0] & commModeMask
	s.SDM = b[0]&FileOptSDM != 0
	s.Access = parseAccess(b[1:3])
	if !s.SDM {
		if len(b) != 3 {
			return s, fmt.Errorf("%w: trailing bytes without sdm", ErrSettings)
		}
		return s, nil
	}
	return s, s.parseSDM(b[3:])
}

// ParseGet decodes a GetFileSettings answer.
func ParseGet(b []byte) (FileSettings, error) {
	var s FileSettings
	if len(b) < 7 {
		return s, fmt.Errorf("%w: %d bytes", ErrSettings, len(b))
	}
	s.FileType = b[0]
	s.CommMode = b[1] & commModeMask
	s.SDM = b[1]&FileOptSDM != 0
	s.Access = parseAccess(b[2:4])
	s.FileSize = uint32(b[4]) | uint32(b[5])<<8 | uint32(b[6])<<16
	if !s.SDM {
		return s, nil
	}
	return s, s.parseSDM(b[7:])
}

func (s *FileSettings) parseSDM(b []byte) error {
	if len(b) < 3 {
		return fmt.Errorf("%w: sdm part too short", ErrSettings)
	}
	s.SDMOptions = b[0]
	s.CtrRet = b[1] & 0x0F
	s.MetaRead = b[2] >> 4
	s.FileRead = b[2] & 0x0F
	b = b[3:]
	uid, ctr, picc, mac, enc, limit := s.has()
	get := func(dst *uint32) error {
		if len(b) < 3 {
			return fmt.Errorf("%w: sdm offsets truncated", ErrSettings)
		}
		*dst = uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
		b = b[3:]
		return nil
	}
	fields := []struct {
		on  bool
		dst *uint32
	}{{uid, &s.UIDOffset}, {ctr, &s.CtrOffset}, {picc, &s.PICCOffset}, {s.hasTT(), &s.TTOffset}, {mac, &s.MACInOffset}, {enc, &s.ENCOffset}, {enc, &s.ENCLength}, {mac, &s.MACOffset}, {limit, &s.CtrLimit}}
	for _, f := range fields {
		if f.on {
			if err := get(f.dst); err != nil {
				return err
			}
		}
	}
	if len(b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrSettings, len(b))
	}
	return nil
}

// Validate checks the rules of datasheet 10.7.1 that the tag enforces with
// a parameter error, against a file of the given size.
func (s FileSettings) Validate(fileSize uint32) error {
	if !s.SDM {
		return nil
	}
	uid, ctr, picc, mac, enc, _ := s.has()
	if s.SDMOptions&OptASCII == 0 {
		return fmt.Errorf("%w: only ascii mirroring is supported", ErrSettings)
	}
	if s.MetaRead != AccessFree && s.MetaRead != AccessNone && s.MetaRead > 4 {
		return fmt.Errorf("%w: meta-read access %X", ErrSettings, s.MetaRead)
	}
	if enc && (s.SDMOptions&(OptUIDMirror|OptCtrMirror) != OptUIDMirror|OptCtrMirror) {
		return fmt.Errorf("%w: encrypted file data needs both uid and counter mirroring", ErrSettings)
	}
	in := func(off, n uint32) bool { return off+n <= fileSize }
	if uid && !in(s.UIDOffset, 14) || ctr && !in(s.CtrOffset, 6) || picc && !in(s.PICCOffset, 32) {
		return fmt.Errorf("%w: mirror outside the file", ErrSettings)
	}
	if mac {
		if !in(s.MACOffset, 16) || s.MACInOffset > s.MACOffset {
			return fmt.Errorf("%w: mac offsets", ErrSettings)
		}
	}
	if enc {
		if s.ENCLength == 0 || s.ENCLength%32 != 0 || s.ENCOffset < s.MACInOffset || s.ENCOffset+s.ENCLength > s.MACOffset {
			return fmt.Errorf("%w: encrypted file data must be a multiple of 32 characters inside the mac input", ErrSettings)
		}
	}
	if s.hasTT() && !in(s.TTOffset, 2) {
		return fmt.Errorf("%w: tamper status outside the file", ErrSettings)
	}
	if s.hasTT() && enc && s.TTOffset >= s.ENCOffset && s.TTOffset < s.ENCOffset+s.ENCLength && s.TTOffset+2 > s.ENCOffset+s.ENCLength/2 {
		// Within the encrypted file data, only its plaintext half is read.
		return fmt.Errorf("%w: tamper status in the second half of the encrypted file data", ErrSettings)
	}
	return nil
}
