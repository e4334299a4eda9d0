package encoder

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"

	"github.com/tagline-station/tagline/apdu"
	"github.com/tagline-station/tagline/ev2"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/sdm"
)

// SelectApplication selects the NDEF application by its DF name
// (ISOSelectFile, datasheet 10.9.1; P2 0C: no FCI wanted).
func (c *Conn) SelectApplication(ctx context.Context) error {
	capdu := append([]byte{apdu.ClaISO, apdu.InsSelect, 0x04, 0x0C, byte(len(apdu.NDEFAppName))}, apdu.NDEFAppName...)
	capdu = append(capdu, 0x00)
	c.sess = nil // selecting the application ends any session
	_, err := c.iso(ctx, capdu)
	if err != nil {
		return fmt.Errorf("select ndef application: %w", err)
	}
	return nil
}

// SelectFile selects an elementary file by its ISO file identifier.
func (c *Conn) SelectFile(ctx context.Context, fid uint16) error {
	_, err := c.iso(ctx, []byte{apdu.ClaISO, apdu.InsSelect, 0x00, 0x0C, 0x02, byte(fid >> 8), byte(fid), 0x00})
	if err != nil {
		return fmt.Errorf("select file %04X: %w", fid, err)
	}
	return nil
}

// ReadBinary reads n bytes (0: up to 256) at offset of the selected file
// (ISOReadBinary, datasheet 10.9.2).
func (c *Conn) ReadBinary(ctx context.Context, offset, n int) ([]byte, error) {
	if offset < 0 || offset > 0x7FFF || n < 0 || n > 256 {
		return nil, fmt.Errorf("read binary: offset %d length %d out of range", offset, n)
	}
	b, err := c.iso(ctx, []byte{apdu.ClaISO, apdu.InsReadBinary, byte(offset >> 8), byte(offset), byte(n)})
	if err != nil {
		return nil, fmt.Errorf("read binary: %w", err)
	}
	if want := cmp.Or(n, 256); len(b) > want {
		return nil, fmt.Errorf("read binary: %w: %d bytes for %d asked", apdu.ErrMalformed, len(b), want)
	}
	return b, nil
}

// UpdateBinary writes data at offset of the selected file (datasheet
// 10.9.3), one frame per APDU.
func (c *Conn) UpdateBinary(ctx context.Context, offset int, data []byte) error {
	const max = MaxAPDU - 5
	for off := 0; off < len(data); off += max {
		end := min(off+max, len(data))
		o := offset + off
		capdu := append([]byte{apdu.ClaISO, apdu.InsUpdateBinary, byte(o >> 8), byte(o), byte(end - off)}, data[off:end]...)
		if _, err := c.iso(ctx, capdu); err != nil {
			return fmt.Errorf("update binary at %d: %w", o, err)
		}
	}
	return nil
}

// Version is the answer of GetVersion (datasheet 10.5.2).
type Version struct {
	HW, SW []byte // 7 bytes each: vendor, type, subtype, major, minor, size, protocol
	UID    []byte
	Batch  []byte
	FabKey byte
	Week   byte
	Year   byte
}

// GetVersion reads the three frames of GetVersion. It is used only before
// authentication, where it is plain; within a session it would be MACed
// across frames, which nothing here needs.
func (c *Conn) GetVersion(ctx context.Context) (Version, error) {
	var v Version
	if c.sess != nil {
		return v, fmt.Errorf("get version: call it before authenticating")
	}
	var all []byte
	ins := byte(apdu.InsGetVersion)
	for i := 0; i < 3; i++ {
		resp, sw, err := c.transmit(ctx, apdu.Native(ins))
		if err != nil {
			return v, err
		}
		all = append(all, resp...)
		if sw == apdu.SWNativeOK {
			break
		}
		if sw != apdu.SWAdditionalFrame {
			c.sess = nil
			return v, fmt.Errorf("get version: %w", sw)
		}
		ins = apdu.InsAdditionalFrame
	}
	if len(all) < 28 {
		return v, fmt.Errorf("get version: %w: %d-byte answer", apdu.ErrMalformed, len(all))
	}
	v.HW, v.SW, v.UID, v.Batch = all[0:7], all[7:14], all[14:21], all[21:26]
	v.FabKey, v.Week, v.Year = all[26]>>3, all[26]&0x07<<4|all[27]>>4, all[27]
	return v, nil
}

// AuthenticateEV2First opens a new session with key keyNo (datasheet
// 10.4.1, 9.1.5): part 1 sends KeyNo and LenCap 00, the tag answers
// E(K, RndB); part 2 sends E(K, RndA || RndB'), the tag answers
// E(K, TI || RndA' || PDcap2 || PCDcap2).
func (c *Conn) AuthenticateEV2First(ctx context.Context, keyNo byte, k keys.Key) error {
	return c.authenticate(ctx, true, keyNo, k)
}

