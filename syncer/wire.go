package syncer

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/tagline-station/tagline/batch"
)

// Format names the sync wire format (see doc.go, "Wire format").
const Format = "tagline-sync/1"

// ContentType is the media type of a chunk body.
const ContentType = "application/x-ndjson"

// ErrChunk is wrapped by every reason ParseChunk refuses a body.
var ErrChunk = errors.New("malformed sync chunk")

// Record is one binding of a chunk together with its line exactly as
// received (including the final '\n'), which is what the checksum covers
// and what a backend keeps.
type Record struct {
	batch.Binding
	Line []byte
}

// Chunk is a parsed and validated sync body.
type Chunk struct {
	Station   string
	Journal   string // the sending journal's identity ("" from an older station)
	Since     uint64
	Records   []Record
	SHA256    string // of the record lines, as the trailer states and ParseChunk verified
	NextSince uint64 // the last record's seq, or Since when there is none
}

// AppendRecord appends b as one manifest record line, byte for byte what
// batch.Store.Export writes for it (MANIFEST.md, "Records"), including the
// terminating '\n'.
func AppendRecord(dst []byte, b *batch.Binding) []byte {
	return batch.AppendRecordJSON(dst, b)
}

// AppendChunk appends a whole chunk body: header, one line per binding (in
// the order given, which must be ascending seq) and the trailer. It returns
// the body and the checksum of the record lines.
func AppendChunk(dst []byte, station string, since uint64, bs []batch.Binding) ([]byte, string) {
	return AppendChunkOf(dst, station, "", since, bs)
}

// AppendChunkOf is AppendChunk with the sending journal's identity in the
// header (left out when empty).
func AppendChunkOf(dst []byte, station, journal string, since uint64, bs []batch.Binding) ([]byte, string) {
	dst = append(dst, `{"type":"header","format":`...)
	dst = batch.AppendJSONString(dst, Format)
	dst = append(dst, `,"station":`...)
	dst = batch.AppendJSONString(dst, station)
	if journal != "" {
		dst = append(dst, `,"journal":`...)
		dst = batch.AppendJSONString(dst, journal)
	}
	dst = append(dst, `,"since":`...)
	dst = strconv.AppendUint(dst, since, 10)
	dst = append(dst, "}\n"...)
	start := len(dst)
	next := since
	for i := range bs {
		dst = AppendRecord(dst, &bs[i])
		next = bs[i].Seq
	}
	sum := sha256.Sum256(dst[start:])
	h := hex.EncodeToString(sum[:])
	dst = append(dst, `{"type":"trailer","count":`...)
	dst = strconv.AppendInt(dst, int64(len(bs)), 10)
	dst = append(dst, `,"sha256":"`...)
	dst = append(dst, h...)
	dst = append(dst, `","next_since":`...)
	dst = strconv.AppendUint(dst, next, 10)
	dst = append(dst, "}\n"...)
	return dst, h
}

// MaxLine bounds one line of a chunk. A record is a few hundred bytes.
const MaxLine = 64 << 10

type wireHeader struct {
	Type    string  `json:"type"`
	Format  string  `json:"format"`
	Station string  `json:"station"`
	Journal string  `json:"journal"`
	Since   *uint64 `json:"since"`
}

type wireRecord struct {
	Type string `json:"type"`
	batch.Binding
}

type wireTrailer struct {
	Type      string  `json:"type"`
	Count     *int    `json:"count"`
	SHA256    string  `json:"sha256"`
	NextSince *uint64 `json:"next_since"`
}

// ParseChunk is ParseChunkWith with the default limits, the clock
// time.Now, and maxRecords (0: no bound).
func ParseChunk(r io.Reader, maxRecords int) (*Chunk, error) {
	return ParseChunkWith(r, Limits{MaxRecords: maxRecords})
}

