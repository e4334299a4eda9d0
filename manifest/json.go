package manifest

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// Format names the manifest layout of MANIFEST.md.
const Format = "tagline-manifest/1"

// Header is what a manifest's first line (JSON Lines) or its trailer row
// (CSV) says about the batch.
type Header struct {
	Batch      string
	SKU        string
	Template   string
	KeyVersion byte
	Target     int
	Station    string
	Since      uint64
	// KDF is the batch's key derivation when it is not the default one;
	// empty otherwise, so that manifests written before derivations were
	// named keep their bytes. Test and Simulated likewise appear only
	// when set.
	KDF       string
	Test      bool
	Simulated bool
}

// Summary is what a manifest's trailer says about its records.
type Summary struct {
	Count     int
	SHA256    string
	NextSince uint64
}

// The lines are built by hand rather than with encoding/json: the field
// order is part of the format, and at a million lines reflection would be
// most of an export's time.

// AppendHeader appends the JSON Lines header line of h.
func AppendHeader(dst []byte, h Header) []byte {
	dst = append(dst, `{"type":"header","format":`...)
	dst = AppendString(dst, Format)
	dst = append(dst, `,"batch":`...)
	dst = AppendString(dst, h.Batch)
	dst = append(dst, `,"sku":`...)
	dst = AppendString(dst, h.SKU)
	dst = append(dst, `,"template":`...)
	dst = AppendString(dst, h.Template)
	dst = append(dst, `,"key_version":`...)
	dst = strconv.AppendUint(dst, uint64(h.KeyVersion), 10)
	dst = append(dst, `,"target":`...)
	dst = strconv.AppendInt(dst, int64(h.Target), 10)
	dst = append(dst, `,"station":`...)
	dst = AppendString(dst, h.Station)
	dst = append(dst, `,"since":`...)
	dst = strconv.AppendUint(dst, h.Since, 10)
	if h.KDF != "" {
		dst = append(dst, `,"kdf":`...)
		dst = AppendString(dst, h.KDF)
	}
	if h.Test {
		dst = append(dst, `,"test":true`...)
	}
	if h.Simulated {
		dst = append(dst, `,"simulated":true`...)
	}
	return append(dst, "}\n"...)
}

// AppendRecord appends the record line of b, its '\n' included
// (MANIFEST.md, "Records"): the same bytes in a manifest and in a sync
// chunk.
func AppendRecord(dst []byte, b *Binding) []byte {
	dst = append(dst, `{"type":"binding","seq":`...)
	dst = strconv.AppendUint(dst, b.Seq, 10)
	dst = append(dst, `,"uid":`...)
	dst = AppendString(dst, string(b.UID))
	dst = append(dst, `,"sku":`...)
	dst = AppendString(dst, b.SKU)
	dst = append(dst, `,"batch_id":`...)
	dst = AppendString(dst, b.BatchID)
	dst = append(dst, `,"station_id":`...)
	dst = AppendString(dst, b.StationID)
	dst = append(dst, `,"key_version":`...)
	dst = strconv.AppendUint(dst, uint64(b.KeyVersion), 10)
	dst = append(dst, `,"master_kcv":`...)
	dst = AppendString(dst, b.MasterKCV)
	dst = append(dst, `,"template_hash":`...)
	dst = AppendString(dst, b.TemplateHash)
	dst = append(dst, `,"outcome":`...)
	dst = AppendString(dst, string(b.Outcome))
	dst = append(dst, `,"attempts":`...)
	dst = strconv.AppendInt(dst, int64(b.Attempts), 10)
	dst = append(dst, `,"read_ctr":`...)
	dst = strconv.AppendUint(dst, uint64(b.ReadCtr), 10)
	dst = append(dst, `,"started_at":"`...)
	dst = appendTime(dst, b.StartedAt)
	dst = append(dst, `","completed_at":"`...)
	dst = appendTime(dst, b.CompletedAt)
	if b.Simulated {
		// Only when set, so that real records keep their bytes.
		return append(dst, "\",\"simulated\":true}\n"...)
	}
	return append(dst, "\"}\n"...)
}

// AppendTrailer appends the JSON Lines trailer line of s.
func AppendTrailer(dst []byte, s Summary) []byte {
	dst = append(dst, `{"type":"trailer","count":`...)
	dst = strconv.AppendInt(dst, int64(s.Count), 10)
	dst = append(dst, `,"sha256":"`...)
	dst = append(dst, s.SHA256...)
	dst = append(dst, `","next_since":`...)
	dst = strconv.AppendUint(dst, s.NextSince, 10)
	return append(dst, "}\n"...)
}

func appendTime(dst []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(dst, time.RFC3339Nano)
}

const hexDigits = "0123456789abcdef"

// AppendString writes s as a JSON string the way every line does: invalid
// UTF-8 becomes U+FFFD, as encoding/json does, control characters are
// escaped, and nothing is HTML-escaped.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			dst = appendASCII(dst, c)
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

func appendASCII(dst []byte, c byte) []byte {
	switch {
	case c == '"' || c == '\\':
		return append(dst, '\\', c)
	case c == '\n':
		return append(dst, '\\', 'n')
	case c == '\r':
		return append(dst, '\\', 'r')
	case c == '\t':
		return append(dst, '\\', 't')
	case c < 0x20:
		return append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
	}
	return append(dst, c)
}