// AuthenticateEV2NonFirst re-authenticates within a transaction, keeping TI
// and the command counter (datasheet 10.4.2).
func (c *Conn) AuthenticateEV2NonFirst(ctx context.Context, keyNo byte, k keys.Key) error {
	if c.sess == nil {
		return fmt.Errorf("authenticate non-first: no session to continue")
	}
	return c.authenticate(ctx, false, keyNo, k)
}

func (c *Conn) authenticate(ctx context.Context, first bool, keyNo byte, k keys.Key) error {
	prev := c.sess
	c.sess = nil
	var p1 []byte
	if first {
		p1 = apdu.Native(apdu.InsAuthenticateEV2First, []byte{keyNo, 0x00})
	} else {
		p1 = apdu.Native(apdu.InsAuthenticateEV2NonFirst, []byte{keyNo})
	}
	encRndB, sw, err := c.transmit(ctx, p1)
	if err != nil {
		return keyErr("authenticate", keyNo, err)
	}
	if sw != apdu.SWAdditionalFrame {
		return keyErr("authenticate", keyNo, sw)
	}
	rndA, err := c.random(16)
	if err != nil {
		return err
	}
	crypt, rndB, err := ev2.PCDPart2(k, encRndB, rndA)
	if err != nil {
		return fmt.Errorf("authenticate with key %d: %w: malformed challenge", keyNo, apdu.ErrIntegrity)
	}
	ans, sw, err := c.transmit(ctx, apdu.Native(apdu.InsAdditionalFrame, crypt))
	if err != nil {
		return keyErr("authenticate", keyNo, err)
	}
	if sw != apdu.SWNativeOK {
		return keyErr("authenticate", keyNo, sw)
	}
	enc, mac := ev2.DeriveSessionKeys(k, rndA, rndB)
	if first {
		a, err := ev2.PCDVerifyFirst(k, ans, rndA)
		if err != nil {
			return fmt.Errorf("authenticate with key %d: %w: the tag did not prove the key", keyNo, apdu.ErrAuthFailed)
		}
		c.sess = ev2.NewSession(enc, mac, a.TI, keyNo)
		return nil
	}
	if err := ev2.PCDVerifyNonFirst(k, ans, rndA); err != nil {
		return fmt.Errorf("authenticate with key %d: %w: the tag did not prove the key", keyNo, apdu.ErrAuthFailed)
	}
	s := ev2.NewSession(enc, mac, prev.TI, keyNo)
	s.CmdCtr = prev.CmdCtr
	c.sess = s
	return nil
}

// GetCardUID returns the real UID, also for random-ID tags (datasheet
// 10.5.3; CommMode.Full, needs a session).
func (c *Conn) GetCardUID(ctx context.Context) ([]byte, error) {
	if c.sess == nil {
		return nil, fmt.Errorf("get card uid: needs authentication")
	}
	b, err := c.native(ctx, apdu.InsGetCardUID, Full, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("get card uid: %w", err)
	}
	if len(b) != 7 {
		return nil, fmt.Errorf("get card uid: %w: %d-byte uid", apdu.ErrMalformed, len(b))
	}
	return b, nil
}

// GetKeyVersion reads a key's version (datasheet 10.6.2): plain without a
// session, MACed within one. Versions are not secret; they tell which key
// a tag holds without spending an authentication attempt.
func (c *Conn) GetKeyVersion(ctx context.Context, keyNo byte) (byte, error) {
	b, err := c.native(ctx, apdu.InsGetKeyVersion, MAC, []byte{keyNo}, nil)
	if err != nil {
		return 0, fmt.Errorf("get key version %d: %w", keyNo, err)
	}
	if len(b) != 1 {
		return 0, fmt.Errorf("get key version %d: %w: %d-byte answer", keyNo, apdu.ErrMalformed, len(b))
	}
	return b[0], nil
}

// GetFileSettings reads a file's settings (datasheet 10.7.2).
func (c *Conn) GetFileSettings(ctx context.Context, fileNo byte) (sdm.FileSettings, error) {
	b, err := c.native(ctx, apdu.InsGetFileSettings, MAC, []byte{fileNo}, nil)
	if err != nil {
		return sdm.FileSettings{}, fmt.Errorf("get file settings %d: %w", fileNo, err)
	}
	return sdm.ParseGet(b)
}

