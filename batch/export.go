package batch

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

// ManifestFormat names the manifest layout described in MANIFEST.md.
const ManifestFormat = "tagline-manifest/1"

// ExportOptions selects the manifest encoding and where to resume.
type ExportOptions struct {
	// Format is "jsonl" (the default) or "csv".
	Format string
	// Since skips the bindings with a sequence number up to and including
	// it: pass the next_since of an earlier export to get only what came
	// after.
	Since uint64
}

// ExportSummary repeats what the trailer says.
type ExportSummary struct {
	Count     int
	SHA256    string
	NextSince uint64
}

// exportChunk bounds how many records one read transaction serves. A long
// read transaction keeps bbolt from remapping a growing file, which would
// stall the station's commits for the length of a big export. A variable
// so that tests can cross chunk boundaries with a small journal.
var exportChunk = 8192

// Export writes the manifest of a batch to w: a header, one line per
// binding in sequence order, and a trailer with the count, the SHA-256 of
// the record lines and the cursor to resume from. The output is a function
// of the journal alone: exporting twice gives identical bytes, and the
// records are streamed, never held in memory together.
//
// Bindings committed while an export runs are not included; the export
// covers sequence numbers up to the last one committed when it started.
func (s *Store) Export(w io.Writer, batchID string, opts ExportOptions) (ExportSummary, error) {
	var sum ExportSummary
	csv := false
	switch opts.Format {
	case "", "jsonl":
	case "csv":
		csv = true
	default:
		return sum, fmt.Errorf("%w: manifest format %q; use jsonl or csv", ErrInvalid, opts.Format)
	}
	var b Batch
	var upto uint64
	err := s.view(func(tx *bolt.Tx) error {
		bk, err := buckets(tx)
		if err != nil {
			return err
		}
		if b, err = getBatch(bk, batchID); err != nil {
			return err
		}
		if bk.index.Bucket([]byte(batchID)) == nil {
			return fmt.Errorf("%w: batch %s has no index; run tagline check", ErrCorrupt, batchID)
		}
		upto = bk.outbox.Sequence()
		return nil
	})
	if err != nil {
		return sum, err
	}

	bw := bufio.NewWriterSize(w, 256<<10)
	line := make([]byte, 0, 1024)
	if csv {
		line = appendCSVHeader(line)
	} else {
		line = appendJSONHeader(line, b, s.station, opts.Since)
	}
	if _, err := bw.Write(line); err != nil {
		return sum, err
	}

	h := sha256.New()
	cursor := opts.Since
	for done := cursor == math.MaxUint64; !done; {
		err := s.view(func(tx *bolt.Tx) error {
			bk, err := buckets(tx)
			if err != nil {
				return err
			}
			idx := bk.index.Bucket([]byte(batchID))
			if idx == nil {
				return fmt.Errorf("%w: batch %s has no index; run tagline check", ErrCorrupt, batchID)
			}
			c := idx.Cursor()
			n := 0
			for k, v := c.Seek(seqKey(cursor + 1)); ; k, v = c.Next() {
				if k == nil {
					done = true
					return nil
				}
				seq, ok := keySeq(k)
				if !ok {
					return fmt.Errorf("%w: malformed index key %x in batch %s", ErrCorrupt, k, batchID)
				}
				if seq > upto {
					done = true
					return nil
				}
				if n == exportChunk {
					return nil
				}
				rec, err := recordAt(bk, seq, v)
				if err == nil && (rec.BatchID != batchID || rec.Seq != seq) {
					err = fmt.Errorf("%w: the record is of batch %s, seq %d", ErrCorrupt, rec.BatchID, rec.Seq)
				}
				rec.Simulated = b.Simulated
				if err != nil {
					// Nothing after a damaged record is written, and the
					// trailer never is: a manifest without its trailer
					// is visibly incomplete.
					return fmt.Errorf("manifest of batch %s: record seq %d (tag %s) is corrupt and was not exported: %w", batchID, seq, printableUID(v), err)
				}
				if csv {
					line = appendCSVRecord(line[:0], &rec)
				} else {
					line = AppendRecordJSON(line[:0], &rec)
				}
				h.Write(line)
				if _, err := bw.Write(line); err != nil {
					return err
				}
				sum.Count++
				cursor = seq
				n++
			}
		})
		if err != nil {
			return sum, err
		}
	}
	sum.SHA256 = hex.EncodeToString(h.Sum(nil))
	sum.NextSince = cursor
	if csv {
		line = appendCSVTrailer(line[:0], b, s.station, opts.Since, sum)
	} else {
		line = appendJSONTrailer(line[:0], sum)
	}
	if _, err := bw.Write(line); err != nil {
		return sum, err
	}
	return sum, bw.Flush()
}

