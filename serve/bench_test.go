package serve_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tagline-station/tagline/internal/pgtest"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/sdm"
	"github.com/tagline-station/tagline/serve"
	"github.com/tagline-station/tagline/serve/store/boltstore"
)

// benchUIDs is the number of tags the load spreads over. URL i is tag
// i%benchUIDs at counter 2+i/benchUIDs, so two URLs of one tag are
// benchUIDs requests apart and every tap of the run is genuine.
const benchUIDs = 4096

// benchConns is the number of requests in flight for the http1 and h2c
// clients: by Little's law it bounds the latency at a given rate, so it is
// kept to what a p99 of a few milliseconds at 20,000 taps/s allows.
const benchConns = 24

// BenchmarkTaps measures verified taps over real HTTP on 127.0.0.1: the
// server (its SUN verification and its store, with every accepted counter
// durable before the answer) and a Go load generator share this
// machine's cores. Reported: taps/s, p50-ms and p99-ms of the
// request-to-answer time seen by the client, and for bbolt taps/commit.
//
// Clients:
//
//	http1     net/http client, 24 connections, one request at a time each
//	h2c       net/http client over unencrypted HTTP/2, 24 concurrent streams
//	raw16,24, a minimal hand-written HTTP/1.1 client (keep-alive, no
//	raw32,64  pipelining), 16, 24, 32 or 64 connections, one request at a time each
//
// and, for the cost of the HTTP stack alone, http1/healthz (GET /healthz).
// On a 2-core virtual machine the client's CPU is a large part of the
// total: net/http's client costs about as much as the whole server, hence
// the raw clients.
//
//	go test -run '^$' -bench BenchmarkTaps -benchtime 5s ./serve/
func BenchmarkTaps(b *testing.B) {
	clients := []string{"http1", "h2c", "raw16", "raw24", "raw32", "raw64"}
	b.Run("store=bolt", func(b *testing.B) {
		cfg := baseConfig(b)
		cfg.DBPath = filepath.Join(b.TempDir(), "serve.db")
		base, srv := benchServer(b, cfg)
		for _, c := range clients {
			b.Run("client="+c, func(b *testing.B) { runTaps(b, base, srv, c) })
		}
		b.Run("client=http1/healthz", func(b *testing.B) { runTaps(b, base, srv, "healthz") })
	})
	b.Run("store=postgres", func(b *testing.B) {
		pg := pgtest.Start(b)
		cfg := baseConfig(b)
		cfg.PostgresURL = pg.CreateDB(b, "bench")
		cfg.PGMaxConns = 32
		base, srv := benchServer(b, cfg)
		for _, c := range clients {
			b.Run("client="+c, func(b *testing.B) { runTaps(b, base, srv, c) })
		}
	})
}

// benchServer serves cfg on a loopback listener, with benchUIDs tags
// synced in.
func benchServer(b *testing.B, cfg serve.Config) (string, *serve.Server) {
	s, err := serve.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx, ln); close(done) }()
	b.Cleanup(func() { cancel(); <-done; s.Close() })
	base := "http://" + ln.Addr().String()
	bs := bindings(benchUIDs, "SKU-A")
	for i := 0; i < len(bs); i += 1000 {
		end := min(i+1000, len(bs))
		if code, _, _ := upload(b, base, syncToken, uint64(i), bs[i:end]); code != 200 {
			b.Fatalf("upload: %d", code)
		}
	}
	return base, s
}

// urlMaker makes SUN URLs of tmplPlain with the sdm functions directly.
type urlMaker struct {
	d    *keys.Deriver
	file []keys.Key // file-read key per tag, derived once
	next int        // counter offset: each run continues above the last
}

var makers sync.Map // *serve.Server -> *urlMaker

func maker(b *testing.B, srv *serve.Server) *urlMaker {
	if m, ok := makers.Load(srv); ok {
		return m.(*urlMaker)
	}
	m := &urlMaker{d: deriver(b, 1), file: make([]keys.Key, benchUIDs)}
	for i := range m.file {
		k, err := m.d.FileRead(testUID(i))
		if err != nil {
			b.Fatal(err)
		}
		m.file[i] = k
	}
	makers.Store(srv, m)
	return m
}

// targets returns n distinct request targets (path and query), the first
// of counters above every earlier call's.
func (m *urlMaker) targets(b *testing.B, n int) []string {
	out := make([]string, n)
	base := m.next
	m.next += n/benchUIDs + 1
	var wg sync.WaitGroup
	per := (n + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0)
	for lo := 0; lo < n; lo += per {
		hi := min(lo+per, n)
		wg.Go(func() {
			buf := make([]byte, 0, 128)
			for i := lo; i < hi; i++ {
				t := i % benchUIDs
				uid := testUID(t)
				ctr := sdm.Counter(2 + base + i/benchUIDs)
				rnd := []byte{byte(i), byte(i >> 8), byte(i >> 16), 0x5A, 0xA5}
				picc := sdm.EncryptPICCData(m.d.MetaRead(), uid, ctr, true, true, rnd)
				mac := sdm.MAC(m.file[t], uid, ctr, nil)
				buf = append(buf[:0], "/t?picc_data="...)
				buf = appendHexUpper(buf, picc[:])
				buf = append(buf, "&cmac="...)
				buf = appendHexUpper(buf, mac[:])
				out[i] = string(buf)
			}
		})
	}
	wg.Wait()
	return out
}

