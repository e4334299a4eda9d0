package sdm

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/tagline-station/tagline/internal/errkind"
	"github.com/tagline-station/tagline/keys"
)

// ErrTemplate is wrapped by every template error.
var ErrTemplate = errkind.New(errkind.Usage, "bad url template")

// NDEFFileSize is the size of the NDEF file (file 02) of an NTAG 424 DNA.
const NDEFFileSize = 256

// Placeholder kinds and the number of ASCII characters the tag mirrors.
const (
	PhPICC = "picc" // encrypted PICCData, 16 bytes as 32 hex characters
	PhMAC  = "mac"  // SDMMAC, 8 bytes as 16 hex characters
	PhUID  = "uid"  // plain UID, 7 bytes as 14 hex characters
	PhCtr  = "ctr"  // plain SDMReadCtr, 3 bytes as 6 hex characters, MSB first
	PhEnc  = "enc"  // SDMENCFileData, 16 bytes encrypted as 32 hex characters
)

var phWidth = map[string]int{PhPICC: 32, PhMAC: 16, PhUID: 14, PhCtr: 6, PhEnc: 32, PhTT: 32}

// EncDataLen is the plaintext length mirrored by {enc}.
const EncDataLen = 16

// uriPrefixes are the NFC Forum URI record identifier codes (RTD URI 1.0
// table 3) that tagline abbreviates; longest first.
var uriPrefixes = []struct {
	code   byte
	prefix string
}{{0x02, "https://www."}, {0x01, "http://www."}, {0x04, "https://"}, {0x03, "http://"}}

// ndefHeaderLen is NLEN (2) + record header D1 01 PL 55 (4) + URI code (1):
// the file offset of the first character after the URI prefix.
const ndefHeaderLen = 7

var placeholderRE = regexp.MustCompile(`\{[^{}]*\}`)

// Template is a parsed URL template such as
// https://brand.example/t?picc_data={picc}&cmac={mac}.
type Template struct {
	raw    string
	code   byte
	rest   string         // the URL after the abbreviated prefix, placeholders expanded to '0'
	pos    map[string]int // placeholder -> offset in rest
	hasEnc bool
	lrp    bool      // LRP mode: {picc} is 24 bytes (sdm/lrp.go)
	twin   *Template // the LRP layout of an AES template; nil when it does not fit
}

// ParseTemplate checks a template against what an NTAG 424 DNA can mirror
// and against what a phone sends and the backend parses: an https URL of
// printable ASCII that no browser rewrites, no fragment or user
// information, placeholders in the path or query where the backend finds
// them again (see roundTrip).
func ParseTemplate(raw string) (*Template, error) {
	t, err := parseTemplate(raw, false)
	if err != nil {
		return nil, err
	}
	// A template verifies the taps of tags in either mode (Verify); a
	// template too long for LRP's wider {picc} verifies AES taps only.
	t.twin, _ = parseTemplate(raw, true)
	return t, nil
}

func parseTemplate(raw string, lrpMode bool) (*Template, error) {
	t := &Template{raw: raw, pos: map[string]int{}, lrp: lrpMode}
	if err := checkShape(raw); err != nil {
		return nil, err
	}
	var rest string
	for _, p := range uriPrefixes {
		if strings.HasPrefix(strings.ToLower(raw), p.prefix) {
			t.code, rest = p.code, raw[len(p.prefix):]
			break
		}
	}
	if rest == "" {
		return nil, fmt.Errorf("%w: %q must start with https:// or http://", ErrTemplate, raw)
	}
	slash := strings.IndexByte(rest, '/')
	if slash <= 0 {
		return nil, fmt.Errorf("%w: %q has no host and path; write e.g. https://brand.example/t?p={picc}&m={mac}", ErrTemplate, raw)
	}
	var b strings.Builder
	last := 0
	for _, m := range placeholderRE.FindAllStringIndex(rest, -1) {
		name := rest[m[0]+1 : m[1]-1]
		_, ok := phWidth[name]
		w := t.width(name)
		if !ok {
			return nil, fmt.Errorf("%w: unknown placeholder {%s}; use {picc}, {mac}, {uid}, {ctr}, {enc} or {tt}", ErrTemplate, name)
		}
		if _, dup := t.pos[name]; dup {
			return nil, fmt.Errorf("%w: {%s} appears twice; the tag mirrors each value once", ErrTemplate, name)
		}
		if m[0] < slash {
			return nil, fmt.Errorf("%w: {%s} is in the host name; put placeholders in the path or query", ErrTemplate, name)
		}
		b.WriteString(rest[last:m[0]])
		t.pos[name] = b.Len()
		b.WriteString(strings.Repeat("0", w))
		last = m[1]
	}
	b.WriteString(rest[last:])
	t.rest = b.String()
	if strings.ContainsAny(t.rest, "{}") {
		return nil, fmt.Errorf("%w: unbalanced braces in %q", ErrTemplate, raw)
	}
	_, picc := t.pos[PhPICC]
	_, uid := t.pos[PhUID]
	_, ctr := t.pos[PhCtr]
	_, mac := t.pos[PhMAC]
	t.hasEnc = t.encName() != ""
	switch {
	case t.hasPh(PhEnc) && t.hasPh(PhTT):
		return nil, fmt.Errorf("%w: use either {enc} or {tt}: {tt} is encrypted file data that starts with the tamper status", ErrTemplate)
	case !mac:
		return nil, fmt.Errorf("%w: no {mac}; without it anyone can forge the url", ErrTemplate)
	case picc && (uid || ctr):
		return nil, fmt.Errorf("%w: use either {picc} (encrypted) or {uid} and {ctr} (plain), not both", ErrTemplate)
	case !picc && !(uid && ctr):
		return nil, fmt.Errorf("%w: the mac needs the uid and counter: add {picc}, or both {uid} and {ctr}", ErrTemplate)
	}
	macAt := t.pos[PhMAC]
	for name, p := range t.pos {
		if name == PhMAC {
			continue
		}
		if p < macAt && p+t.width(name) > macAt || macAt < p && macAt+16 > p {
			return nil, fmt.Errorf("%w: {%s} overlaps {mac}", ErrTemplate, name)
		}
	}
	if t.hasEnc && t.pos[t.encName()] > macAt {
		return nil, fmt.Errorf("%w: {%s} must come before {mac}, since the mac covers it", ErrTemplate, t.encName())
	}
	if n := ndefHeaderLen + len(t.rest); n > NDEFFileSize || len(t.rest)+1 > 255 {
		return nil, fmt.Errorf("%w: the url needs %d bytes of the %d-byte ndef file; shorten it by %d characters", ErrTemplate, n, NDEFFileSize, n-NDEFFileSize)
	}
	if err := t.roundTrip(); err != nil {
		return nil, err
	}
	return t, nil
}

