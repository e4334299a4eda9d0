package keys

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Key slots of an NTAG 424 DNA application and the purpose tagline gives
// each (datasheet NT4H2421Gx section 8.2.2: five AES keys, 0 to 4).
const (
	SlotAppMaster = 0 // application master key: ChangeKey, ChangeFileSettings
	SlotSDMMeta   = 1 // SDMMetaRead: encrypts PICCData (UID, read counter)
	SlotSDMFile   = 2 // SDMFileRead: SDMMAC and SDMENCFileData
	SlotNDEFWrite = 3 // Write and ReadWrite right of the NDEF file
	SlotSpare     = 4 // proprietary file and future use
	NumSlots      = 5
)

// Scheme selects a key derivation.
type Scheme string

const (
	// SchemeTagline is tagline's own AN10922-based derivation.
	SchemeTagline Scheme = "tagline"
	// SchemeSDMBackend matches nfc-developer/sdm-backend libsdm/derive.py
	// (2023 scheme), so tags verify there out of the box.
	SchemeSDMBackend Scheme = "sdm-backend"
)

// ParseScheme accepts the names used on the command line.
func ParseScheme(s string) (Scheme, error) {
	switch Scheme(s) {
	case SchemeTagline, "":
		return SchemeTagline, nil
	case SchemeSDMBackend:
		return SchemeSDMBackend, nil
	}
	return "", fmt.Errorf("unknown key derivation %q: use %q or %q", s, SchemeTagline, SchemeSDMBackend)
}

// ErrUID reports a UID that is not the 7 bytes of an NTAG 424 DNA.
var ErrUID = errors.New("uid must be 7 bytes")

// KeySet is the five keys of one tag.
type KeySet struct {
	Version byte
	Keys    [NumSlots]Key
}

// Deriver derives the keys of every tag of a station from one master key.
type Deriver struct {
	scheme  Scheme
	master  Master
	version byte
	cmac    *CMAC // tagline scheme: the master's key schedule, built once
	meta    Key
	// sdm-backend scheme: per-slot CMAC keys and the UID HMAC key.
	slot    [NumSlots]*CMAC
	divBase []byte
}

// NewDeriver checks the master key for the scheme and precomputes what does
// not depend on the UID, so that per-tag derivation costs a few AES blocks.
func NewDeriver(scheme Scheme, master Master, version byte) (*Deriver, error) {
	d := &Deriver{scheme: scheme, master: master, version: version}
	switch scheme {
	case SchemeTagline:
		if master.Len() != BlockSize {
			return nil, fmt.Errorf("%w: the tagline derivation needs a 16-byte AES master key (32 hex digits), got %d bytes", ErrMasterKey, master.Len())
		}
		c, err := NewCMAC(master.b)
		if err != nil {
			return nil, err
		}
		d.cmac = c
		d.meta = diversifyWith(c, taglineMetaInput(version))
	case SchemeSDMBackend:
		if master.IsZero() {
			return d, nil
		}
		d.meta = mustKey(hmacSHA256(master.b, []byte("PICCDataKey"))[:BlockSize])
		for n := range d.slot {
			k := hmacSHA256(master.b, append([]byte("SlotMasterKey"), byte(n)))[:BlockSize]
			c, err := NewCMAC(k)
			if err != nil {
				return nil, err
			}
			d.slot[n] = c
		}
		d.divBase = hmacSHA256(master.b, []byte("DivBaseKey"))
	default:
		return nil, fmt.Errorf("unknown key derivation %q", scheme)
	}
	return d, nil
}

// Scheme returns the derivation in use.
func (d *Deriver) Scheme() Scheme { return d.scheme }

// Version is the key version written to every key this deriver makes.
func (d *Deriver) Version() byte { return d.version }

// MasterKCV identifies the master key in journals and manifests.
func (d *Deriver) MasterKCV() string { return d.master.KCV() }

// MetaRead is the SDM meta-read key: it cannot depend on the UID.
func (d *Deriver) MetaRead() Key { return d.meta }

// ForVersion is the same master key and scheme at another key version,
// to recognise our own tags of an earlier batch by their SUN message.
func (d *Deriver) ForVersion(v byte) (*Deriver, error) { return NewDeriver(d.scheme, d.master, v) }

// Tag derives the five keys of the tag with this UID.
func (d *Deriver) Tag(uid []byte) (KeySet, error) {
	if len(uid) != 7 {
		return KeySet{}, fmt.Errorf("%w, got %d", ErrUID, len(uid))
	}
	ks := KeySet{Version: d.version}
	for n := range ks.Keys {
		if n == SlotSDMMeta {
			ks.Keys[n] = d.meta
			continue
		}
		ks.Keys[n] = d.tagKey(uid, n)
	}
	return ks, nil
}

func (d *Deriver) tagKey(uid []byte, n int) Key {
	switch d.scheme {
	case SchemeSDMBackend:
		if d.master.IsZero() {
			return Key{}
		}
		in := make([]byte, 1, 1+BlockSize)
		in[0] = 0x01
		in = append(in, hmacSHA256(d.divBase, uid)[:BlockSize]...)
		return Key{b: d.slot[n].Sum(in)}
	default:
		return diversifyWith(d.cmac, taglineTagInput(uid, n, d.version))
	}
}

// taglineTagInput is the AN10922 input M of a UID-diversified key:
// UID (7) || "TLK" (3, in the place AN10922 gives the AID) || slot || version.
func taglineTagInput(uid []byte, slot int, version byte) []byte {
	m := make([]byte, 0, 12)
	m = append(m, uid...)
	m = append(m, 'T', 'L', 'K', byte(slot), version)
	return m
}

// taglineMetaInput is the AN10922 input M of the meta-read key:
// "TLMETA" (6) || version; no UID, see the package invariants.
func taglineMetaInput(version byte) []byte {
	return []byte{'T', 'L', 'M', 'E', 'T', 'A', version}
}

func hmacSHA256(key, msg []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(msg)
	return h.Sum(nil)
}

func mustKey(b []byte) Key {
	var k Key
	copy(k.b[:], b)
	return k
}

// FileRead is the tag's SDM file-read key; it lets a Deriver serve as the
// key lookup of a SUN verifier.
func (d *Deriver) FileRead(uid []byte) (Key, error) {
	if len(uid) != 7 {
		return Key{}, fmt.Errorf("%w, got %d", ErrUID, len(uid))
	}
	return d.tagKey(uid, SlotSDMFile), nil
}
