package batch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"
	"unicode/utf8"

	"github.com/tagline-station/tagline/manifest"
)

// Stored records: one version byte, then the fields in a fixed order (see
// doc.go for the layouts). Binary rather than JSON because a manifest of a
// million bindings decodes a million records, and encoding/json spent most
// of the export's time doing it.
//
// A change of layout gets a new version byte. The decoders keep a case for
// every version ever written, so an old journal stays readable; a record
// with a version this tagline does not know is refused with ErrFormat.

const (
	recordV1 byte = 1
	// recordV2 adds a CRC-32C of the whole record (version byte included)
	// as 4 big-endian bytes at its end, and to batches the key derivation
	// and a flags byte.
	recordV2 byte = 2
	// recordLatest is what the encoders write.
	recordLatest = recordV2
)

const crcLen = 4

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// sealed appends the record's checksum.
func (e encoder) sealed() []byte {
	return binary.BigEndian.AppendUint32(e, crc32.Checksum(e, castagnoli))
}

// Bounds that no valid record comes near; a length beyond them is damage.
const maxStoredString = 1 << 16

type encoder []byte

func (e *encoder) str(s string) {
	*e = binary.AppendUvarint(*e, uint64(len(s)))
	*e = append(*e, s...)
}

func (e *encoder) uvarint(v uint64) { *e = binary.AppendUvarint(*e, v) }
func (e *encoder) varint(v int64)   { *e = binary.AppendVarint(*e, v) }
func (e *encoder) byte1(b byte)     { *e = append(*e, b) }

// time stores seconds since the Unix epoch and nanoseconds, always in UTC;
// the zero time (year 1) fits, which UnixNano would not.
func (e *encoder) time(t time.Time) {
	e.varint(t.Unix())
	e.uvarint(uint64(t.Nanosecond()))
}

var errShort = errors.New("record ends early")

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(errShort)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(errShort)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte1() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.fail(errShort)
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > maxStoredString || n > uint64(len(d.b)) {
		d.fail(errShort)
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	if !utf8.ValidString(s) {
		d.fail(errors.New("text field is not utf-8"))
	}
	return s
}

func (d *decoder) time() time.Time {
	sec := d.varint()
	ns := d.uvarint()
	if d.err != nil {
		return time.Time{}
	}
	if ns >= 1e9 {
		d.fail(errors.New("bad time"))
		return time.Time{}
	}
	return time.Unix(sec, int64(ns)).UTC()
}

func (d *decoder) int() int {
	v := d.varint()
	if int64(int(v)) != v {
		d.fail(errors.New("number out of range"))
	}
	return int(v)
}

func (d *decoder) done(kind string) error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d bytes after the last field", len(d.b))
	}
	if d.err != nil {
		return fmt.Errorf("%w: unreadable %s record: %w", ErrCorrupt, kind, d.err)
	}
	return nil
}

// version splits off the version byte and, from version 2 on, checks and
// strips the checksum, refusing what this tagline cannot read. The check
// comes before any field is parsed, so a damaged byte anywhere is reported
// as a checksum mismatch rather than as whatever field it happened to hit.
func version(kind string, data []byte) (byte, []byte, error) {
	if len(data) == 0 {
		return 0, nil, fmt.Errorf("%w: empty %s record", ErrCorrupt, kind)
	}
	switch data[0] {
	case recordV1:
		return data[0], data[1:], nil
	case recordV2:
		if len(data) < 1+crcLen {
			return 0, nil, fmt.Errorf("%w: unreadable %s record: %w", ErrCorrupt, kind, errShort)
		}
		n := len(data) - crcLen
		if crc32.Checksum(data[:n], castagnoli) != binary.BigEndian.Uint32(data[n:]) {
			return 0, nil, fmt.Errorf("%w: %s record fails its checksum", ErrCorrupt, kind)
		}
		return data[0], data[1:n], nil
	}
	return 0, nil, fmt.Errorf("%w: %s record has encoding version %d; this tagline reads versions 1 to %d, upgrade it", ErrFormat, kind, data[0], recordLatest)
}

func encodeBinding(b *manifest.Binding) []byte {
	e := make(encoder, 0, 192)
	e.byte1(recordLatest)
	e.str(string(b.UID))
	e.str(b.SKU)
	e.str(b.BatchID)
	e.str(b.StationID)
	e.byte1(b.KeyVersion)
	e.str(b.MasterKCV)
	e.str(b.TemplateHash)
	e.str(string(b.Outcome))
	e.varint(int64(b.Attempts))
	e.uvarint(uint64(b.ReadCtr))
	e.time(b.StartedAt)
	e.time(b.CompletedAt)
	e.uvarint(b.Seq)
	return e.sealed()
}