// String returns the template as written.
func (t *Template) String() string { return t.raw }

// Hash identifies the template in the journal (hex SHA-256 of its text).
func (t *Template) Hash() string {
	h := sha256.Sum256([]byte(t.raw))
	return hex.EncodeToString(h[:])
}

// HasEnc reports whether the template mirrors encrypted file data.
func (t *Template) HasEnc() bool { return t.hasEnc }

// Encrypted reports whether PICCData is mirrored encrypted ({picc}).
func (t *Template) Encrypted() bool { _, ok := t.pos[PhPICC]; return ok }

// NDEF returns the NDEF file content: NLEN, one short URI record, and for
// {enc} or {tt} the plaintext in the first half of its place, where the
// tag reads it from before encrypting (for {tt}, after putting the tamper
// status over its first two bytes).
func (t *Template) NDEF(encData []byte) ([]byte, error) {
	rest := []byte(t.rest)
	if t.hasEnc {
		if len(encData) != EncDataLen {
			return nil, fmt.Errorf("%w: {enc} mirrors %d bytes of file data, got %d", ErrTemplate, EncDataLen, len(encData))
		}
		copy(rest[t.pos[t.encName()]:], encData)
	}
	payload := 1 + len(rest)
	msg := 4 + payload
	out := make([]byte, 0, 2+msg)
	out = append(out, byte(msg>>8), byte(msg), 0xD1, 0x01, byte(payload), 'U', t.code)
	return append(out, rest...), nil
}

// Settings returns the SDM part of the NDEF file's settings with every
// offset computed from the NDEF bytes; the caller sets the access rights.
// metaKey and fileKey are the key numbers of SDMMetaRead and SDMFileRead.
func (t *Template) Settings(metaKey, fileKey byte) FileSettings {
	s := FileSettings{SDM: true, CommMode: CommModePlain, SDMOptions: OptUIDMirror | OptCtrMirror | OptASCII, CtrRet: fileKey, FileRead: fileKey}
	off := func(name string) uint32 { return uint32(ndefHeaderLen + t.pos[name]) }
	if t.Encrypted() {
		s.MetaRead = metaKey
		s.PICCOffset = off(PhPICC)
	} else {
		s.MetaRead = AccessFree
		s.UIDOffset = off(PhUID)
		s.CtrOffset = off(PhCtr)
	}
	s.MACOffset = off(PhMAC)
	s.MACInOffset = s.MACOffset
	if t.hasEnc {
		s.SDMOptions |= OptEncFileData
		s.ENCOffset = off(t.encName())
		s.ENCLength = uint32(phWidth[PhEnc])
		s.MACInOffset = s.ENCOffset
	}
	if t.HasTT() {
		s.SDMOptions |= OptTTStatus
		s.TTOffset = s.ENCOffset
	}
	return s
}