// printableUID shows an index value for an error message; a damaged one
// may hold any bytes.
func printableUID(v []byte) string {
	if u, err := NormalizeUID(string(v)); err == nil {
		return u
	}
	return fmt.Sprintf("%q", v)
}

func appendTime(dst []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(dst, time.RFC3339Nano)
}

// The manifest lines are built by hand rather than with encoding/json: the
// field order is part of the format, and at a million lines reflection
// would be most of the export's time.

func appendJSONHeader(dst []byte, b Batch, station string, since uint64) []byte {
	dst = append(dst, `{"type":"header","format":`...)
	dst = AppendJSONString(dst, ManifestFormat)
	dst = append(dst, `,"batch":`...)
	dst = AppendJSONString(dst, b.ID)
	dst = append(dst, `,"sku":`...)
	dst = AppendJSONString(dst, b.SKU)
	dst = append(dst, `,"template":`...)
	dst = AppendJSONString(dst, b.Template)
	dst = append(dst, `,"key_version":`...)
	dst = strconv.AppendUint(dst, uint64(b.KeyVersion), 10)
	dst = append(dst, `,"target":`...)
	dst = strconv.AppendInt(dst, int64(b.Target), 10)
	dst = append(dst, `,"station":`...)
	dst = AppendJSONString(dst, station)
	dst = append(dst, `,"since":`...)
	dst = strconv.AppendUint(dst, since, 10)
	// Only when they differ from what a manifest without them means, so
	// that the manifest of every batch written before them keeps its bytes.
	if b.KDF != "" && b.KDF != DefaultKDF {
		dst = append(dst, `,"kdf":`...)
		dst = AppendJSONString(dst, b.KDF)
	}
	if b.Test {
		dst = append(dst, `,"test":true`...)
	}
	if b.Simulated {
		dst = append(dst, `,"simulated":true`...)
	}
	return append(dst, "}\n"...)
}

// AppendRecordJSON appends one manifest record line for r, terminating
// '\n' included (MANIFEST.md, "Records"). The sync wire format carries
// the same lines, so it is exported for syncer rather than written twice.
func AppendRecordJSON(dst []byte, r *Binding) []byte {
	dst = append(dst, `{"type":"binding","seq":`...)
	dst = strconv.AppendUint(dst, r.Seq, 10)
	dst = append(dst, `,"uid":`...)
	dst = AppendJSONString(dst, r.UID)
	dst = append(dst, `,"sku":`...)
	dst = AppendJSONString(dst, r.SKU)
	dst = append(dst, `,"batch_id":`...)
	dst = AppendJSONString(dst, r.BatchID)
	dst = append(dst, `,"station_id":`...)
	dst = AppendJSONString(dst, r.StationID)
	dst = append(dst, `,"key_version":`...)
	dst = strconv.AppendUint(dst, uint64(r.KeyVersion), 10)
	dst = append(dst, `,"master_kcv":`...)
	dst = AppendJSONString(dst, r.MasterKCV)
	dst = append(dst, `,"template_hash":`...)
	dst = AppendJSONString(dst, r.TemplateHash)
	dst = append(dst, `,"outcome":`...)
	dst = AppendJSONString(dst, string(r.Outcome))
	dst = append(dst, `,"attempts":`...)
	dst = strconv.AppendInt(dst, int64(r.Attempts), 10)
	dst = append(dst, `,"read_ctr":`...)
	dst = strconv.AppendUint(dst, uint64(r.ReadCtr), 10)
	dst = append(dst, `,"started_at":"`...)
	dst = appendTime(dst, r.StartedAt)
	dst = append(dst, `","completed_at":"`...)
	dst = appendTime(dst, r.CompletedAt)
	if r.Simulated {
		// Only when set, so that real records keep their bytes.
		return append(dst, "\",\"simulated\":true}\n"...)
	}
	return append(dst, "\"}\n"...)
}

func appendJSONTrailer(dst []byte, s ExportSummary) []byte {
	dst = append(dst, `{"type":"trailer","count":`...)
	dst = strconv.AppendInt(dst, int64(s.Count), 10)
	dst = append(dst, `,"sha256":"`...)
	dst = append(dst, s.SHA256...)
	dst = append(dst, `","next_since":`...)
	dst = strconv.AppendUint(dst, s.NextSince, 10)
	return append(dst, "}\n"...)
}

const hexDigits = "0123456789abcdef"

