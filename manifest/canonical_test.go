package manifest

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// canonicalSeeds are record lines as AppendRecord writes them and near
// misses of each kind the fast path must decline or read as encoding/json
// does.
func canonicalSeeds() []string {
	at := time.Date(2026, 12, 5, 8, 0, 0, 123456789, time.UTC)
	b := Binding{UID: "04A1B2C3D4E5F6", SKU: "Café-1", BatchID: "b1", StationID: "line-1", KeyVersion: 1, MasterKCV: "A1B2C3",
		TemplateHash: strings.Repeat("ef", 32), Outcome: Verified, Attempts: 2, ReadCtr: 1, StartedAt: at, CompletedAt: at.Add(time.Second), Seq: 42}
	good := string(AppendRecord(nil, &b))
	sim := b
	sim.Simulated = true
	return []string{
		good,
		string(AppendRecord(nil, &sim)),
		strings.Replace(good, `"seq":42`, `"seq":042`, 1),
		strings.Replace(good, `"seq":42`, `"seq":-42`, 1),
		strings.Replace(good, `"seq":42`, `"seq":18446744073709551616`, 1),
		strings.Replace(good, `"key_version":1`, `"key_version":256`, 1),
		strings.Replace(good, `"attempts":2`, `"attempts":-0`, 1),
		strings.Replace(good, `"attempts":2`, `"attempts":2e0`, 1),
		strings.Replace(good, `"read_ctr":1`, `"read_ctr":4294967296`, 1),
		strings.Replace(good, `"sku":"Café-1"`, `"sku":"Caf\u00e9-1"`, 1),
		strings.Replace(good, `"sku":"Café-1"`, `"sku":"Caf`+"\xff"+`"`, 1),
		strings.Replace(good, `"started_at":"2026-12-05T08:00:00.123456789Z"`, `"started_at":"2026-12-05T10:00:00.1+02:00"`, 1),
		strings.Replace(good, `"started_at":"2026-12-05T08:00:00.123456789Z"`, `"started_at":"2026-12-05 08:00:00Z"`, 1),
		strings.Replace(good, `"uid":`, `"UID":`, 1),
		strings.Replace(good, "}\n", `,"sku":"other"}`+"\n", 1),
		strings.Replace(good, "}\n", "} \n", 1),
		strings.Replace(good, "}\n", `,"simulated":false}`+"\n", 1),
		`{"type":"trailer","count":1,"sha256":"00","next_since":42}` + "\n",
	}
}

// Whatever line the fast path reads, encoding/json reads the same
// binding from it.
func FuzzDecodeCanonical(f *testing.F) {
	for _, s := range canonicalSeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		b, ok := decodeCanonical(line)
		if !ok {
			return
		}
		var rec wireRecord
		if err := json.Unmarshal(line, &rec); err != nil || rec.Type != "binding" {
			t.Fatalf("fast path read %q, encoding/json: %v (type %q)", line, err, rec.Type)
		}
		want, got := rec.Binding, b
		if !want.StartedAt.Equal(got.StartedAt) || !want.CompletedAt.Equal(got.CompletedAt) ||
			want.StartedAt.String() != got.StartedAt.String() || want.CompletedAt.String() != got.CompletedAt.String() {
			t.Fatalf("times of %q: %v %v, want %v %v", line, got.StartedAt, got.CompletedAt, want.StartedAt, want.CompletedAt)
		}
		want.StartedAt, want.CompletedAt, got.StartedAt, got.CompletedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if want != got {
			t.Fatalf("%q: fast path %+v, encoding/json %+v", line, got, want)
		}
	})
}

// The lines AppendRecord writes take the fast path, and so do the near
// misses whose values it reads as encoding/json does (-0, a time with an
// offset, parsed by time.Time itself); the others do not.
func TestCanonicalTakesAppendRecordsLines(t *testing.T) {
	seeds := canonicalSeeds()
	for i, s := range seeds {
		_, ok := decodeCanonical([]byte(s))
		want := i < 2 || strings.Contains(s, `"attempts":-0`) || strings.Contains(s, `+02:00`)
		if ok != want {
			t.Errorf("seed %d %q: fast path %v, want %v", i, s, ok, want)
		}
	}
}
