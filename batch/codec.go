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

// rec reads or writes one record's fields in their stored order, so that
// each layout is written down once and the two ways cannot drift apart:
// the same layout function fills the encoder or reads from the decoder.
// Layouts are called directly rather than as func values, which would put
// every record's rec on the heap.
type rec struct {
	enc     encoder
	dec     decoder
	reading bool
	v       byte   // the version being read, or written
	kind    string // what the record is, for errors
	head    error  // the version or checksum refused, told as it is
}

// writer starts a record at version v.
func writer(v byte, size int) rec {
	r := rec{enc: make(encoder, 0, size), v: v}
	r.enc.byte1(v)
	return r
}

// reader checks the version and checksum of a kind's record and starts
// reading its fields. A record older than oldest, the version the kind
// was first written in, is damage. A record it refuses reads as zero
// fields, and done returns why.
func reader(kind string, data []byte, oldest byte) rec {
	v, body, err := version(kind, data)
	r := rec{dec: decoder{b: body}, reading: true, v: v, kind: kind, head: err}
	if err != nil {
		r.dec.fail(err)
	} else if v < oldest {
		r.fail(fmt.Errorf("version %d; %ss are written as version %d only", v, kind, oldest))
	}
	return r
}

// sealed ends a record written.
func (r *rec) sealed() []byte { return r.enc.sealed() }

// done ends a record read, refusing bytes after its fields.
func (r *rec) done() error {
	if r.head != nil {
		return r.head
	}
	return r.dec.done(r.kind)
}

// since says whether the record has the fields added in version v.
func (r *rec) since(v byte) bool { return r.v >= v }

// ok says whether every field so far was read (or is being written).
func (r *rec) ok() bool { return r.dec.err == nil }

// fail refuses the record being read; the first failure is the one told,
// and a nil one is none.
func (r *rec) fail(err error) { r.dec.fail(err) }

func (r *rec) str(ps ...*string) {
	for _, p := range ps {
		if r.reading {
			*p = r.dec.str()
		} else {
			r.enc.str(*p)
		}
	}
}

// text is str for the string types of enumerations.
func text[T ~string](r *rec, p *T) {
	s := string(*p)
	r.str(&s)
	if r.reading {
		*p = T(s)
	}
}

func (r *rec) byte1(ps ...*byte) {
	for _, p := range ps {
		if r.reading {
			*p = r.dec.byte1()
		} else {
			r.enc.byte1(*p)
		}
	}
}

func (r *rec) int(p *int) {
	if r.reading {
		*p = r.dec.int()
	} else {
		r.enc.varint(int64(*p))
	}
}

func (r *rec) uvarint(p *uint64) {
	if r.reading {
		*p = r.dec.uvarint()
	} else {
		r.enc.uvarint(*p)
	}
}

// uint32 is stored as a uvarint; a larger value is damage to what.
func (r *rec) uint32(p *uint32, what string) {
	v := uint64(*p)
	r.uvarint(&v)
	if !r.reading {
		return
	}
	if v > 1<<32-1 {
		r.fail(fmt.Errorf("%s out of range", what))
	}
	*p = uint32(v)
}

func (r *rec) time(ps ...*time.Time) {
	for _, p := range ps {
		if r.reading {
			*p = r.dec.time()
		} else {
			r.enc.time(*p)
		}
	}
}

// flags stores bools as one byte, bits[i] as bit i. Read, a bit no bool
// stands for is damage to the what record: the error is returned for the
// layout to refuse where its version always checked it.
func (r *rec) flags(what string, bits ...*bool) error {
	var f byte
	for i, b := range bits {
		if *b {
			f |= 1 << i
		}
	}
	r.byte1(&f)
	if !r.reading {
		return nil
	}
	for i, b := range bits {
		*b = f&(1<<i) != 0
	}
	if f>>len(bits) != 0 {
		return fmt.Errorf("unknown %s flags %#x", what, f)
	}
	return nil
}

// stateFlags stores an intent's or an operation's state as the flag
// after bits: set when a recorded failure after a write may have reached
// the tag. Read, a clear flag is IntentInProgress.
func (r *rec) stateFlags(what string, state *IntentState, bits ...*bool) error {
	failed := *state == IntentFailed
	// A loop, not append or copy, keeps the pointers off the heap.
	var all [8]*bool
	for i, b := range bits {
		all[i] = b
	}
	all[len(bits)] = &failed
	err := r.flags(what, all[:len(bits)+1]...)
	if r.reading {
		*state = IntentInProgress
		if failed {
			*state = IntentFailed
		}
	}
	return err
}

