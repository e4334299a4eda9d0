package serve_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tagline-station/tagline/internal/pgtest"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/serve"
	"github.com/tagline-station/tagline/serve/store"
)

// clock is a settable clock for the server.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func tapFrom(t testing.TB, base, u, place string) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+tapPath(u), nil)
	req.Header.Set("Accept", "application/json")
	if place != "" {
		req.Header.Set("X-Place", place)
	}
	resp, err := jsonClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

func TestTapHistory(t *testing.T) { testTapHistory(t, newBolt) }

func TestPostgresHistory(t *testing.T) {
	pg := pgtest.Start(t)
	testTapHistory(t, pgBackend(pg))
}

// Every tap is kept with its result, the genuine ones count per SKU, batch
// and day; a counter used twice and one tag tapped from two places within
// the window are clone alerts; retention prunes.
func testTapHistory(t *testing.T, newSrv backend) {
	clk := &clock{t: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)}
	s, hs := newSrv(t, func(c *serve.Config) {
		c.Now = clk.now
		c.History = serve.HistoryConfig{PlaceHeader: "X-Place", CloneWindow: 10 * time.Second, Retention: 48 * time.Hour}
	})
	bs := bindings(3, "SKU-A")
	bs[2].SKU, bs[2].BatchID = "SKU-B", "b2"
	upload(t, hs.URL, syncToken, 0, bs)
	d := deriver(t, 1)

	tapFrom(t, hs.URL, sunURL(t, d, testUID(0), 2), "FR")
	tapFrom(t, hs.URL, sunURL(t, d, testUID(0), 2), "FR") // replayed: counter seen twice
	clk.add(3 * time.Second)
	tapFrom(t, hs.URL, sunURL(t, d, testUID(0), 3), "BR") // two places, 3 s apart
	clk.add(time.Minute)
	tapFrom(t, hs.URL, sunURL(t, d, testUID(0), 4), "FR") // a minute later: no alert
	clk.add(24 * time.Hour)
	tapFrom(t, hs.URL, sunURL(t, d, testUID(2), 2), "FR")
	tapFrom(t, hs.URL, sunURL(t, d, testUID(9), 2), "FR")             // unknown
	tapFrom(t, hs.URL, sunURL(t, deriver(t, 2), testUID(1), 2), "FR") // bad mac
	s.Flush()

	h := s.History()
	if h == nil {
		t.Fatal("no history")
	}
	ctx := context.Background()
	sum, err := h.Summary(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	want := store.NewSummary(time.Time{})
	want.Taps = 7
	want.BySKU = map[string]int{"SKU-A": 3, "SKU-B": 1}
	want.ByBatch = map[string]int{"b1": 3, "b2": 1}
	want.ByDay = map[string]int{"2026-06-01": 4, "2026-06-02": 3}
	want.ByResult = map[string]int{"genuine": 4, "replayed": 1, "unknown_tag": 1, "bad_mac": 1}
	want.AlertsByDay = map[string]int{"2026-06-01": 2}
	for name, pair := range map[string][2]map[string]int{"by_sku": {sum.BySKU, want.BySKU}, "by_batch": {sum.ByBatch, want.ByBatch},
		"by_day": {sum.ByDay, want.ByDay}, "by_result": {sum.ByResult, want.ByResult}, "alerts_by_day": {sum.AlertsByDay, want.AlertsByDay}} {
		if !sameCounts(pair[0], pair[1]) {
			t.Errorf("%s = %v, want %v", name, pair[0], pair[1])
		}
	}
	if sum.Taps != want.Taps || len(sum.Alerts) != 2 {
		t.Fatalf("taps %d alerts %+v", sum.Taps, sum.Alerts)
	}
	// Newest first.
	if a := sum.Alerts[0]; a.Kind != store.AlertTwoPlaces || a.UID != manifest.UID(uidHex(testUID(0))) || a.Ctr != 3 || a.SKU != "SKU-A" {
		t.Errorf("two places alert: %+v", a)
	}
	if a := sum.Alerts[1]; a.Kind != store.AlertCounterTwice || a.Ctr != 2 {
		t.Errorf("counter alert: %+v", a)
	}

	// Retention: 48 h after the first day's taps they are pruned.
	n, err := h.Prune(ctx, clk.now().Add(-time.Hour))
	if err != nil || n != 6 {
		t.Fatalf("pruned %d, %v; want the first day's 4 taps and 2 alerts", n, err)
	}
	if sum, _ = h.Summary(ctx, time.Time{}); sum.Taps != 3 || len(sum.Alerts) != 0 {
		t.Fatalf("after prune: %+v", sum)
	}
}

func sameCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return true
}

// No IP address is stored unless configured.
func TestTapHistoryKeepsNoIP(t *testing.T) {
	for _, keep := range []bool{false, true} {
		path := filepath.Join(t.TempDir(), "serve.db")
		s, hs := start(t, func() serve.Config {
			c := baseConfig(t)
			c.DBPath = path
			c.History.KeepIP = keep
			return c
		}())
		upload(t, hs.URL, syncToken, 0, bindings(1, "SKU-A"))
		tapFrom(t, hs.URL, sunURL(t, deriver(t, 1), testUID(0), 2), "")
		s.Flush()
		hs.Close()
		s.Close()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(string(b), `"ip":"127.0.0.1"`); got != keep {
			t.Errorf("KeepIP=%v: address stored = %v", keep, got)
		}
		if !strings.Contains(string(b), `"result":"genuine"`) {
			t.Errorf("KeepIP=%v: the tap is not in the history", keep)
		}
	}
}
