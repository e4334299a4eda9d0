package manifest_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tagline-station/tagline/manifest"
)

// station names the sending station of the chunks these tests build.
const station = "line-1"

var validateNow = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

func goodRecord() manifest.Binding {
	at := validateNow.Add(-time.Hour)
	return manifest.Binding{
		UID: "04A1B2C3D4E5F6", SKU: "CAP-30-BLUE", BatchID: "b1", StationID: station, KeyVersion: 1,
		MasterKCV: "A1B2C3", TemplateHash: strings.Repeat("ab", 32), Outcome: manifest.Verified,
		Attempts: 1, ReadCtr: 1, StartedAt: at, CompletedAt: at.Add(time.Second), Seq: 7,
	}
}

func parseAt(body []byte) (*manifest.Chunk, error) {
	return manifest.ParseChunk(strings.NewReader(string(body)), manifest.Limits{Now: func() time.Time { return validateNow }})
}

// Each record rule refuses the whole chunk with a message naming the
// field, before anything could be stored.
func TestRecordRules(t *testing.T) {
	good := goodRecord()
	body, _ := manifest.AppendChunk(nil, station, "", 6, []manifest.Binding{good})
	if _, err := parseAt(body); err != nil {
		t.Fatalf("a good record: %v", err)
	}
	cases := []struct {
		name string
		mod  func(b *manifest.Binding)
		want string
	}{
		{"read counter exhausted", func(b *manifest.Binding) { b.ReadCtr = 0xFFFFFF }, "read_ctr 16777215"},
		{"read counter above 24 bits", func(b *manifest.Binding) { b.ReadCtr = 1 << 30 }, "read_ctr"},
		{"completed in 2200", func(b *manifest.Binding) { b.CompletedAt = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC) }, "clock is ahead: completed_at 2200-01-01T00:00:00Z"},
		{"started ahead", func(b *manifest.Binding) { b.StartedAt = validateNow.Add(6 * time.Minute) }, "clock is ahead: started_at"},
		{"no completed_at", func(b *manifest.Binding) { b.CompletedAt = time.Time{} }, "no completed_at"},
		{"tab in sku", func(b *manifest.Binding) { b.SKU = "CAP\t30" }, "sku holds a control"},
		{"newline in batch", func(b *manifest.Binding) { b.BatchID = "b\n1" }, "batch_id holds a control"},
		{"non-printable in sku", func(b *manifest.Binding) { b.SKU = "CAP\u200b30" }, "non-printable"},
		{"del in sku", func(b *manifest.Binding) { b.SKU = "CAP\x7f" }, "sku holds a control"},
		{"10 kB sku", func(b *manifest.Binding) { b.SKU = strings.Repeat("A", 10<<10) }, "sku of 10240 bytes; at most 64"},
		{"65-byte sku", func(b *manifest.Binding) { b.SKU = strings.Repeat("A", 65) }, "at most 64"},
		{"long batch", func(b *manifest.Binding) { b.BatchID = strings.Repeat("b", 65) }, "batch_id of 65 bytes"},
		{"empty sku", func(b *manifest.Binding) { b.SKU = "" }, "empty sku"},
		{"empty batch", func(b *manifest.Binding) { b.BatchID = "" }, "empty batch_id"},
		{"seq 2^64-1", func(b *manifest.Binding) { b.Seq = 1<<64 - 1 }, "seq 18446744073709551615 is out of range"},
		{"seq 0", func(b *manifest.Binding) { b.Seq = 0 }, "seq 0 is not above 0"},
		{"seq 2^63", func(b *manifest.Binding) { b.Seq = 1 << 63 }, "out of range"},
		{"key version 0", func(b *manifest.Binding) { b.KeyVersion = 0 }, "key_version 0"},
		{"4-byte uid", func(b *manifest.Binding) { b.UID = "04A1B2C3" }, "not 7 bytes"},
		{"10-byte uid", func(b *manifest.Binding) { b.UID = "04A1B2C3D4E5F6070809" }, "not 7 bytes"},
		{"lower-case uid", func(b *manifest.Binding) { b.UID = "04a1b2c3d4e5f6" }, "not 7 bytes of upper-case hex"},
		{"separators in uid", func(b *manifest.Binding) { b.UID = "04:A1:B2:C3:D4" }, "not 7 bytes"},
		{"outcome", func(b *manifest.Binding) { b.Outcome = "verifhed" }, `outcome "verifhed"`},
		{"failed outcome", func(b *manifest.Binding) { b.Outcome = manifest.Failed }, "outcome"},
		{"negative attempts", func(b *manifest.Binding) { b.Attempts = -1 }, "attempts -1"},
		{"key-sized kcv", func(b *manifest.Binding) { b.MasterKCV = "00112233445566778899AABBCCDDEEFF" }, "master_kcv"},
		{"kcv not hex", func(b *manifest.Binding) { b.MasterKCV = "A1B2XX" }, "master_kcv"},
		{"template hash", func(b *manifest.Binding) { b.TemplateHash = "abc" }, "template_hash"},
	}
	for _, c := range cases {
		b := goodRecord()
		c.mod(&b)
		body, _ := manifest.AppendChunk(nil, station, "", 0, []manifest.Binding{goodRecordSeq(1), b})
		if b.Seq <= 1 {
			body, _ = manifest.AppendChunk(nil, station, "", 0, []manifest.Binding{b})
		}
		_, err := parseAt(body)
		if !errors.Is(err, manifest.ErrChunk) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an manifest.ErrChunk saying %q", c.name, err, c.want)
			continue
		}
		if strings.Contains(c.name, "ahead") || strings.Contains(c.name, "2200") {
			if !errors.Is(err, manifest.ErrClockAhead) {
				t.Errorf("%s: %v does not wrap manifest.ErrClockAhead", c.name, err)
			}
		}
		if len(err.Error()) > 600 {
			t.Errorf("%s: error of %d bytes echoes the input", c.name, len(err.Error()))
		}
	}
	// Within the skew is accepted: a station a few minutes ahead.
	b := goodRecord()
	b.CompletedAt = validateNow.Add(4 * time.Minute)
	if body, _ := manifest.AppendChunk(nil, station, "", 0, []manifest.Binding{b}); true {
		if _, err := parseAt(body); err != nil {
			t.Errorf("4 minutes ahead: %v", err)
		}
	}
}

func goodRecordSeq(seq uint64) manifest.Binding {
	b := goodRecord()
	b.Seq = seq
	b.UID = "04000000000001"
	return b
}

// The header's station and since follow the same rules.
func TestHeaderRules(t *testing.T) {
	good := string(mustChunk(t, goodRecord()))
	for _, c := range []struct{ name, body, want string }{
		{"control in station", strings.Replace(good, `"station":"line-1"`, `"station":"line\u00001"`, 1), "header: station holds a control"},
		{"long station", strings.Replace(good, `"station":"line-1"`, `"station":"`+strings.Repeat("s", 65)+`"`, 1), "header: station of 65 bytes"},
		{"since 2^64-1", strings.Replace(good, `"since":6`, `"since":18446744073709551615`, 1), "since 18446744073709551615 is above 2^63-1"},
		{"invalid utf-8", strings.Replace(good, `"sku":"CAP-30-BLUE"`, "\"sku\":\"CAP-30-\xff\"", 1), "line 2 is not valid UTF-8"},
	} {
		if _, err := parseAt([]byte(c.body)); !errors.Is(err, manifest.ErrChunk) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

func mustChunk(t *testing.T, b manifest.Binding) []byte {
	t.Helper()
	body, _ := manifest.AppendChunk(nil, station, "", 6, []manifest.Binding{b})
	return body
}
