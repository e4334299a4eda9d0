package batch

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"math"

	"github.com/tagline-station/tagline/manifest"
	bolt "go.etcd.io/bbolt"
)

// ExportOptions selects the manifest encoding and where to resume.
type ExportOptions struct {
	// Format is "jsonl" (the default) or "csv".
	Format string
	// Since skips the bindings with a sequence number up to and including
	// it: pass the next_since of an earlier export to get only what came
	// after.
	Since uint64
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
func (s *Store) Export(w io.Writer, batchID string, opts ExportOptions) (manifest.Summary, error) {
	x := exporter{csv: opts.Format == "csv", line: make([]byte, 0, 1024), h: sha256.New()}
	if opts.Format != "" && opts.Format != "jsonl" && !x.csv {
		return x.sum, fmt.Errorf("%w: manifest format %q; use jsonl or csv", ErrInvalid, opts.Format)
	}
	b, upto, err := s.exportStart(batchID)
	if err != nil {
		return x.sum, err
	}
	x.bw = bufio.NewWriterSize(w, 256<<10)
	x.hd = b.manifestHeader(s.station, opts.Since)
	if x.csv {
		x.line = manifest.AppendCSVColumns(x.line)
	} else {
		x.line = manifest.AppendHeader(x.line, x.hd)
	}
	if _, err := x.bw.Write(x.line); err != nil {
		return x.sum, err
	}
	x.sum.NextSince = opts.Since
	for done := opts.Since == math.MaxUint64; !done; {
		err := s.view(func(tx *bolt.Tx) error {
			var err error
			done, err = x.records(tx, b, upto)
			return err
		})
		if err != nil {
			return x.sum, err
		}
	}
	return x.sum, x.finish()
}

// manifestHeader is what a manifest says of b.
func (b Batch) manifestHeader(station string, since uint64) manifest.Header {
	h := manifest.Header{
		Batch: b.ID, SKU: b.SKU, Template: b.Template, KeyVersion: b.KeyVersion, Target: b.Target,
		Station: station, Since: since, Test: b.Test, Simulated: b.Simulated,
	}
	if b.KDF != DefaultKDF {
		h.KDF = b.KDF
	}
	return h
}

// exportStart reads the batch and the last sequence number committed:
// what the export covers.
func (s *Store) exportStart(batchID string) (b Batch, upto uint64, err error) {
	err = s.view(func(tx *bolt.Tx) error {
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
	return b, upto, err
}

// exporter streams one manifest; sum.NextSince is the cursor.
type exporter struct {
	csv  bool
	bw   *bufio.Writer
	line []byte
	h    hash.Hash
	hd   manifest.Header
	sum  manifest.Summary
}

// records writes up to exportChunk records after the cursor, in one read
// transaction; done says none is left.
func (x *exporter) records(tx *bolt.Tx, b Batch, upto uint64) (done bool, err error) {
	bk, err := buckets(tx)
	if err != nil {
		return false, err
	}
	idx := bk.index.Bucket([]byte(b.ID))
	if idx == nil {
		return false, fmt.Errorf("%w: batch %s has no index; run tagline check", ErrCorrupt, b.ID)
	}
	c := idx.Cursor()
	n := 0
	for k, v := c.Seek(seqKey(x.sum.NextSince + 1)); ; k, v = c.Next() {
		if k == nil {
			return true, nil
		}
		seq, ok := keySeq(k)
		if !ok {
			return false, fmt.Errorf("%w: malformed index key %x in batch %s", ErrCorrupt, k, b.ID)
		}
		if seq > upto {
			return true, nil
		}
		if n == exportChunk {
			return false, nil
		}
		if err := x.record(bk, b, seq, v); err != nil {
			return false, err
		}
		n++
	}
}

func (x *exporter) record(bk txBuckets, b Batch, seq uint64, v []byte) error {
	rec, err := recordAt(bk, seq, v)
	if err == nil && (rec.BatchID != b.ID || rec.Seq != seq) {
		err = fmt.Errorf("%w: the record is of batch %s, seq %d", ErrCorrupt, rec.BatchID, rec.Seq)
	}
	if err != nil {
		// Nothing after a damaged record is written, and the trailer
		// never is: a manifest without its trailer is visibly incomplete.
		return fmt.Errorf("manifest of batch %s: record seq %d (tag %s) is corrupt and was not exported: %w", b.ID, seq, printableUID(v), err)
	}
	rec.Simulated = b.Simulated
	if x.csv {
		x.line = manifest.AppendCSVRecord(x.line[:0], &rec)
	} else {
		x.line = manifest.AppendRecord(x.line[:0], &rec)
	}
	x.h.Write(x.line)
	if _, err := x.bw.Write(x.line); err != nil {
		return err
	}
	x.sum.Count++
	x.sum.NextSince = seq
	return nil
}

func (x *exporter) finish() error {
	x.sum.SHA256 = hex.EncodeToString(x.h.Sum(nil))
	if x.csv {
		x.line = manifest.AppendCSVTrailer(x.line[:0], x.hd, x.sum)
	} else {
		x.line = manifest.AppendTrailer(x.line[:0], x.sum)
	}
	if _, err := x.bw.Write(x.line); err != nil {
		return err
	}
	return x.bw.Flush()
}

// printableUID shows an index value for an error message; a damaged one
// may hold any bytes.
func printableUID(v []byte) string {
	if u, err := manifest.ParseUID(string(v)); err == nil {
		return string(u)
	}
	return fmt.Sprintf("%q", v)
}
