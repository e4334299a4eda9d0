package manifest

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/tagline-station/tagline/lines"
)

// SyncFormat names the sync chunk layout (doc.go, "Sync chunks").
const SyncFormat = "tagline-sync/1"

// ErrChunk is wrapped by every reason ParseChunk refuses a body.
var ErrChunk = errors.New("malformed sync chunk")

// Record is one binding of a chunk together with its line exactly as
// received (including the final '\n'), which is what the checksum covers
// and what a backend keeps.
type Record struct {
	Binding
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

// AppendChunk appends a whole chunk body: header, one line per binding (in
// the order given, which must be ascending seq) and the trailer. The
// header names journal, the sending journal's identity, unless it is
// empty. It returns the body and the checksum of the record lines.
func AppendChunk(dst []byte, station, journal string, since uint64, bs []Binding) ([]byte, string) {
	dst = append(dst, `{"type":"header","format":`...)
	dst = AppendString(dst, SyncFormat)
	dst = append(dst, `,"station":`...)
	dst = AppendString(dst, station)
	if journal != "" {
		dst = append(dst, `,"journal":`...)
		dst = AppendString(dst, journal)
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
	return AppendTrailer(dst, Summary{Count: len(bs), SHA256: h, NextSince: next}), h
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
	Binding
}

type wireTrailer struct {
	Type      string  `json:"type"`
	Count     *int    `json:"count"`
	SHA256    string  `json:"sha256"`
	NextSince *uint64 `json:"next_since"`
}

// ParseChunk reads and validates a chunk body: the header names SyncFormat
// and a station; every record is a binding of that station in strictly
// ascending seq above since and follows the record rules (doc.go); the
// trailer's count, sha256 and next_since agree with the records; nothing
// follows the trailer. Every error wraps ErrChunk; a time too far ahead
// also wraps ErrClockAhead.
func ParseChunk(r io.Reader, lim Limits) (*Chunk, error) {
	p := chunkParser{br: bufio.NewReaderSize(r, 64<<10), lim: lim.withDefaults(), h: sha256.New()}
	first, err := p.line()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: empty body", ErrChunk)
	}
	if err != nil {
		return nil, err
	}
	if p.c, err = parseHeader(first); err != nil {
		return nil, err
	}
	p.last = p.c.Since
	for n := 2; ; n++ {
		done, err := p.next(n)
		if err != nil {
			return nil, err
		}
		if done {
			return p.c, nil
		}
	}
}

type chunkParser struct {
	br   *bufio.Reader
	lim  Limits
	c    *Chunk
	h    hash.Hash
	last uint64
}

// line reads one line, which must end in '\n'.
func (p *chunkParser) line() ([]byte, error) {
	l, err := lines.Read(p.br, MaxLine-1)
	switch {
	case errors.Is(err, lines.ErrTooLong):
		return nil, fmt.Errorf("%w: a line is longer than %d bytes", ErrChunk, MaxLine)
	case err != nil:
		return nil, err
	case l[len(l)-1] != '\n':
		return nil, fmt.Errorf("%w: the last line has no line feed (truncated body?)", ErrChunk)
	}
	return l, nil
}

func parseHeader(line []byte) (*Chunk, error) {
	var hd wireHeader
	if err := json.Unmarshal(line, &hd); err != nil || hd.Type != "header" || !utf8.Valid(line) {
		return nil, fmt.Errorf("%w: line 1 is not a header", ErrChunk)
	}
	switch {
	case hd.Format != SyncFormat:
		return nil, fmt.Errorf("%w: format %q, want %q", ErrChunk, hd.Format, SyncFormat)
	case hd.Station == "" || hd.Since == nil:
		return nil, fmt.Errorf("%w: the header needs station and since", ErrChunk)
	}
	if err := CheckText("station", hd.Station); err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrChunk, err)
	}
	switch {
	case *hd.Since > MaxSeq:
		return nil, fmt.Errorf("%w: header: since %d is above 2^63-1", ErrChunk, *hd.Since)
	case hd.Journal != "" && !isJournalID(hd.Journal):
		return nil, fmt.Errorf("%w: header: journal is not 32 lower-case hex digits", ErrChunk)
	}
	return &Chunk{Station: hd.Station, Journal: hd.Journal, Since: *hd.Since}, nil
}

