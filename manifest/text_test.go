package manifest

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
)

func TestJSONStringEscaping(t *testing.T) {
	for _, s := range []string{"", "plain", `q"b\s`, "tab\tnl\ncr\r", "\x00\x01\x1f", "Ø€😀", "bad\xffutf8", "\u2028"} {
		var got string
		enc := AppendString(nil, s)
		if err := json.Unmarshal(enc, &got); err != nil {
			t.Fatalf("%q encodes to invalid JSON %s: %v", s, enc, err)
		}
		want := strings.ToValidUTF8(s, "\uFFFD")
		if got != want {
			t.Errorf("%q round-trips to %q", s, got)
		}
	}
}

func TestCSVFieldQuoting(t *testing.T) {
	fields := []string{"", "plain", "a,b", `q"q`, "line\nbreak", " lead", `\.`, "Ø"}
	var line []byte
	for i, f := range fields {
		if i > 0 {
			line = append(line, ',')
		}
		line = appendCSVField(line, f)
	}
	rec, err := csv.NewReader(bufio.NewReader(bytes.NewReader(append(line, '\n')))).Read()
	if err != nil || strings.Join(rec, "|") != strings.Join(fields, "|") {
		t.Fatalf("fields %q parse back as %q (%v)", fields, rec, err)
	}
}