// URL rebuilds the URL a phone shows from the NDEF file content.
func URLFromNDEF(file []byte) (string, error) {
	if len(file) < ndefHeaderLen {
		return "", errors.New("ndef file too short")
	}
	n := int(file[0])<<8 | int(file[1])
	if n < 5 || 2+n > len(file) || file[2] != 0xD1 || file[3] != 0x01 || file[5] != 'U' || int(file[4]) != n-4 {
		return "", errors.New("ndef file does not hold one short uri record")
	}
	prefix := ""
	for _, p := range uriPrefixes {
		if p.code == file[6] {
			prefix = p.prefix
		}
	}
	if prefix == "" && file[6] != 0 {
		return "", fmt.Errorf("uri identifier code %02X not supported", file[6])
	}
	return prefix + string(file[ndefHeaderLen:2+n]), nil
}

// KeyLookup gives Verify the keys of a tag; keys.Deriver implements it.
type KeyLookup interface {
	MetaRead() keys.Key
	FileRead(uid []byte) (keys.Key, error)
}

// Verified is what a genuine SUN URL proves.
type Verified struct {
	UID      []byte
	Ctr      Counter
	FileData []byte
	LRP      bool   // the tag is in LRP mode
	Tamper   Tamper // the tamper status, for a {tt} template
}

// Reasons for rejecting a SUN URL.
var (
	ErrURLMismatch = errkind.New(errkind.Verification, "url does not match the template")
	ErrURLField    = errkind.New(errkind.Verification, "url field is not hex of the right length")
)

// match checks url against the template: the prefix, the length and
// every literal character; placeholder spans may hold anything. It returns
// the url after the abbreviated prefix, where t.pos points.
func (t *Template) match(url string) (string, error) {
	var rest string
	for _, p := range uriPrefixes {
		if p.code == t.code && len(url) >= len(p.prefix) && strings.EqualFold(url[:len(p.prefix)], p.prefix) {
			rest = url[len(p.prefix):]
		}
	}
	if len(rest) != len(t.rest) {
		return "", ErrURLMismatch
	}
	lit := []byte(t.rest)
	mask := make([]bool, len(lit))
	for name, p := range t.pos {
		for i := p; i < p+t.width(name); i++ {
			mask[i] = true
		}
	}
	for i := range lit {
		if !mask[i] && lit[i] != rest[i] {
			return "", ErrURLMismatch
		}
	}
	return rest, nil
}

// Verify checks a SUN URL produced from this template: it recovers the UID
// and read counter, derives the tag's file-read key, decrypts file data and
// checks the SDMMAC in constant time. A template from ParseTemplate takes
// the taps of tags in either mode (see verifyEither); one from LRP only
// those of LRP tags.
func (t *Template) Verify(url string, k KeyLookup) (Verified, error) {
	if t.lrp || t.twin == nil {
		return t.verifyMode(url, k)
	}
	return t.verifyEither(url, k)
}

func (t *Template) verifyMode(url string, k KeyLookup) (Verified, error) {
	v := Verified{LRP: t.lrp}
	rest, err := t.match(url)
	if err != nil {
		return v, err
	}
	field := func(name string) ([]byte, error) {
		p := t.pos[name]
		b, err := hex.DecodeString(rest[p : p+t.width(name)])
		if err != nil {
			return nil, fmt.Errorf("%w: {%s}", ErrURLField, name)
		}
		return b, nil
	}
	if t.Encrypted() {
		enc, err := field(PhPICC)
		if err != nil {
			return v, err
		}
		decrypt := DecryptPICCData
		if t.lrp {
			decrypt = DecryptPICCDataLRP
		}
		d, err := decrypt(k.MetaRead(), enc)
		if err != nil {
			return v, err
		}
		if !d.HasUID || !d.HasCtr {
			return v, ErrBadPICCData
		}
		v.UID, v.Ctr = d.UID, d.Ctr
	} else {
		uid, err := field(PhUID)
		if err != nil {
			return v, err
		}
		ctr, err := field(PhCtr)
		if err != nil {
			return v, err
		}
		v.UID = uid
		v.Ctr = Counter(uint32(ctr[0])<<16 | uint32(ctr[1])<<8 | uint32(ctr[2]))
	}
	fk, err := k.FileRead(v.UID)
	if err != nil {
		return v, err
	}
	mac, err := field(PhMAC)
	if err != nil {
		return v, err
	}
	macAt := t.pos[PhMAC]
	inAt := macAt
	if t.hasEnc {
		inAt = t.pos[t.encName()]
	}
	mac8 := MAC
	if t.lrp {
		mac8 = MACLRP
	}
	want := mac8(fk, v.UID, v.Ctr, []byte(rest[inAt:macAt]))
	if !keys.Equal(want[:], mac) {
		return Verified{LRP: t.lrp}, ErrBadMAC
	}
	if t.hasEnc {
		enc, err := field(t.encName())
		if err != nil {
			return v, err
		}
		decrypt := DecryptFileData
		if t.lrp {
			decrypt = DecryptFileDataLRP
		}
		v.FileData, err = decrypt(fk, v.UID, v.Ctr, enc)
		if err != nil {
			return v, err
		}
		if t.HasTT() {
			v.Tamper = TamperOf(v.FileData)
		}
	}
	return v, nil
}