// ChangeFileSettings sets a file's settings (datasheet 10.7.1;
// CommMode.Full, needs the file's Change key).
func (c *Conn) ChangeFileSettings(ctx context.Context, fileNo byte, s sdm.FileSettings) error {
	if c.sess == nil {
		return fmt.Errorf("change file settings: needs authentication")
	}
	if _, err := c.native(ctx, apdu.InsChangeFileSettings, Full, []byte{fileNo}, s.ChangeData()); err != nil {
		return fmt.Errorf("change file settings %d: %w", fileNo, err)
	}
	return nil
}

// ChangeKey replaces key keyNo (datasheet 10.6.1). For the authenticated
// key itself (case 2) the cryptogram is NewKey || KeyVer; for another key
// (case 1) it is (NewKey XOR OldKey) || KeyVer || CRC32NK(NewKey). Both are
// padded to 32 bytes. Case 2 ends the session: the tag answers a plain 9100.
func (c *Conn) ChangeKey(ctx context.Context, keyNo byte, oldKey, newKey keys.Key, version byte) error {
	s := c.sess
	if s == nil {
		return fmt.Errorf("change key %d: needs authentication", keyNo)
	}
	plain := newKey.ChangeKeyData(oldKey, version, keyNo == s.KeyNo)
	padded := ev2.PadM2(plain) // 17 or 21 bytes: always 32 after padding
	ct := s.EncryptRaw(padded)
	mac := s.CommandMAC(apdu.InsChangeKey, []byte{keyNo}, ct)
	resp, sw, err := c.transmit(ctx, apdu.Native(apdu.InsChangeKey, []byte{keyNo}, ct, mac[:]))
	if err != nil {
		return fmt.Errorf("change key %d: %w", keyNo, err)
	}
	if !sw.OK() {
		c.sess = nil
		return fmt.Errorf("change key %d: %w", keyNo, sw)
	}
	if keyNo == s.KeyNo {
		c.sess = nil
		return nil
	}
	if _, err := c.unwrap(resp, MAC); err != nil {
		return fmt.Errorf("change key %d: %w", keyNo, err)
	}
	return nil
}

// dataHeader is FileNo || Offset(3) || Length(3), LSB first.
func dataHeader(fileNo byte, offset, length int) []byte {
	h := make([]byte, 7)
	h[0] = fileNo
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(offset))
	copy(h[1:4], b[:3])
	binary.LittleEndian.PutUint32(b[:], uint32(length))
	copy(h[4:7], b[:3])
	return h
}

// maxWriteChunk is the most data one WriteData can carry within MaxAPDU:
// 5 bytes of APDU framing, 7 of header, 1 of Le, and per mode the MAC and
// the padding.
func maxWriteChunk(mode CommMode) int {
	room := MaxAPDU - 5 - 7 - 1
	switch mode {
	case MAC:
		return room - 8
	case Full:
		// ciphertext is a multiple of 16 with at least one padding byte
		return (room-8)/16*16 - 1
	}
	return room
}

// WriteData writes data at offset of a standard file (datasheet 10.8.2),
// one frame per command so that each write is tear-protected.
func (c *Conn) WriteData(ctx context.Context, fileNo byte, offset int, data []byte, mode CommMode) error {
	return c.writeChunks(ctx, fileNo, offset, data, mode, false)
}

// writeChunks writes in frame-sized pieces. With firstLast, the chunk at
// offset 0 is written last: for an NDEF file that chunk holds NLEN, so a
// reader never sees a length that covers half-written content.
func (c *Conn) writeChunks(ctx context.Context, fileNo byte, offset int, data []byte, mode CommMode, firstLast bool) error {
	max := maxWriteChunk(mode)
	var starts []int
	for off := 0; off < len(data); off += max {
		starts = append(starts, off)
	}
	if firstLast && len(starts) > 1 {
		starts = append(starts[1:], starts[0])
	}
	for _, off := range starts {
		end := min(off+max, len(data))
		h := dataHeader(fileNo, offset+off, end-off)
		if _, err := c.native(ctx, apdu.InsWriteData, mode, h, data[off:end]); err != nil {
			return fmt.Errorf("write data file %d at %d: %w", fileNo, offset+off, err)
		}
	}
	return nil
}

// ReadData reads length bytes (0: to the end of the file) at offset
// (datasheet 10.8.1).
func (c *Conn) ReadData(ctx context.Context, fileNo byte, offset, length int, mode CommMode) ([]byte, error) {
	b, err := c.native(ctx, apdu.InsReadData, mode, dataHeader(fileNo, offset, length), nil)
	if err != nil {
		return nil, fmt.Errorf("read data file %d: %w", fileNo, err)
	}
	if length > 0 && len(b) > length {
		return nil, fmt.Errorf("read data file %d: %w: %d bytes for %d asked", fileNo, apdu.ErrMalformed, len(b), length)
	}
	return b, nil
}
