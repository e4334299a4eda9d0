package manifest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// sameAsJSON checks decodeRecord against json.Unmarshal, the decoder it
// stands in for: whatever line decodeRecord takes, json.Unmarshal takes
// too and decodes to the same record. A line decodeRecord leaves goes to
// json.Unmarshal itself. It reports whether decodeRecord took the line.
func sameAsJSON(t *testing.T, line []byte, prev *Binding) bool {
	t.Helper()
	if !utf8.Valid(line) { // ParseChunk refuses the line before decoding
		return false
	}
	var fast, slow wireRecord
	if !decodeRecord(line, &fast, prev) {
		return false
	}
	if err := json.Unmarshal(line, &slow); err != nil {
		t.Fatalf("decodeRecord takes a line json.Unmarshal refuses (%v):\n%q", err, line)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("decodeRecord and json.Unmarshal differ on\n%q:\n%+v\n%+v", line, fast, slow)
	}
	return true
}

// corpusLines are the lines of the parser's fuzz corpus (the seeds in
// testdata and those FuzzParseChunk adds), with lines written to probe
// what json.Unmarshal does beyond the plain form.
func corpusLines(t testing.TB) [][]byte {
	t.Helper()
	var bodies [][]byte
	files, err := filepath.Glob("testdata/fuzz/FuzzParseChunk/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fuzz corpus: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if q, ok := strings.CutPrefix(l, "[]byte("); ok {
				s, err := strconv.Unquote(strings.TrimSuffix(q, ")"))
				if err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				bodies = append(bodies, []byte(s))
			}
		}
	}
	at := time.Date(2026, 12, 4, 11, 0, 0, 0, time.UTC)
	good := Binding{UID: "04A1B2C3D4E5F6", SKU: "CAP-30-BLUE", BatchID: "b1", StationID: "line-1", KeyVersion: 1,
		MasterKCV: "A1B2C3", TemplateHash: strings.Repeat("ab", 32), Outcome: Verified, Attempts: 1, ReadCtr: 1,
		StartedAt: at, CompletedAt: at.Add(time.Second), Seq: 7}
	second := good
	second.Seq, second.SKU, second.Outcome, second.Simulated = 8, `Cap "Ø" 30mm, blue\`, Encoded, true
	second.StartedAt = time.Date(2026, 12, 4, 12, 0, 0, 123456789, time.FixedZone("", 3600))
	body, _ := AppendChunk(nil, "line-1", "", 6, []Binding{good, second})
	bodies = append(bodies, body)
	var lines [][]byte
	for _, b := range bodies {
		for _, l := range bytes.SplitAfter(b, []byte("\n")) {
			if len(l) > 0 {
				lines = append(lines, l)
			}
		}
	}
	plain := string(AppendRecord(nil, &good))
	for _, r := range [][2]string{
		{`"uid":`, `"UID":`}, {`"sku":`, `"ſku":`}, {`"seq":7`, `"seq":7.0`}, {`"seq":7`, `"seq":7e0`}, {`"seq":7`, `"seq":-0`},
		{`"seq":7`, `"seq":null`}, {`"seq":7`, `"seq":"7"`}, {`"seq":7`, `"seq":07`}, {`"seq":7`, `"seq":18446744073709551616`},
		{`"seq":7`, `"seq":18446744073709551615`}, {`"key_version":1`, `"key_version":255`}, {`"key_version":1`, `"key_version":256`},
		{`"read_ctr":1`, `"read_ctr":4294967295`}, {`"read_ctr":1`, `"read_ctr":4294967296`}, {`"attempts":1`, `"attempts":-1`},
		{`"attempts":1`, `"attempts":9223372036854775807`}, {`"attempts":1`, `"attempts":9223372036854775808`},
		{`"sku":"CAP-30-BLUE"`, `"sku":"CAP\u002d30"`}, {`"sku":"CAP-30-BLUE"`, `"sku":null`}, {`"sku":"CAP-30-BLUE"`, `"sku":1`},
		{`"sku":"CAP-30-BLUE"`, `"sku":"CAP","sku":"CUP"`}, {`"sku":"CAP-30-BLUE"`, `"sku":"Ø\u2028"`},
		{`"outcome":"verified"`, `"outcome":"verified","extra":{"a":[1,2]}`}, {`,"seq"`, ` , "seq" `}, {`:`, ` : `},
		{`"completed_at":"2026-12-04T11:00:01Z"`, `"completed_at":"2026-12-04T11:00:01+01:00"`},
		{`"completed_at":"2026-12-04T11:00:01Z"`, `"completed_at":"2026-12-04 11:00:01Z"`},
		{`"completed_at":"2026-12-04T11:00:01Z"`, `"completed_at":null`}, {`"completed_at":"2026-12-04T11:00:01Z"`, `"completed_at":"\u0032026-12-04T11:00:01Z"`},
		{`"}`, `","simulated":true}`}, {`"}`, `","simulated":false}`}, {`"}`, `","simulated":null}`}, {`"}`, `","simulated":tru}`},
		{`"}`, `"}  `}, {`"}`, `"}x`}, {`"}`, `"},`}, {`{`, ` {`}, {`{`, `[{`},
	} {
		lines = append(lines, []byte(strings.Replace(plain, r[0], r[1], 1)))
	}
	return append(lines, []byte("{}\n"), []byte("null\n"), []byte("{\"type\":\"binding\"}"), []byte("\n"), []byte(`{"type":"trailer","count":0}`))
}

// Over the corpus and every one-byte change of its lines, decodeRecord
// never takes a line to another record than json.Unmarshal.
func TestDecodeRecordAsJSON(t *testing.T) {
	lines := corpusLines(t)
	marks := []byte("\"\\{}[]:,0159-+.eEntfux \t\n\x7f\x00")
	taken, tried := 0, 0
	try := func(l []byte, prev *Binding) {
		tried++
		if sameAsJSON(t, l, prev) {
			taken++
		}
	}
	for _, l := range lines {
		var prev wireRecord
		json.Unmarshal(l, &prev)
		try(l, nil)
		try(l, &prev.Binding)
		for i := range l {
			try(append(l[:i:i], l[i+1:]...), nil)
			for _, c := range marks {
				m := append(append(l[:i:i], c), l[i:]...)
				try(m, nil)
				m = append(l[:i:i], l[i:]...)
				m[i] = c
				try(m, &prev.Binding)
			}
		}
	}
	if taken < len(lines)/2 {
		t.Fatalf("decodeRecord took %d of %d lines: the comparison says little", taken, tried)
	}
	t.Logf("decodeRecord took %d of %d lines, each as json.Unmarshal decodes it", taken, tried)
}

// FuzzDecodeRecord compares decodeRecord with json.Unmarshal on any line.
func FuzzDecodeRecord(f *testing.F) {
	for _, l := range corpusLines(f) {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, line []byte) { sameAsJSON(t, line, nil) })
}
