package pgstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/tagline-station/tagline/internal/pgtest"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/serve/store"
	"github.com/tagline-station/tagline/serve/store/pgstore"
)

// ingestChunks is a station's journal of n bindings as the sync chunks it
// sends (size records each, serve's default limit being 10,000).
func ingestChunks(n, size int) [][]byte {
	at := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	var out [][]byte
	for first := 1; first <= n; first += size {
		var bs []manifest.Binding
		for seq := first; seq < first+size && seq <= n; seq++ {
			bs = append(bs, manifest.Binding{
				UID: manifest.UID(fmt.Sprintf("04%012X", seq)), SKU: "SKU-BULK", BatchID: fmt.Sprintf("b%d", seq/100000),
				StationID: "line-1", KeyVersion: 1, MasterKCV: "A1B2C3", TemplateHash: "ef45" + fmt.Sprintf("%060d", 0),
				Outcome: manifest.Verified, Attempts: 1, ReadCtr: 1, StartedAt: at, CompletedAt: at.Add(time.Second), Seq: uint64(seq),
			})
		}
		body, _ := manifest.AppendChunk(nil, "line-1", "", uint64(first-1), bs)
		out = append(out, body)
	}
	return out
}

// BenchmarkIngestManifest1M ingests a 1,000,000-binding journal into a
// fresh database the way serve's sync handler does: each 10,000-record
// chunk parsed and checked by manifest.ParseChunk, then applied by
// ApplySync in one transaction (records, bindings, conflicts, ack).
//
//	go test -run '^$' -bench IngestManifest1M -benchtime 1x ./serve/store/pgstore/
func BenchmarkIngestManifest1M(b *testing.B) {
	const n, size = 1_000_000, 10_000
	chunks := ingestChunks(n, size)
	pg := pgtest.Start(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		// The store as serve opens it: its connection settings, and the
		// online migrations (the indexes the ingest keeps up) run.
		st, err := pgstore.New(ctx, pg.CreateDB(b, fmt.Sprintf("ingest%d", i)), pgstore.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := pgstore.Migrate(ctx, st.Pool(), true); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		for _, body := range chunks {
			c, err := manifest.ParseChunk(bytes.NewReader(body), manifest.Limits{MaxRecords: size})
			if err != nil {
				b.Fatal(err)
			}
			sum := sha256.Sum256(body)
			res, err := st.ApplySync(ctx, store.Upload{Key: fmt.Sprintf("line-1:%d-%d", c.Records[0].Seq, c.NextSince), BodySHA256: hex.EncodeToString(sum[:]), Chunk: c})
			if err != nil || res.Ack.Bindings != len(c.Records) {
				b.Fatalf("chunk after %d: %+v %v", c.Since, res.Ack, err)
			}
		}
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "bindings/s")
		b.StopTimer()
		st.Close()
		b.StartTimer()
	}
}
