package batch

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tagline-station/tagline/manifest"
	bolt "go.etcd.io/bbolt"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if bigDir != "" {
		os.RemoveAll(bigDir)
	}
	os.Exit(code)
}

// benchUID spreads tag numbers over the UID space as real UIDs are spread
// (multiplication by an odd constant is a bijection modulo 2^48, so the
// UIDs stay distinct).
func benchUID(i uint64) manifest.UID {
	return manifest.UID(fmt.Sprintf("04%012X", (i*0x9E3779B97F4A7C15)&(1<<48-1)))
}

func benchStore(b *testing.B) *Store {
	b.Helper()
	s, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{StationID: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if _, err := s.CreateBatch(Batch{ID: "B", SKU: "SKU-BENCH", Target: 1_000_000, KeyVersion: 1}); err != nil {
		b.Fatal(err)
	}
	return s
}

// tag is one station cycle as the journal sees it: a durable intent, then
// (after the tag would have been written and read back) a durable binding.
func tag(s *Store, uid manifest.UID) (intent, complete time.Duration, err error) {
	t0 := time.Now()
	if err := s.BeginIntent(intentFor(uid, "B")); err != nil {
		return 0, 0, err
	}
	t1 := time.Now()
	err = s.Complete(bindingFor(uid))
	return t1.Sub(t0), time.Since(t1), err
}

func p99ms(d []time.Duration) float64 {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return float64(d[(len(d)*99)/100]) / float64(time.Millisecond)
}

func reportCommits(b *testing.B, n int, elapsed time.Duration, intents, completes []time.Duration) {
	b.ReportMetric(float64(n)/elapsed.Seconds(), "bindings/s")
	b.ReportMetric(p99ms(completes), "p99-ms")
	b.ReportMetric(p99ms(intents), "p99-intent-ms")
}

// BenchmarkCommitSingle: one goroutine, BeginIntent+Complete per tag, both
// fsynced.
func BenchmarkCommitSingle(b *testing.B) {
	s := benchStore(b)
	intents := make([]time.Duration, 0, b.N)
	completes := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		di, dc, err := tag(s, benchUID(uint64(i)))
		if err != nil {
			b.Fatal(err)
		}
		intents, completes = append(intents, di), append(completes, dc)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	reportCommits(b, b.N, elapsed, intents, completes)
}

// BenchmarkCommitParallel8: eight goroutines (eight reader slots) share one
// store; b.N tags in total.
func BenchmarkCommitParallel8(b *testing.B) {
	const workers = 8
	s := benchStore(b)
	var next atomic.Int64
	intents := make([][]time.Duration, workers)
	completes := make([][]time.Duration, workers)
	var wg sync.WaitGroup
	var failed atomic.Value
	b.ResetTimer()
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				di, dc, err := tag(s, benchUID(uint64(i)))
				if err != nil {
					failed.Store(err)
					return
				}
				intents[w] = append(intents[w], di)
				completes[w] = append(completes[w], dc)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err := failed.Load(); err != nil {
		b.Fatal(err)
	}
	reportCommits(b, b.N, elapsed, slices.Concat(intents...), slices.Concat(completes...))
}

// The 1M-binding journal is built once per test binary, outside any timer,
// in big NoSync transactions written in key order, and removed by TestMain.
var (
	bigOnce sync.Once
	bigDir  string
	bigPath string
	bigErr  error
)

const bigN = 1_000_000

func bigJournal(b *testing.B) string {
	bigOnce.Do(func() {
		start := time.Now()
		bigDir, bigErr = os.MkdirTemp("", "tagline-bench-*")
		if bigErr != nil {
			return
		}
		bigPath = filepath.Join(bigDir, "journal-1m.db")
		bigErr = buildBig(bigPath, bigN)
		b.Logf("built a %d-binding journal in %v", bigN, time.Since(start).Round(time.Millisecond))
	})
	if bigErr != nil {
		b.Fatal(bigErr)
	}
	return bigPath
}

func buildBig(path string, n int) error {
	s, err := Open(path, Options{StationID: "bench"})
	if err != nil {
		return err
	}
	defer s.Close()
	bt, err := s.CreateBatch(Batch{ID: "B1M", SKU: "SKU-BENCH", Target: n, Template: "ndef-v1", KeyVersion: 1})
	if err != nil {
		return err
	}
	uids := make([]manifest.UID, n+1) // by seq
	for seq := 1; seq <= n; seq++ {
		uids[seq] = benchUID(uint64(seq))
	}
	s.db.NoSync = true
	defer func() { s.db.NoSync = false }()
	const chunk = 100_000

	// Index and outbox in sequence order, bindings in UID order: every
	// bucket is then filled by appending, which bbolt does fastest.
	for lo := 1; lo <= n; lo += chunk {
		err := s.db.Update(func(tx *bolt.Tx) error {
			bk, _ := buckets(tx)
			idx := bk.index.Bucket([]byte(bt.ID))
			idx.FillPercent, bk.outbox.FillPercent = 1, 1
			for seq := lo; seq < lo+chunk && seq <= n; seq++ {
				k := seqKey(uint64(seq))
				if err := idx.Put(k, []byte(uids[seq])); err != nil {
					return err
				}
				if err := bk.outbox.Put(k, []byte(uids[seq])); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i + 1
	}
	sort.Slice(order, func(a, b int) bool { return uids[order[a]] < uids[order[b]] })
	base := time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC)
	for lo := 0; lo < n; lo += chunk {
		err := s.db.Update(func(tx *bolt.Tx) error {
			bk, _ := buckets(tx)
			bk.bindings.FillPercent = 1
			for _, seq := range order[lo:min(lo+chunk, n)] {
				at := base.Add(time.Duration(seq) * 7 * time.Millisecond)
				v := encodeBinding(&manifest.Binding{
					UID: uids[seq], SKU: bt.SKU, BatchID: bt.ID, StationID: "bench", KeyVersion: 1,
					MasterKCV: testKCV, TemplateHash: testTemplateHash, Outcome: manifest.Verified,
					Attempts: 1, ReadCtr: 1, StartedAt: at.Add(-412 * time.Millisecond), CompletedAt: at, Seq: uint64(seq),
				})
				if err := bk.bindings.Put([]byte(uids[seq]), v); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		bk, _ := buckets(tx)
		return bk.outbox.SetSequence(uint64(n))
	})
	if err != nil {
		return err
	}
	return s.db.Sync()
}

// BenchmarkExport1M streams the manifest of a 1,000,000-binding batch to
// io.Discard.
//
// MB-heap is the growth of the live heap (as marked by each garbage
// collection during the export) over the live heap before it: what the
// export keeps, which stays flat whatever the batch size. MB-inuse is the
// peak growth of HeapInuse, which also counts garbage not yet collected
// and so follows the GC pacer (about the size of the live heap) rather
// than the export.
func BenchmarkExport1M(b *testing.B) {
	path := bigJournal(b)
	s, err := Open(path, Options{StationID: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()

	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	live := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	baseLive, baseInuse := live(), ms.HeapInuse
	var peakLive, peakInuse atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			peakInuse.Store(max(peakInuse.Load(), m.HeapInuse))
			peakLive.Store(max(peakLive.Load(), live()))
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()

	b.ResetTimer()
	start := time.Now()
	for range b.N {
		sum, err := s.Export(io.Discard, "B1M", ExportOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if sum.Count != bigN {
			b.Fatalf("exported %d records", sum.Count)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	close(stop)
	<-sampled
	mb := func(peak, base uint64) float64 { return float64(max(int64(peak)-int64(base), 0)) / (1 << 20) }
	b.ReportMetric(elapsed.Seconds()/float64(b.N), "s/export")
	b.ReportMetric(mb(peakLive.Load(), baseLive), "MB-heap")
	b.ReportMetric(mb(peakInuse.Load(), baseInuse), "MB-inuse")
}
