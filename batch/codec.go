package batch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Stored records: one version byte, then the fields in a fixed order (see
// doc.go for the layouts). Binary rather than JSON because a manifest of a
// million bindings decodes a million records, and encoding/json spent most
// of the export's time doing it.
//
// A change of layout gets a new version byte. The decoders keep a case for
// every version ever written, so an old journal stays readable; a record
// with a version this tagline does not know is refused with ErrFormat.

const recordV1 byte = 1

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
		return fmt.Errorf("%w: unreadable %s record: %v", ErrCorrupt, kind, d.err)
	}
	return nil
}

// version splits off the version byte, refusing what this tagline cannot
// read.
func version(kind string, data []byte) (byte, []byte, error) {
	if len(data) == 0 {
		return 0, nil, fmt.Errorf("%w: empty %s record", ErrCorrupt, kind)
	}
	switch data[0] {
	case recordV1:
		return data[0], data[1:], nil
	}
	return 0, nil, fmt.Errorf("%w: %s record has encoding version %d; this tagline reads version %d, upgrade it", ErrFormat, kind, data[0], recordV1)
}

func encodeBinding(b *Binding) []byte {
	e := make(encoder, 0, 192)
	e.byte1(recordV1)
	e.str(b.UID)
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
	return e
}

func decodeBinding(data []byte) (Binding, error) {
	var b Binding
	_, body, err := version("binding", data)
	if err != nil {
		return b, err
	}
	d := decoder{b: body}
	b.UID = d.str()
	b.SKU = d.str()
	b.BatchID = d.str()
	b.StationID = d.str()
	b.KeyVersion = d.byte1()
	b.MasterKCV = d.str()
	b.TemplateHash = d.str()
	b.Outcome = Outcome(d.str())
	b.Attempts = d.int()
	rc := d.uvarint()
	if rc > 1<<32-1 {
		d.fail(errors.New("read counter out of range"))
	}
	b.ReadCtr = uint32(rc)
	b.StartedAt = d.time()
	b.CompletedAt = d.time()
	b.Seq = d.uvarint()
	return b, d.done("binding")
}

const (
	intentReencode    = 1 << 0
	intentKeysChanged = 1 << 1
)

func encodeIntent(it *Intent) []byte {
	e := make(encoder, 0, 192)
	e.byte1(recordV1)
	e.str(it.UID)
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
	if it.KeysMayHaveChanged {
		flags |= intentKeysChanged
	}
	e.byte1(flags)
	e.str(it.LastError)
	return e
}

func decodeIntent(data []byte) (Intent, error) {
	var it Intent
	_, body, err := version("intent", data)
	if err != nil {
		return it, err
	}
	d := decoder{b: body}
	it.UID = d.str()
	it.BatchID = d.str()
	it.SKU = d.str()
	it.StationID = d.str()
	it.KeyVersion = d.byte1()
	it.MasterKCV = d.str()
	it.TemplateHash = d.str()
	it.StartedAt = d.time()
	it.Attempts = d.int()
	flags := d.byte1()
	if flags&^(intentReencode|intentKeysChanged) != 0 {
		d.fail(fmt.Errorf("unknown intent flags %#x", flags))
	}
	it.Reencode = flags&intentReencode != 0
	it.KeysMayHaveChanged = flags&intentKeysChanged != 0
	it.LastError = d.str()
	return it, d.done("intent")
}

func encodeBatch(b *Batch) []byte {
	e := make(encoder, 0, 128)
	e.byte1(recordV1)
	e.str(b.ID)
	e.str(b.SKU)
	e.varint(int64(b.Target))
	e.str(b.Template)
	e.byte1(b.KeyVersion)
	e.str(b.Notes)
	e.str(string(b.Status))
	e.time(b.CreatedAt)
	e.time(b.ClosedAt)
	return e
}

func decodeBatch(data []byte) (Batch, error) {
	var b Batch
	_, body, err := version("batch", data)
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
	return b, d.done("batch")
}