// AppendJSONString writes s as a JSON string the way every manifest line
// does: invalid UTF-8 becomes U+FFFD, as encoding/json does, control
// characters are escaped, and nothing is HTML-escaped.
func AppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

var csvColumns = []string{"seq", "uid", "sku", "batch_id", "station_id", "key_version", "master_kcv",
	"template_hash", "outcome", "attempts", "read_ctr", "started_at", "completed_at"}

func appendCSVHeader(dst []byte) []byte {
	for i, c := range csvColumns {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, c...)
	}
	return append(dst, '\n')
}

func appendCSVRecord(dst []byte, r *Binding) []byte {
	dst = strconv.AppendUint(dst, r.Seq, 10)
	dst = append(dst, ',')
	dst = appendCSVText(dst, r.UID)
	dst = append(dst, ',')
	dst = appendCSVText(dst, r.SKU)
	dst = append(dst, ',')
	dst = appendCSVText(dst, r.BatchID)
	dst = append(dst, ',')
	dst = appendCSVText(dst, r.StationID)
	dst = append(dst, ',')
	dst = strconv.AppendUint(dst, uint64(r.KeyVersion), 10)
	dst = append(dst, ',')
	dst = appendCSVText(dst, r.MasterKCV)
	dst = append(dst, ',')
	dst = appendCSVText(dst, r.TemplateHash)
	dst = append(dst, ',')
	dst = appendCSVText(dst, string(r.Outcome))
	dst = append(dst, ',')
	dst = strconv.AppendInt(dst, int64(r.Attempts), 10)
	dst = append(dst, ',')
	dst = strconv.AppendUint(dst, uint64(r.ReadCtr), 10)
	dst = append(dst, ',')
	dst = appendTime(dst, r.StartedAt)
	dst = append(dst, ',')
	dst = appendTime(dst, r.CompletedAt)
	return append(dst, '\n')
}

func appendCSVTrailer(dst []byte, b Batch, station string, since uint64, s ExportSummary) []byte {
	dst = append(dst, "#trailer"...)
	cells := [][2]string{
		{"format", ManifestFormat},
		{"batch", b.ID},
		{"sku", b.SKU},
		{"template", b.Template},
		{"key_version", strconv.Itoa(int(b.KeyVersion))},
		{"target", strconv.Itoa(b.Target)},
		{"station", station},
		{"since", strconv.FormatUint(since, 10)},
		{"count", strconv.Itoa(s.Count)},
		{"sha256", s.SHA256},
		{"next_since", strconv.FormatUint(s.NextSince, 10)},
	}
	// As in the JSON header: only when not the default.
	if b.KDF != "" && b.KDF != DefaultKDF {
		cells = append(cells, [2]string{"kdf", b.KDF})
	}
	if b.Test {
		cells = append(cells, [2]string{"test", "true"})
	}
	if b.Simulated {
		cells = append(cells, [2]string{"simulated", "true"})
	}
	for _, kv := range cells {
		dst = append(dst, ',')
		dst = appendCSVField(dst, kv[0]+"="+kv[1])
	}
	return append(dst, '\n')
}

// appendCSVText writes a record's text cell. A cell that starts with '=',
// '+', '-', '@', a tab or a carriage return is a formula to a spreadsheet
// opening the manifest (CSV injection), so it gets a leading single quote,
// as OWASP advises: the spreadsheet then shows the text as it is. Only the
// SKU can start so (the other cells are hex, names that start with a
// letter or digit, and fixed words); the JSON Lines manifest and the
// trailer's sku= cell keep it unchanged.
func appendCSVText(dst []byte, f string) []byte {
	if len(f) > 0 {
		switch f[0] {
		case '=', '+', '-', '@', '\t', '\r':
			return appendCSVField(dst, "'"+f)
		}
	}
	return appendCSVField(dst, f)
}

// appendCSVField quotes as RFC 4180 (and encoding/csv) require: fields
// holding a comma, quote or line break, or starting with a space.
func appendCSVField(dst []byte, f string) []byte {
	need := f == `\.`
	for i := 0; i < len(f) && !need; i++ {
		switch f[i] {
		case ',', '"', '\r', '\n':
			need = true
		}
	}
	if len(f) > 0 && (f[0] == ' ' || f[0] == '\t') {
		need = true
	}
	if !need {
		return append(dst, f...)
	}
	dst = append(dst, '"')
	for i := 0; i < len(f); i++ {
		if f[i] == '"' {
			dst = append(dst, '"')
		}
		dst = append(dst, f[i])
	}
	return append(dst, '"')
}