// next reads line n: a record, or the trailer (done).
func (p *chunkParser) next(n int) (done bool, err error) {
	line, err := p.line()
	if errors.Is(err, io.EOF) {
		return false, fmt.Errorf("%w: no trailer (truncated body?)", ErrChunk)
	}
	if err != nil {
		return false, err
	}
	if !utf8.Valid(line) {
		return false, fmt.Errorf("%w: line %d is not valid UTF-8", ErrChunk, n)
	}
	var rec wireRecord
	var prev *Binding
	if k := len(p.c.Records); k > 0 {
		prev = &p.c.Records[k-1].Binding
	}
	if !decodeRecord(line, &rec, prev) {
		rec = wireRecord{}
		if err := json.Unmarshal(line, &rec); err != nil {
			return false, fmt.Errorf("%w: line %d is not a JSON object of this format", ErrChunk, n)
		}
	}
	if rec.Type == "trailer" {
		return true, p.trailer(n, line)
	}
	return false, p.record(n, line, &rec)
}

func (p *chunkParser) record(n int, line []byte, rec *wireRecord) error {
	if p.lim.MaxRecords > 0 && len(p.c.Records) == p.lim.MaxRecords {
		return fmt.Errorf("%w: more than %d records in one chunk", ErrChunk, p.lim.MaxRecords)
	}
	if rec.Type != "binding" {
		return fmt.Errorf("%w: line %d is not a binding record", ErrChunk, n)
	}
	b := rec.Binding
	switch {
	case b.Seq <= p.last:
		return fmt.Errorf("%w: line %d: seq %d is not above %d", ErrChunk, n, b.Seq, p.last)
	case b.StationID != p.c.Station:
		return fmt.Errorf("%w: line %d: station %q in a chunk of station %q", ErrChunk, n, b.StationID, p.c.Station)
	}
	if err := CheckRecord(&b, p.lim.Now(), p.lim.ClockSkew); err != nil {
		return fmt.Errorf("%w: line %d (seq %d): %w", ErrChunk, n, b.Seq, err)
	}
	p.last = b.Seq
	p.h.Write(line)
	p.c.Records = append(p.c.Records, Record{Binding: b, Line: line})
	return nil
}

func (p *chunkParser) trailer(n int, line []byte) error {
	var tr wireTrailer
	if err := json.Unmarshal(line, &tr); err != nil || tr.Count == nil || tr.NextSince == nil {
		return fmt.Errorf("%w: line %d: unreadable trailer", ErrChunk, n)
	}
	p.c.SHA256 = hex.EncodeToString(p.h.Sum(nil))
	p.c.NextSince = p.last
	switch {
	case *tr.Count != len(p.c.Records):
		return fmt.Errorf("%w: trailer count %d, body has %d records", ErrChunk, *tr.Count, len(p.c.Records))
	case tr.SHA256 != p.c.SHA256:
		return fmt.Errorf("%w: trailer sha256 does not match the record lines", ErrChunk)
	case *tr.NextSince != p.last:
		return fmt.Errorf("%w: trailer next_since %d, last record %d", ErrChunk, *tr.NextSince, p.last)
	}
	if _, err := p.line(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: data after the trailer", ErrChunk)
	}
	return nil
}

func isJournalID(s string) bool { return len(s) == 32 && isHex(s, false) }

