package manifest_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tagline-station/tagline/manifest"
)

// FuzzParseChunk feeds arbitrary bodies to the receiver's parser. Seeds:
// f.Add of chunks AppendChunk writes, and testdata/fuzz/FuzzParseChunk.
// Whatever the input, ParseChunkWith must not panic, must refuse with
// ErrChunk only, and whatever it accepts must hold the promised
// properties and survive a round trip through AppendChunk unchanged.
func FuzzParseChunk(f *testing.F) {
	good := goodRecord()
	second := goodRecordSeq(8)
	second.SKU, second.Outcome = `Cap "Ø" 30mm, blue\`, manifest.Encoded
	for _, bs := range [][]manifest.Binding{{good}, {good, second}, nil} {
		body, _ := manifest.AppendChunk(nil, station, "", 6, bs)
		f.Add(body)
	}
	lim := manifest.Limits{MaxRecords: 16, Now: func() time.Time { return validateNow }}
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := manifest.ParseChunk(bytes.NewReader(body), lim)
		if err != nil {
			if !errors.Is(err, manifest.ErrChunk) {
				t.Fatalf("an error that is not ErrChunk: %v", err)
			}
			if len(err.Error()) > 1024 {
				t.Fatalf("an error of %d bytes echoes the input", len(err.Error()))
			}
			return
		}
		checkChunk(t, c)
		bs := make([]manifest.Binding, len(c.Records))
		for i := range c.Records {
			bs[i] = c.Records[i].Binding
		}
		again, _ := manifest.AppendChunk(nil, c.Station, "", c.Since, bs)
		c2, err := manifest.ParseChunk(bytes.NewReader(again), lim)
		if err != nil {
			t.Fatalf("an accepted chunk written again is refused: %v\n%s", err, again)
		}
		if c2.Station != c.Station || c2.Since != c.Since || c2.NextSince != c.NextSince || len(c2.Records) != len(c.Records) {
			t.Fatalf("round trip: %+v vs %+v", c2, c)
		}
		for i := range c.Records {
			if !sameBinding(&c.Records[i].Binding, &c2.Records[i].Binding) {
				t.Fatalf("record %d: %+v vs %+v", i, c.Records[i].Binding, c2.Records[i].Binding)
			}
		}
	})
}

// checkChunk asserts what ParseChunk promises of an accepted chunk.
func checkChunk(t *testing.T, c *manifest.Chunk) {
	t.Helper()
	h := sha256.New()
	last := c.Since
	for i := range c.Records {
		r := &c.Records[i]
		switch {
		case r.Seq <= last || r.Seq > manifest.MaxSeq:
			t.Fatalf("record %d: seq %d after %d", i, r.Seq, last)
		case r.StationID != c.Station:
			t.Fatalf("record %d: station %q in a chunk of %q", i, r.StationID, c.Station)
		case len(r.UID) != 14 || strings.ToUpper(string(r.UID)) != string(r.UID):
			t.Fatalf("record %d: uid %q", i, r.UID)
		case r.ReadCtr > manifest.MaxReadCtr || r.KeyVersion == 0:
			t.Fatalf("record %d: read_ctr %d key_version %d", i, r.ReadCtr, r.KeyVersion)
		case len(r.SKU) == 0 || len(r.SKU) > manifest.MaxNameLen || strings.ContainsAny(r.SKU+r.BatchID+r.StationID, "\x00\t\r\n\x7f"):
			t.Fatalf("record %d: text %q %q", i, r.SKU, r.BatchID)
		case r.CompletedAt.After(validateNow.Add(manifest.DefaultClockSkew)):
			t.Fatalf("record %d: completed_at %v ahead", i, r.CompletedAt)
		case len(r.Line) == 0 || r.Line[len(r.Line)-1] != '\n':
			t.Fatalf("record %d: line %q", i, r.Line)
		}
		last = r.Seq
		h.Write(r.Line)
	}
	if c.NextSince != last || c.SHA256 != hex.EncodeToString(h.Sum(nil)) {
		t.Fatalf("next_since %d (last %d), sha256 %s", c.NextSince, last, c.SHA256)
	}
}

func sameBinding(a, b *manifest.Binding) bool {
	x, y := *a, *b
	if !x.CompletedAt.Equal(y.CompletedAt) || !x.StartedAt.Equal(y.StartedAt) {
		return false
	}
	x.CompletedAt, y.CompletedAt, x.StartedAt, y.StartedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return x == y
}
