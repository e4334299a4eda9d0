package manifest

import (
	"math"
	"time"
)

// decodeRecord decodes a record line into rec as json.Unmarshal would,
// for the lines AppendRecord writes: the known keys spelt exactly, strings
// without escapes, non-negative integers in plain digits, true and false,
// times as JSON strings. At anything else (another key or spelling, an
// escape, null, a sign, a fraction, an exponent, an overflow, a syntax
// error) it returns false, and the caller must decode the line with
// json.Unmarshal into a zero wireRecord: json.Unmarshal stays the one
// judge of every line that is not so plain, so the inputs accepted and
// refused are the same with or without this. At a million records
// json.Unmarshal's reflection was most of a chunk's parsing.
//
// line must be valid UTF-8: json.Unmarshal replaces invalid bytes in
// strings, which are taken here as they are. A string equal to the same
// field of prev (the chunk's previous record, or nil) is prev's, so that
// the values repeated record after record are not allocated again.
func decodeRecord(line []byte, rec *wireRecord, prev *Binding) bool {
	d := recordDecoder{b: line}
	if prev == nil {
		prev = &Binding{}
	}
	d.space()
	if !d.byte('{') {
		return false
	}
	d.space()
	if d.byte('}') {
		return d.end()
	}
	for {
		key, ok := d.str()
		if !ok {
			return false
		}
		d.space()
		if !d.byte(':') {
			return false
		}
		d.space()
		if !d.field(key, rec, prev) {
			return false
		}
		d.space()
		if d.byte('}') {
			return d.end()
		}
		if !d.byte(',') {
			return false
		}
		d.space()
	}
}

type recordDecoder struct {
	b []byte
	i int
}

func (d *recordDecoder) field(key []byte, rec *wireRecord, prev *Binding) bool {
	b := &rec.Binding
	var ok bool
	switch string(key) {
	case "type":
		rec.Type, ok = d.text("binding")
	case "seq":
		b.Seq, ok = d.uint(math.MaxUint64)
	case "uid":
		var s string
		s, ok = d.text(string(prev.UID))
		b.UID = UID(s)
	case "sku":
		b.SKU, ok = d.text(prev.SKU)
	case "batch_id":
		b.BatchID, ok = d.text(prev.BatchID)
	case "station_id":
		b.StationID, ok = d.text(prev.StationID)
	case "key_version":
		var v uint64
		v, ok = d.uint(math.MaxUint8)
		b.KeyVersion = byte(v)
	case "master_kcv":
		b.MasterKCV, ok = d.text(prev.MasterKCV)
	case "template_hash":
		b.TemplateHash, ok = d.text(prev.TemplateHash)
	case "outcome":
		var s string
		s, ok = d.text(string(prev.Outcome))
		b.Outcome = Outcome(s)
	case "attempts":
		var v uint64
		v, ok = d.uint(math.MaxInt)
		b.Attempts = int(v)
	case "read_ctr":
		var v uint64
		v, ok = d.uint(math.MaxUint32)
		b.ReadCtr = uint32(v)
	case "simulated":
		b.Simulated, ok = d.bool()
	case "started_at":
		ok = d.time(&b.StartedAt)
	case "completed_at":
		ok = d.time(&b.CompletedAt)
	}
	return ok
}

func (d *recordDecoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *recordDecoder) byte(c byte) bool {
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// end: only white space may follow the object.
func (d *recordDecoder) end() bool {
	d.space()
	return d.i == len(d.b)
}

// str reads a string without escapes and returns its bytes.
func (d *recordDecoder) str() ([]byte, bool) {
	if !d.byte('"') {
		return nil, false
	}
	start := d.i
	for j := start; j < len(d.b); j++ {
		switch c := d.b[j]; {
		case c == '"':
			d.i = j + 1
			return d.b[start:j], true
		case c == '\\' || c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

// text is a string, prev itself when they are equal.
func (d *recordDecoder) text(prev string) (string, bool) {
	s, ok := d.str()
	switch {
	case !ok:
		return "", false
	case string(s) == prev:
		return prev, true
	}
	return string(s), true
}

// uint reads an integer of plain digits that is at most max.
func (d *recordDecoder) uint(max uint64) (uint64, bool) {
	j := d.i
	switch {
	case j == len(d.b) || d.b[j] < '0' || d.b[j] > '9':
		return 0, false
	case d.b[j] == '0':
		j++
	default:
		var v uint64
		for ; j < len(d.b) && d.b[j] >= '0' && d.b[j] <= '9'; j++ {
			c := uint64(d.b[j] - '0')
			if v > (max-c)/10 {
				return 0, false
			}
			v = 10*v + c
		}
		d.i = j
		return v, true
	}
	d.i = j
	return 0, true
}

func (d *recordDecoder) bool() (bool, bool) {
	rest := d.b[d.i:]
	switch {
	case len(rest) >= 4 && string(rest[:4]) == "true":
		d.i += 4
		return true, true
	case len(rest) >= 5 && string(rest[:5]) == "false":
		d.i += 5
		return false, true
	}
	return false, false
}

// time hands the string, quotes and all, to time.Time's UnmarshalJSON,
// as json.Unmarshal does.
func (d *recordDecoder) time(t *time.Time) bool {
	start := d.i
	if _, ok := d.str(); !ok {
		return false
	}
	var v time.Time
	if v.UnmarshalJSON(d.b[start:d.i]) != nil {
		return false
	}
	*t = v
	return true
}