func encodeBinding(b *manifest.Binding) []byte {
	r := writer(recordLatest, 192)
	bindingLayout(&r, b)
	return r.sealed()
}

// Binding versions 1 and 2 have the same fields; 2 adds the checksum.
func decodeBinding(data []byte) (b manifest.Binding, err error) {
	r := reader("binding", data, recordV1)
	bindingLayout(&r, &b)
	return b, r.done()
}

func bindingLayout(r *rec, b *manifest.Binding) {
	text(r, &b.UID)
	r.str(&b.SKU, &b.BatchID, &b.StationID)
	r.byte1(&b.KeyVersion)
	r.str(&b.MasterKCV, &b.TemplateHash)
	text(r, &b.Outcome)
	r.int(&b.Attempts)
	r.uint32(&b.ReadCtr, "read counter")
	r.time(&b.StartedAt, &b.CompletedAt)
	r.uvarint(&b.Seq)
	// A binding claims a finished tag; any other word is damage, and
	// passing it on would put it in manifests and the sync stream.
	if r.reading && r.ok() && !b.Outcome.Binds() {
		r.fail(fmt.Errorf("unknown outcome %q", b.Outcome))
	}
}

func encodeIntent(it *Intent) []byte {
	r := writer(recordLatest, 192)
	intentLayout(&r, it)
	return r.sealed()
}

// Intent versions 1 and 2 have the same fields; 2 adds the checksum.
func decodeIntent(data []byte) (it Intent, err error) {
	r := reader("intent", data, recordV1)
	intentLayout(&r, &it)
	return it, r.done()
}

// The intent's flags: bit 0 re-encode, bit 1 failed (IntentFailed: the
// last attempt ended in a recorded failure after a write may have reached
// the tag). Version 1 called the same bit "keys may have changed"; its
// absence never meant the keys were untouched (a station killed
// mid-attempt records nothing), so both versions read it the same way.
func intentLayout(r *rec, it *Intent) {
	text(r, &it.UID)
	r.str(&it.BatchID, &it.SKU, &it.StationID)
	r.byte1(&it.KeyVersion)
	r.str(&it.MasterKCV, &it.TemplateHash)
	r.time(&it.StartedAt)
	r.int(&it.Attempts)
	r.fail(r.stateFlags("intent", &it.State, &it.Reencode))
	if r.reading {
		// Every stored intent was written before the station's first
		// write to the tag, whatever happened after (see
		// Intent.KeysMayHaveChanged).
		it.KeysMayHaveChanged = true
	}
	r.str(&it.LastError)
}

func encodeBatch(b *Batch) []byte {
	r := writer(recordLatest, 128)
	batchLayout(&r, b)
	return r.sealed()
}

func decodeBatch(data []byte) (b Batch, err error) {
	r := reader("batch", data, recordV1)
	batchLayout(&r, &b)
	return b, r.done()
}

// The batch's flags: bit 0 test, bit 1 simulated, bit 2 LRP, bit 3 random ID.
func batchLayout(r *rec, b *Batch) {
	r.str(&b.ID, &b.SKU)
	r.int(&b.Target)
	r.str(&b.Template)
	r.byte1(&b.KeyVersion)
	r.str(&b.Notes)
	text(r, &b.Status)
	r.time(&b.CreatedAt, &b.ClosedAt)
	if r.since(recordV2) {
		r.str(&b.KDF)
		r.fail(r.flags("batch", &b.Test, &b.Simulated, &b.LRP, &b.RandomID))
	} else {
		// Version 1 batches predate the pinned derivation and test
		// batches: they read as the derivation that was the default
		// then, and as production batches.
		b.KDF = KDFTagline
	}
	if !r.reading || !r.ok() {
		return
	}
	if b.Status != StatusOpen && b.Status != StatusClosed {
		r.fail(fmt.Errorf("unknown status %q", b.Status))
	} else if !validKDF(b.KDF) {
		r.fail(fmt.Errorf("unknown key derivation %q", b.KDF))
	}
}