// Binding versions 1 and 2 have the same fields; 2 adds the checksum.
func decodeBinding(data []byte) (manifest.Binding, error) {
	var b manifest.Binding
	_, body, err := version("binding", data)
	if err != nil {
		return b, err
	}
	d := decoder{b: body}
	b.UID = manifest.UID(d.str())
	b.SKU = d.str()
	b.BatchID = d.str()
	b.StationID = d.str()
	b.KeyVersion = d.byte1()
	b.MasterKCV = d.str()
	b.TemplateHash = d.str()
	b.Outcome = manifest.Outcome(d.str())
	b.Attempts = d.int()
	rc := d.uvarint()
	if rc > 1<<32-1 {
		d.fail(errors.New("read counter out of range"))
	}
	b.ReadCtr = uint32(rc)
	b.StartedAt = d.time()
	b.CompletedAt = d.time()
	b.Seq = d.uvarint()
	// A binding claims a finished tag; any other word is damage, and
	// passing it on would put it in manifests and the sync stream.
	if d.err == nil && b.Outcome != manifest.Encoded && b.Outcome != manifest.Verified {
		d.fail(fmt.Errorf("unknown outcome %q", b.Outcome))
	}
	return b, d.done("binding")
}

const (
	intentReencode = 1 << 0
	// intentFailed: the last attempt ended in a recorded failure after a
	// write may have reached the tag. Version 1 called the same bit "keys
	// may have changed"; its absence never meant the keys were untouched
	// (a station killed mid-attempt records nothing), so both versions
	// read it the same way.
	intentFailed = 1 << 1
)

func encodeIntent(it *Intent) []byte {
	e := make(encoder, 0, 192)
	e.byte1(recordLatest)
	e.str(string(it.UID))
	e.str(it.BatchID)
	e.str(it.SKU)
	e.str(it.StationID)
	e.byte1(it.KeyVersion)
	e.str(it.MasterKCV)
	e.str(it.TemplateHash)
	e.time(it.StartedAt)
	e.varint(int64(it.Attempts))
	var flags byte
	if it.Reencode {
		flags |= intentReencode
	}
	if it.State == IntentFailed {
		flags |= intentFailed
	}
	e.byte1(flags)
	e.str(it.LastError)
	return e.sealed()
}

// Intent versions 1 and 2 have the same fields; 2 adds the checksum.
func decodeIntent(data []byte) (Intent, error) {
	var it Intent
	_, body, err := version("intent", data)
	if err != nil {
		return it, err
	}
	d := decoder{b: body}
	it.UID = manifest.UID(d.str())
	it.BatchID = d.str()
	it.SKU = d.str()
	it.StationID = d.str()
	it.KeyVersion = d.byte1()
	it.MasterKCV = d.str()
	it.TemplateHash = d.str()
	it.StartedAt = d.time()
	it.Attempts = d.int()
	flags := d.byte1()
	if flags&^(intentReencode|intentFailed) != 0 {
		d.fail(fmt.Errorf("unknown intent flags %#x", flags))
	}
	it.Reencode = flags&intentReencode != 0
	it.State = IntentInProgress
	if flags&intentFailed != 0 {
		it.State = IntentFailed
	}
	// Every stored intent was written before the station's first write to
	// the tag, whatever happened after (see Intent.KeysMayHaveChanged).
	it.KeysMayHaveChanged = true
	it.LastError = d.str()
	return it, d.done("intent")
}

const (
	batchTest      = 1 << 0
	batchSimulated = 1 << 1
	batchLRP       = 1 << 2
	batchRandomID  = 1 << 3
)

func encodeBatch(b *Batch) []byte {
	e := make(encoder, 0, 128)
	e.byte1(recordLatest)
	e.str(b.ID)
	e.str(b.SKU)
	e.varint(int64(b.Target))
	e.str(b.Template)
	e.byte1(b.KeyVersion)
	e.str(b.Notes)
	e.str(string(b.Status))
	e.time(b.CreatedAt)
	e.time(b.ClosedAt)
	e.str(b.KDF)
	var flags byte
	if b.Test {
		flags |= batchTest
	}
	if b.LRP {
		flags |= batchLRP
	}
	if b.RandomID {
		flags |= batchRandomID
	}
	if b.Simulated {
		flags |= batchSimulated
	}
	e.byte1(flags)
	return e.sealed()
}

func decodeBatch(data []byte) (Batch, error) {
	var b Batch
	v, body, err := version("batch", data)
	if err != nil {
		return b, err
	}
	d := decoder{b: body}
	b.ID = d.str()
	b.SKU = d.str()
	b.Target = d.int()
	b.Template = d.str()
	b.KeyVersion = d.byte1()
	b.Notes = d.str()
	b.Status = BatchStatus(d.str())
	b.CreatedAt = d.time()
	b.ClosedAt = d.time()
	// Version 1 batches predate the pinned derivation and test batches:
	// they read as the derivation that was the default then, and as
	// production batches.
	b.KDF = KDFTagline
	if v >= recordV2 {
		b.KDF = d.str()
		flags := d.byte1()
		if flags&^(batchTest|batchLRP|batchSimulated|batchRandomID) != 0 {
			d.fail(fmt.Errorf("unknown batch flags %#x", flags))
		}
		b.Test = flags&batchTest != 0
		b.LRP = flags&batchLRP != 0
		b.Simulated = flags&batchSimulated != 0
		b.RandomID = flags&batchRandomID != 0
	}
	if d.err == nil {
		if b.Status != StatusOpen && b.Status != StatusClosed {
			d.fail(fmt.Errorf("unknown status %q", b.Status))
		} else if !validKDF(b.KDF) {
			d.fail(fmt.Errorf("unknown key derivation %q", b.KDF))
		}
	}
	return b, d.done("batch")
}
