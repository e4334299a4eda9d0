package station_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/reader/sim"
	"github.com/tagline-station/tagline/serve"
	"github.com/tagline-station/tagline/station"
)

const benchLanes = 8

// ackClock records when the backend acknowledged each seq, from the
// answers the sync receives.
type ackClock struct {
	base http.RoundTripper
	mu   sync.Mutex
	acks []ackAt
}

type ackAt struct {
	seq uint64
	at  time.Time
}

func (a *ackClock) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := a.base.RoundTrip(req)
	if err != nil || resp.StatusCode/100 != 2 {
		return resp, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var ack struct {
		AckedSeq uint64 `json:"acked_seq"`
	}
	if json.Unmarshal(body, &ack) == nil {
		a.mu.Lock()
		a.acks = append(a.acks, ackAt{ack.AckedSeq, time.Now()})
		a.mu.Unlock()
	}
	return resp, nil
}

// ackedAt is when seq was first acknowledged (ok false: never).
func (a *ackClock) ackedAt(seq uint64) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, x := range a.acks {
		if x.seq >= seq {
			return x.at, true
		}
	}
	return time.Time{}, false
}

// benchBackend is tagline serve on bbolt, on loopback.
func benchBackend(b *testing.B) string {
	mb, _ := hex.DecodeString(masterHex)
	m, err := keys.NewMaster(mb)
	if err != nil {
		b.Fatal(err)
	}
	s, err := serve.New(serve.Config{
		Template: tmpl, Master: m, KeyVersions: []byte{1}, DefaultURL: "https://brand.example/p",
		Tokens: map[string]string{"bench-token-0123456789": "*"}, DBPath: filepath.Join(b.TempDir(), "serve.db"),
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	b.Cleanup(func() { hs.Close(); s.Close() })
	return hs.URL + "/v1/sync"
}

// unreachable is the URL of a port nothing listens on.
func unreachable(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/v1/sync"
}

// silent is the URL of a backend that takes connections and never
// answers, as one behind a dropping firewall or hung does.
func silent(b testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	b.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return "http://" + l.Addr().String() + "/v1/sync"
}

// BenchmarkShift runs the station's runtime with eight simulated lanes and
// the tag's timing model (sim.Timing106, ~90 ms a tag), each iteration one
// tag per lane, with the background sync off, on (tagline serve on bbolt
// over loopback) and pointed at a backend that refuses connections
// (unreachable) or takes them and never answers (silent). It
// reports tags/s, the ratio to sync=off, and with sync on the p50 and p99
// from a tag's PASS to the backend's acknowledgement of its binding.
func BenchmarkShift(b *testing.B) {
	var off float64
	for _, mode := range []string{"off", "on", "unreachable", "silent"} {
		b.Run("sync="+mode, func(b *testing.B) {
			rate := benchShift(b, mode)
			switch mode {
			case "off":
				off = rate
			default:
				if off > 0 {
					b.ReportMetric(rate/off, "x_off")
				}
			}
		})
	}
}

func benchShift(b *testing.B, mode string) float64 {
	path := filepath.Join(b.TempDir(), "j.db")
	f := newFixture(b, path)
	var lanes []station.RunLane
	for i := range benchLanes {
		r := sim.NewReader(fmt.Sprintf("sim%d", i))
		lanes = append(lanes, station.RunLane{Reader: r, Feeder: newFeeder(r, sim.Timing106())})
	}
	clock := &ackClock{base: &http.Transport{MaxIdleConnsPerHost: 4}}
	cfg := station.RunConfig{Station: f.st, Lanes: lanes, Count: benchLanes * b.N, OverTarget: true}
	switch mode {
	case "on":
		cfg.Sync = &station.SyncConfig{Endpoint: benchBackend(b), Token: "bench-token-0123456789", Client: &http.Client{Transport: clock}, Final: 5 * time.Second}
	case "unreachable":
		cfg.Sync = &station.SyncConfig{Endpoint: unreachable(b), Token: "bench-token-0123456789"}
	case "silent":
		cfg.Sync = &station.SyncConfig{Endpoint: silent(b), Token: "bench-token-0123456789"}
	}
	type pass struct {
		uid string
		at  time.Time
	}
	var passes []pass
	cfg.OnEvent = func(ev station.Event) {
		if ev.Kind == station.EvResult && ev.Result != nil && ev.Result.Outcome == manifest.Encoded {
			passes = append(passes, pass{string(ev.Result.UID), time.Now()})
		}
	}
	rt, err := station.NewRuntime(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	if _, err := rt.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if len(passes) < benchLanes*b.N {
		b.Fatalf("%d of %d tags passed", len(passes), benchLanes*b.N)
	}
	// Tags per second of encoding: from the start to the last PASS, so
	// the last push at the end of the run is not counted against sync=on.
	rate := float64(len(passes)) / passes[len(passes)-1].at.Sub(start).Seconds()
	_ = elapsed
	b.ReportMetric(rate, "tags/s")
	if mode == "on" {
		var lat []time.Duration
		for _, p := range passes {
			bd, ok, err := f.store.Lookup(manifest.UID(p.uid))
			if err != nil || !ok {
				b.Fatalf("PASS %s not journaled: %v", p.uid, err)
			}
			at, ok := clock.ackedAt(bd.Seq)
			if !ok {
				b.Fatalf("seq %d never acknowledged", bd.Seq)
			}
			lat = append(lat, at.Sub(p.at))
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "ms_ack_p50")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "ms_ack_p99")
		clock.mu.Lock()
		b.ReportMetric(float64(len(clock.acks))/float64(len(passes)), "posts/tag")
		clock.mu.Unlock()
	}
	return rate
}