// ParseChunkWith reads and validates a chunk body: the header names Format
// and a station; every record is a binding of that station in strictly
// ascending seq above since and follows the record rules (doc.go: a 7-byte
// upper-case UID, printable bounded text, a read counter a read-back can
// see, no time ahead of lim.Now beyond lim.ClockSkew, ...); the trailer's
// count, sha256 and next_since agree with the records; nothing follows the
// trailer. Every error wraps ErrChunk; a time too far ahead also wraps
// ErrClockAhead.
func ParseChunkWith(r io.Reader, lim Limits) (*Chunk, error) {
	maxRecords := lim.MaxRecords
	now := time.Now()
	if lim.Now != nil {
		now = lim.Now()
	}
	skew := lim.ClockSkew
	if skew <= 0 {
		skew = DefaultClockSkew
	}
	br := bufio.NewReaderSize(r, 64<<10)
	readLine := func() ([]byte, error) {
		var line []byte
		for {
			part, err := br.ReadSlice('\n')
			line = append(line, part...)
			if len(line) > MaxLine {
				return nil, fmt.Errorf("%w: a line is longer than %d bytes", ErrChunk, MaxLine)
			}
			if err == bufio.ErrBufferFull {
				continue
			}
			if err == io.EOF {
				if len(line) == 0 {
					return nil, io.EOF
				}
				return nil, fmt.Errorf("%w: the last line has no line feed (truncated body?)", ErrChunk)
			}
			return line, err
		}
	}
	first, err := readLine()
	if err == io.EOF {
		return nil, fmt.Errorf("%w: empty body", ErrChunk)
	}
	if err != nil {
		return nil, err
	}
	var hd wireHeader
	if err := json.Unmarshal(first, &hd); err != nil || hd.Type != "header" || !utf8.Valid(first) {
		return nil, fmt.Errorf("%w: line 1 is not a header", ErrChunk)
	}
	if hd.Format != Format {
		return nil, fmt.Errorf("%w: format %q, want %q", ErrChunk, hd.Format, Format)
	}
	if hd.Station == "" || hd.Since == nil {
		return nil, fmt.Errorf("%w: the header needs station and since", ErrChunk)
	}
	if err := batch.CheckText("station", hd.Station); err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrChunk, err)
	}
	if *hd.Since > MaxSeq {
		return nil, fmt.Errorf("%w: header: since %d is above 2^63-1", ErrChunk, *hd.Since)
	}
	if hd.Journal != "" && !isJournalID(hd.Journal) {
		return nil, fmt.Errorf("%w: header: journal is not 32 lower-case hex digits", ErrChunk)
	}
	c := &Chunk{Station: hd.Station, Journal: hd.Journal, Since: *hd.Since}
	h := sha256.New()
	last := c.Since
	for n := 2; ; n++ {
		line, err := readLine()
		if err == io.EOF {
			return nil, fmt.Errorf("%w: no trailer (truncated body?)", ErrChunk)
		}
		if err != nil {
			return nil, err
		}
		if !utf8.Valid(line) {
			return nil, fmt.Errorf("%w: line %d is not valid UTF-8", ErrChunk, n)
		}
		var rec wireRecord
		if err := json.Unmarshal(line, &rec); err != nil {
			return nil, fmt.Errorf("%w: line %d is not a JSON object of this format", ErrChunk, n)
		}
		if rec.Type == "trailer" {
			var tr wireTrailer
			if err := json.Unmarshal(line, &tr); err != nil || tr.Count == nil || tr.NextSince == nil {
				return nil, fmt.Errorf("%w: line %d: unreadable trailer", ErrChunk, n)
			}
			c.SHA256 = hex.EncodeToString(h.Sum(nil))
			c.NextSince = last
			switch {
			case *tr.Count != len(c.Records):
				return nil, fmt.Errorf("%w: trailer count %d, body has %d records", ErrChunk, *tr.Count, len(c.Records))
			case tr.SHA256 != c.SHA256:
				return nil, fmt.Errorf("%w: trailer sha256 does not match the record lines", ErrChunk)
			case *tr.NextSince != last:
				return nil, fmt.Errorf("%w: trailer next_since %d, last record %d", ErrChunk, *tr.NextSince, last)
			}
			if _, err := readLine(); err != io.EOF {
				return nil, fmt.Errorf("%w: data after the trailer", ErrChunk)
			}
			return c, nil
		}
		if maxRecords > 0 && len(c.Records) == maxRecords {
			return nil, fmt.Errorf("%w: more than %d records in one chunk", ErrChunk, maxRecords)
		}
		if rec.Type != "binding" {
			return nil, fmt.Errorf("%w: line %d is not a binding record", ErrChunk, n)
		}
		b := rec.Binding
		switch {
		case b.Seq <= last:
			return nil, fmt.Errorf("%w: line %d: seq %d is not above %d", ErrChunk, n, b.Seq, last)
		case b.StationID != c.Station:
			return nil, fmt.Errorf("%w: line %d: station %q in a chunk of station %q", ErrChunk, n, b.StationID, c.Station)
		}
		if err := validateRecord(&b, now, skew); err != nil {
			return nil, fmt.Errorf("%w: line %d (seq %d): %w", ErrChunk, n, b.Seq, err)
		}
		last = b.Seq
		h.Write(line)
		c.Records = append(c.Records, Record{Binding: b, Line: line})
	}
}

func isJournalID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
