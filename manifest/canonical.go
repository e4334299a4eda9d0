package manifest

import (
	"bytes"
	"strconv"
	"time"
	"unicode/utf8"
)

// decodeCanonical reads a binding record line written the way AppendRecord
// writes it: its keys in AppendRecord's order, no space, strings without
// escapes, integers without leading zeros or exponent, ending in "}\n".
// On such a line encoding/json decodes exactly these values, so the parser
// takes this path and leaves every other line, and every line this one
// declines (ok false), to encoding/json: what a chunk accepts and refuses
// stays encoding/json's. The reflective decode was most of the cost of
// parsing a chunk.
func decodeCanonical(line []byte) (b Binding, ok bool) {
	d := canonical{rest: line, ok: true}
	d.lit(`{"type":"binding","seq":`)
	b.Seq = d.uint(1<<64 - 1)
	d.lit(`,"uid":`)
	b.UID = UID(d.str())
	d.lit(`,"sku":`)
	b.SKU = d.str()
	d.lit(`,"batch_id":`)
	b.BatchID = d.str()
	d.lit(`,"station_id":`)
	b.StationID = d.str()
	d.lit(`,"key_version":`)
	b.KeyVersion = byte(d.uint(255))
	d.lit(`,"master_kcv":`)
	b.MasterKCV = d.str()
	d.lit(`,"template_hash":`)
	b.TemplateHash = d.str()
	d.lit(`,"outcome":`)
	b.Outcome = Outcome(d.str())
	d.lit(`,"attempts":`)
	b.Attempts = d.int()
	d.lit(`,"read_ctr":`)
	b.ReadCtr = uint32(d.uint(1<<32 - 1))
	d.lit(`,"started_at":`)
	b.StartedAt = d.time()
	d.lit(`,"completed_at":`)
	b.CompletedAt = d.time()
	switch {
	case !d.ok:
		return Binding{}, false
	case bytes.Equal(d.rest, []byte("}\n")):
	case bytes.Equal(d.rest, []byte(`,"simulated":true}`+"\n")):
		b.Simulated = true
	default:
		return Binding{}, false
	}
	return b, true
}

// canonical reads a line front to back; the first thing that is not as
// AppendRecord writes it clears ok, and the rest reads nothing.
type canonical struct {
	rest []byte
	ok   bool
}

func (d *canonical) lit(s string) {
	if d.ok && bytes.HasPrefix(d.rest, []byte(s)) {
		d.rest = d.rest[len(s):]
		return
	}
	d.ok = false
}

// digits is the run of decimal digits at the start: "0", or without a
// leading zero.
func (d *canonical) digits() string {
	n := 0
	for d.ok && n < len(d.rest) && d.rest[n] >= '0' && d.rest[n] <= '9' {
		n++
	}
	if n == 0 || n > 20 || (n > 1 && d.rest[0] == '0') {
		d.ok = false
		return ""
	}
	ds := string(d.rest[:n])
	d.rest = d.rest[n:]
	return ds
}

func (d *canonical) uint(max uint64) uint64 {
	ds := d.digits()
	if !d.ok {
		return 0
	}
	u, err := strconv.ParseUint(ds, 10, 64)
	if err != nil || u > max {
		d.ok = false
	}
	return u
}

func (d *canonical) int() int {
	neg := d.ok && len(d.rest) > 0 && d.rest[0] == '-'
	if neg {
		d.rest = d.rest[1:]
	}
	ds := d.digits()
	if !d.ok {
		return 0
	}
	i, err := strconv.ParseInt(ds, 10, strconv.IntSize)
	if err != nil {
		d.ok = false
	}
	if neg {
		i = -i
	}
	return int(i)
}

// quoted is a string with its quotes: no escape, no control character,
// valid UTF-8 (encoding/json would replace invalid bytes).
func (d *canonical) quoted() []byte {
	if !d.ok || len(d.rest) == 0 || d.rest[0] != '"' {
		d.ok = false
		return nil
	}
	for i := 1; i < len(d.rest); i++ {
		switch c := d.rest[i]; {
		case c == '"':
			q := d.rest[:i+1]
			d.rest = d.rest[i+1:]
			d.ok = utf8.Valid(q)
			return q
		case c == '\\' || c < 0x20:
			d.ok = false
			return nil
		}
	}
	d.ok = false
	return nil
}

func (d *canonical) str() string {
	q := d.quoted()
	if !d.ok {
		return ""
	}
	return string(q[1 : len(q)-1])
}

// time decodes as encoding/json does, with time.Time's own UnmarshalJSON.
func (d *canonical) time() time.Time {
	var t time.Time
	q := d.quoted()
	if d.ok && t.UnmarshalJSON(q) != nil {
		d.ok = false
	}
	return t
}