// Bounds of the record rules (doc.go, "Record rules"). A chunk with one
// record outside them is refused whole, before anything is stored.
const (
	// MaxReadCtr is the highest read_ctr a record may carry. The SDM read
	// counter has 24 bits and a station reads it back right after enabling
	// SDM, which resets it to zero, so it sees a small value. 0xFFFFFF is
	// the exhausted counter: a tag there mirrors no new counter, so a
	// binding at it could never be tapped genuine.
	MaxReadCtr = 0xFFFFFF - 1
	// MaxSeq is the highest seq (and since): the backends keep seqs as
	// signed 64-bit integers (PostgreSQL bigint).
	MaxSeq = 1<<63 - 1
	// MaxAttempts bounds attempts: at a few tenths of a second each, a
	// million attempts on one tag would take days.
	MaxAttempts = 1 << 20
	// DefaultClockSkew is how far ahead of the receiver's clock a record's
	// times may be.
	DefaultClockSkew = 5 * time.Minute
)

// ErrClockAhead is wrapped (with ErrChunk) when a record's time lies in
// the future beyond the allowed skew: the station's clock runs ahead.
var ErrClockAhead = errors.New("the station's clock is ahead")

// Limits are what ParseChunk checks beyond the format itself.
type Limits struct {
	// MaxRecords bounds the records of one chunk (0: no bound).
	MaxRecords int
	// Now is the receiver's clock (default time.Now); ClockSkew how far a
	// record's started_at or completed_at may be ahead of it (default
	// DefaultClockSkew).
	Now       func() time.Time
	ClockSkew time.Duration
}

func (l Limits) withDefaults() Limits {
	if l.Now == nil {
		l.Now = time.Now
	}
	if l.ClockSkew <= 0 {
		l.ClockSkew = DefaultClockSkew
	}
	return l
}

// CheckRecord applies the record rules to b, given the receiver's time now
// and the skew it allows.
func CheckRecord(b *Binding, now time.Time, skew time.Duration) error {
	if err := checkTapUID(string(b.UID)); err != nil {
		return err
	}
	if b.Seq == 0 || b.Seq > MaxSeq {
		return fmt.Errorf("seq %d is out of range (1 to 2^63-1)", b.Seq)
	}
	for _, f := range []struct{ what, s string }{{"sku", b.SKU}, {"batch_id", b.BatchID}, {"station_id", b.StationID}} {
		if err := CheckText(f.what, f.s); err != nil {
			return err
		}
	}
	if err := checkFields(b); err != nil {
		return err
	}
	for _, f := range []struct {
		what string
		t    time.Time
	}{{"completed_at", b.CompletedAt}, {"started_at", b.StartedAt}} {
		if ahead := f.t.Sub(now); ahead > skew {
			return fmt.Errorf("%w: %s %s is %s after the backend's time %s (at most %s allowed); set the station's clock right (NTP): the record is accepted once the backend's time reaches it",
				ErrClockAhead, f.what, f.t.UTC().Format(time.RFC3339), ahead.Round(time.Second), now.UTC().Format(time.RFC3339), skew)
		}
	}
	return nil
}

func checkFields(b *Binding) error {
	switch {
	case b.KeyVersion == 0:
		return errors.New("key_version 0 is the factory key version; a binding has 1 to 255")
	case b.ReadCtr > MaxReadCtr:
		return fmt.Errorf("read_ctr %d is one no station read-back can see (at most %d)", b.ReadCtr, MaxReadCtr)
	case !b.Outcome.Binds():
		return fmt.Errorf("outcome %q is not that of a binding (encoded or verified)", clip(string(b.Outcome)))
	case b.Attempts < 0 || b.Attempts > MaxAttempts:
		return fmt.Errorf("attempts %d is out of range (0 to %d)", b.Attempts, MaxAttempts)
	case len(b.MasterKCV) > 16 || len(b.MasterKCV)%2 != 0 || !isHex(b.MasterKCV, true):
		return errors.New("master_kcv is not upper-case hex of at most 8 bytes (key material?)")
	case b.TemplateHash != "" && (len(b.TemplateHash) != 64 || !isHex(b.TemplateHash, false)):
		return errors.New("template_hash is not a lower-case hex sha-256")
	case b.CompletedAt.IsZero():
		return errors.New("no completed_at")
	}
	return nil
}