func runTaps(b *testing.B, base string, srv *serve.Server, client string) {
	var targets []string
	if client == "healthz" {
		targets = slices.Repeat([]string{"/healthz"}, b.N)
	} else {
		targets = maker(b, srv).targets(b, b.N)
	}
	lat := make([]time.Duration, b.N)
	var next, genuine atomic.Int64
	var commits0, taps0 uint64
	bolt, _ := srv.Store().(*boltstore.Store)
	if bolt != nil {
		commits0, taps0, _ = bolt.Stats()
	}
	cpu0 := cpuTime()
	var wg sync.WaitGroup
	var failed atomic.Value
	fail := func(err error) { failed.CompareAndSwap(nil, err) }

	switch client {
	case "http1", "healthz", "h2c":
		workers := benchConns
		tr := &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers}
		if client == "h2c" {
			var p http.Protocols
			p.SetUnencryptedHTTP2(true)
			tr.Protocols = &p
		}
		defer tr.CloseIdleConnections()
		c := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		b.ResetTimer()
		for range workers {
			wg.Go(func() {
				for {
					i := int(next.Add(1) - 1)
					if i >= b.N || failed.Load() != nil {
						return
					}
					req, _ := http.NewRequest("GET", base+targets[i], nil)
					req.Header.Set("Accept", "application/json")
					t0 := time.Now()
					resp, err := c.Do(req)
					if err != nil {
						fail(err)
						return
					}
					body, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					lat[i] = time.Since(t0)
					if err != nil {
						fail(err)
						return
					}
					if bytes.Contains(body, []byte(`"genuine"`)) || (client == "healthz" && resp.StatusCode == 200) {
						genuine.Add(1)
					}
				}
			})
		}
	case "raw16", "raw24", "raw32", "raw64":
		conns, _ := strconv.Atoi(client[3:])
		const depth = 1 // one request at a time per connection: no pipelining
		addr := strings.TrimPrefix(base, "http://")
		b.ResetTimer()
		for range conns {
			wg.Go(func() {
				conn, err := net.Dial("tcp", addr)
				if err != nil {
					fail(err)
					return
				}
				defer conn.Close()
				br := bufio.NewReaderSize(conn, 64<<10)
				var out []byte
				for {
					lo := int(next.Add(int64(depth)) - int64(depth))
					if lo >= b.N || failed.Load() != nil {
						return
					}
					hi := min(lo+depth, b.N)
					out = out[:0]
					for i := lo; i < hi; i++ {
						out = append(out, "GET "...)
						out = append(out, targets[i]...)
						out = append(out, " HTTP/1.1\r\nHost: bench\r\nAccept: application/json\r\n\r\n"...)
					}
					t0 := time.Now()
					if _, err := conn.Write(out); err != nil {
						fail(err)
						return
					}
					for i := lo; i < hi; i++ {
						body, err := readResponse(br)
						if err != nil {
							fail(err)
							return
						}
						lat[i] = time.Since(t0)
						if bytes.Contains(body, []byte(`"genuine"`)) {
							genuine.Add(1)
						}
					}
				}
			})
		}
	}
	wg.Wait()
	b.StopTimer()
	cpu := cpuTime() - cpu0
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	el := b.Elapsed().Seconds()
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / 1e6 }
	b.ReportMetric(float64(b.N)/el, "taps/s")
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
	// CPU time of this process (server and load generator together) per
	// tap: with other work on the machine, taps/s says how much CPU this
	// run got, cpu-µs/tap what a tap costs.
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/tap")
	if bolt != nil && client != "healthz" {
		c1, t1, _ := bolt.Stats()
		if c1 > commits0 {
			b.ReportMetric(float64(t1-taps0)/float64(c1-commits0), "taps/commit")
		}
	}
	if g := genuine.Load(); g != int64(b.N) {
		b.Fatalf("%d of %d taps genuine", g, b.N)
	}
}

// cpuTime is the user and system CPU time of this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func appendHexUpper(dst, b []byte) []byte {
	const digits = "0123456789ABCDEF"
	for _, c := range b {
		dst = append(dst, digits[c>>4], digits[c&15])
	}
	return dst
}

// readResponse reads one HTTP/1.1 response with a Content-Length body.
func readResponse(br *bufio.Reader) ([]byte, error) {
	n := -1
	for first := true; ; first = false {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return nil, err
		}
		if first && !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
			return nil, fmt.Errorf("bad status line %q", line)
		}
		if len(line) <= 2 {
			break
		}
		if len(line) > 16 && strings.EqualFold(string(line[:15]), "Content-Length:") {
			n, err = strconv.Atoi(string(bytes.TrimSpace(line[15:])))
			if err != nil {
				return nil, err
			}
		}
	}
	if n < 0 {
		return nil, fmt.Errorf("response without Content-Length")
	}
	body := make([]byte, n)
	_, err := io.ReadFull(br, body)
	return body, err
}

// BenchmarkVerifyNoHTTP is the tap path without HTTP: Server.Verify (SUN
// verification, key derivation, the store's durable counter update) from
// 64 goroutines, to show what the engine costs next to the HTTP stack.
func BenchmarkVerifyNoHTTP(b *testing.B) {
	cfg := baseConfig(b)
	cfg.DBPath = filepath.Join(b.TempDir(), "serve.db")
	_, srv := benchServer(b, cfg)
	targets := maker(b, srv).targets(b, b.N)
	var next, genuine atomic.Int64
	lat := make([]time.Duration, b.N)
	cpu0 := cpuTime()
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			t0 := time.Now()
			a := srv.Verify(context.Background(), "https://brand.example"+targets[i])
			lat[i] = time.Since(t0)
			if a.Result == serve.ResultGenuine {
				genuine.Add(1)
			}
		}
	})
	b.StopTimer()
	cpu := cpuTime() - cpu0
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "taps/s")
	b.ReportMetric(float64(lat[len(lat)*99/100])/1e6, "p99-ms")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/tap")
	b.ReportMetric(0, "ns/op")
	if genuine.Load() != int64(b.N) {
		b.Fatalf("%d of %d genuine", genuine.Load(), b.N)
	}
}
