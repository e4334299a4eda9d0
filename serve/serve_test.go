package serve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/serve"
	"github.com/tagline-station/tagline/syncer"
)

func TestTapResults(t *testing.T) { testTapResults(t, newBolt) }

func testTapResults(t *testing.T, newSrv backend) {
	s, hs := newSrv(t, nil)
	bs := bindings(3, "SKU-A")
	bs[1].SKU = "SKU-B"
	if code, ack, _ := upload(t, hs.URL, syncToken, 0, bs); code != 200 || ack.AckedSeq != 3 || ack.New != 3 || ack.Bindings != 3 {
		t.Fatalf("%d %+v", code, ack)
	}
	d := deriver(t, 1)
	u0 := testUID(0)
	cases := []struct {
		url    string
		status int
		result string
		sku    string
	}{
		{sunURL(t, d, u0, 2), 200, serve.ResultGenuine, "SKU-A"},
		{sunURL(t, d, u0, 2), 409, serve.ResultReplayed, "SKU-A"}, // the same URL again
		{sunURL(t, d, u0, 1), 409, serve.ResultReplayed, "SKU-A"}, // the station's own verification read
		{sunURL(t, d, u0, 9), 200, serve.ResultGenuine, "SKU-A"},
		{sunURL(t, d, u0, 5), 409, serve.ResultReplayed, "SKU-A"}, // older than the last accepted
		{sunURL(t, d, testUID(1), 2), 200, serve.ResultGenuine, "SKU-B"},
		{sunURL(t, d, testUID(7), 2), 404, serve.ResultUnknown, ""},
		{sunURL(t, deriver(t, 2), testUID(2), 2), 403, serve.ResultBadMAC, ""}, // other keys
		{forge(sunURL(t, d, testUID(2), 3)), 403, serve.ResultBadMAC, ""},
		{sunURL(t, d, testUID(2), 4) + "&x=1", 400, serve.ResultMalformed, ""},
		{strings.Replace(sunURL(t, d, testUID(2), 4), "picc_data=", "picc_date=", 1), 400, serve.ResultMalformed, ""},
		{strings.Replace(sunURL(t, d, testUID(2), 4), "&cmac=", "&cmac=ZZ", 1)[:len(sunURL(t, d, testUID(2), 4))], 400, serve.ResultMalformed, ""},
	}
	for i, c := range cases {
		code, a := tap(t, hs.URL, c.url)
		if code != c.status || a.Result != c.result || a.SKU != c.sku {
			t.Fatalf("case %d: %d %+v, want %d %s %s", i, code, a, c.status, c.result, c.sku)
		}
		if c.result == serve.ResultGenuine && a.URL == "" {
			t.Fatalf("case %d: no url", i)
		}
	}
	// The forged tag's real URL still works: a rejected tap burns nothing.
	if code, a := tap(t, hs.URL, sunURL(t, d, testUID(2), 3)); code != 200 || a.Result != serve.ResultGenuine {
		t.Fatalf("%d %+v", code, a)
	}
	if _, last, _ := lookup(t, s.Store(), string(uidHex(u0))); last != 9 {
		t.Fatalf("last accepted %d", last)
	}
}

// forge flips one hex digit of the MAC.
func forge(u string) string {
	b := []byte(u)
	i := len(b) - 1
	if b[i] == '0' {
		b[i] = '1'
	} else {
		b[i] = '0'
	}
	return string(b)
}

func TestTapBrowserAnswers(t *testing.T) { testTapBrowserAnswers(t, newBolt) }

func testTapBrowserAnswers(t *testing.T, newSrv backend) {
	_, hs := newSrv(t, nil)
	bs := bindings(2, "SKU-A")
	bs[1].SKU = "SKU-Z"
	upload(t, hs.URL, syncToken, 0, bs)
	d := deriver(t, 1)
	get := func(u string) *http.Response {
		resp, err := jsonClient.Get(hs.URL + tapPath(u))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	head, err := jsonClient.Head(hs.URL + tapPath(sunURL(t, d, testUID(0), 2)))
	if err != nil || head.StatusCode != 405 {
		t.Fatalf("HEAD: %v %v", head, err)
	}
	head.Body.Close()
	if r := get(sunURL(t, d, testUID(0), 2)); r.StatusCode != 302 || r.Header.Get("Location") != "https://brand.example/p/sku-a" || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("%d %v", r.StatusCode, r.Header)
	}
	if r := get(sunURL(t, d, testUID(1), 2)); r.StatusCode != 302 || r.Header.Get("Location") != "https://brand.example/p" {
		t.Fatalf("default url: %d %v", r.StatusCode, r.Header)
	}
	if r := get(sunURL(t, d, testUID(0), 2)); r.StatusCode != 409 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("replay: %d %v", r.StatusCode, r.Header)
	}
	_, hs2 := newSrv(t, func(c *serve.Config) { c.RejectURL = "https://brand.example/sorry" })
	if r := get2(t, hs2.URL+tapPath(sunURL(t, d, testUID(5), 2))); r.StatusCode != 302 || r.Header.Get("Location") != "https://brand.example/sorry?result=unknown_tag" {
		t.Fatalf("reject url: %d %v", r.StatusCode, r.Header)
	}
}

func get2(t *testing.T, u string) *http.Response {
	resp, err := jsonClient.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestSyncUploadRules(t *testing.T) { testSyncUploadRules(t, newBolt) }

func testSyncUploadRules(t *testing.T, newSrv backend) {
	s, hs := newSrv(t, nil)
	bs := bindings(10, "SKU-A")
	body, _ := manifest.AppendChunk(nil, "line-1", "", 0, bs[:5])
	key := syncer.IdempotencyKey("line-1", 1, 5)
	if code, _, _ := post(t, hs.URL, "wrong-token-0123456789", key, body); code != 401 {
		t.Fatalf("bad token: %d", code)
	}
	if code, _, _ := post(t, hs.URL, syncToken, "", body); code != 400 {
		t.Fatalf("no key: %d", code)
	}
	bad := strings.Replace(string(body), `"read_ctr":1`, `"read_ctr":2`, 1)
	if code, _, _ := post(t, hs.URL, syncToken, key, []byte(bad)); code != 422 {
		t.Fatalf("checksum: %d", code)
	}
	code, ack, h := post(t, hs.URL, syncToken, key, body)
	if code != 200 || ack.AckedSeq != 5 || ack.New != 5 || h.Get("Idempotent-Replayed") != "" {
		t.Fatalf("%d %+v", code, ack)
	}
	// The same delivery again: the stored answer, nothing applied twice.
	code, ack2, h := post(t, hs.URL, syncToken, key, body)
	if code != 200 || ack2 != ack || h.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %+v %v", code, ack2, h)
	}
	// The same records under a fresh key: held once.
	code, ack3, _ := post(t, hs.URL, syncToken, "other-key", body)
	if code != 200 || ack3.New != 0 || ack3.Bindings != 0 || ack3.AckedSeq != 5 {
		t.Fatalf("%d %+v", code, ack3)
	}
	// The key reused for other records.
	body2, _ := manifest.AppendChunk(nil, "line-1", "", 5, bs[5:])
	if code, _, _ := post(t, hs.URL, syncToken, key, body2); code != 422 {
		t.Fatalf("key reuse: %d", code)
	}
	// A station token cannot upload for another station.
	other := bindings(1, "SKU-A")
	other[0].StationID = "line-2"
	if code, _, _ := upload(t, hs.URL, syncToken, 0, other); code != 403 {
		t.Fatalf("other station: %d", code)
	}

	// Re-encode at the same station: the higher seq wins, whatever order
	// the records arrive in, and the last accepted counter never drops.
	uid := bs[0].UID
	if code, a := tap(t, hs.URL, sunURL(t, deriver(t, 1), testUID(0), 40)); code != 200 {
		t.Fatalf("%d %+v", code, a)
	}
	re := bs[0]
	re.Seq, re.SKU, re.ReadCtr, re.CompletedAt = 20, "SKU-NEW", 3, re.CompletedAt.Add(time.Hour)
	// A chunk that starts after what the backend holds is answered with
	// where to start (409 and the position), and nothing is applied.
	if code, _, _ := upload(t, hs.URL, syncToken, 19, []manifest.Binding{re}); code != http.StatusConflict {
		t.Fatalf("gap: %d", code)
	}
	if b, _, _ := lookup(t, s.Store(), string(uid)); b.Seq != bs[0].Seq {
		t.Fatalf("a chunk after a gap was applied: %+v", b)
	}
	if code, _, _ := upload(t, hs.URL, syncToken, 5, []manifest.Binding{re}); code != 200 {
		t.Fatal(code)
	}
	old := bs[0]
	old.Seq, old.SKU = 12, "SKU-OLD"
	if code, _, _ := upload(t, hs.URL, syncToken, 11, []manifest.Binding{old}); code != 200 {
		t.Fatal(code)
	}
	b, last, _ := lookup(t, s.Store(), string(uid))
	if b.SKU != "SKU-NEW" || b.Seq != 20 || last != 40 {
		t.Fatalf("after re-encode: %+v last %d", b, last)
	}
	// Another station's records for bound tags, later or earlier: neither
	// takes over (the first binding is kept); both are held as conflicts.
	x := re
	x.StationID, x.Seq, x.SKU, x.CompletedAt = "line-2", 1, "SKU-L2", re.CompletedAt.Add(time.Minute)
	y := x
	y.Seq, y.SKU, y.CompletedAt = 2, "SKU-L2-OLD", bs[1].CompletedAt.Add(-time.Minute)
	y.UID = bs[1].UID
	if code, ack, _ := upload(t, hs.URL, anyToken, 0, []manifest.Binding{x, y}); code != 200 || ack.Bindings != 0 || ack.Conflicts != 2 || ack.New != 2 {
		t.Fatalf("%d %+v", code, ack)
	}
	if b, _, _ := lookup(t, s.Store(), string(uid)); b.SKU != "SKU-NEW" || b.StationID != "line-1" {
		t.Fatalf("%+v", b)
	}
	if b, _, _ := lookup(t, s.Store(), string(bs[1].UID)); b.SKU != "SKU-A" || b.StationID != "line-1" {
		t.Fatalf("%+v", b)
	}
}

// The syncer against the real server, with a server error on the way.
func TestSyncerAgainstServer(t *testing.T) {
	_, hs := newBolt(t, nil)
	j, err := batch.Open(t.TempDir()+"/j.db", batch.Options{StationID: "line-1"})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if _, err := j.CreateBatch(batch.Batch{ID: "b1", SKU: "SKU-A", Target: 100, KeyVersion: 1}); err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		uid := uidHex(testUID(i))
		if err := j.BeginIntent(batch.Intent{UID: manifest.UID(uid), BatchID: "b1", KeyVersion: 1, MasterKCV: "A1B2C3"}); err != nil {
			t.Fatal(err)
		}
		if err := j.Complete(manifest.Binding{UID: manifest.UID(uid), KeyVersion: 1, Outcome: manifest.Verified, ReadCtr: 1}); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := syncer.Run(context.Background(), j, syncer.Options{Endpoint: hs.URL + "/v1/sync", Token: syncToken, ChunkSize: 8})
	if err != nil || sum.SyncedUpto != 30 || sum.Chunks != 4 {
		t.Fatalf("%+v %v", sum, err)
	}
	code, a := tap(t, hs.URL, sunURL(t, deriver(t, 1), testUID(29), 2))
	if code != 200 || a.SKU != "SKU-A" {
		t.Fatalf("%d %+v", code, a)
	}
	// A token of another station is refused without retries.
	sum, err = syncer.Run(context.Background(), j, syncer.Options{Endpoint: hs.URL + "/v1/sync", Token: "nope-nope-nope-nope"})
	if err != nil || sum.Attempts != 0 { // nothing pending: nothing sent
		t.Fatalf("%+v %v", sum, err)
	}
}

func TestKeyVersions(t *testing.T) { testKeyVersions(t, newBolt) }

func testKeyVersions(t *testing.T, newSrv backend) {
	_, hs := newSrv(t, func(c *serve.Config) { c.KeyVersions = []byte{1, 2} })
	bs := bindings(2, "SKU-A")
	bs[1].KeyVersion = 2
	upload(t, hs.URL, syncToken, 0, bs)
	d1, d2 := deriver(t, 1), deriver(t, 2)
	for _, c := range []struct {
		url    string
		result string
	}{
		{sunURL(t, d1, testUID(0), 2), serve.ResultGenuine},
		{sunURL(t, d2, testUID(1), 2), serve.ResultGenuine},
		{sunURL(t, d2, testUID(0), 3), serve.ResultBadMAC}, // bound with 1, made with 2's keys
		{sunURL(t, d1, testUID(1), 3), serve.ResultBadMAC},
		{sunURL(t, d2, testUID(1), 3), serve.ResultGenuine}, // not burnt by the failed tap
	} {
		if _, a := tap(t, hs.URL, c.url); a.Result != c.result {
			t.Fatalf("%+v, want %s", a, c.result)
		}
	}
}

func TestHealthMetricsAndShutdown(t *testing.T) {
	cfg := baseConfig(t)
	cfg.DBPath = t.TempDir() + "/s.db"
	s, err := serve.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	if r := get2(t, base+"/healthz"); r.StatusCode != 200 {
		t.Fatalf("healthz %d", r.StatusCode)
	}
	upload(t, base, syncToken, 0, bindings(2, "SKU-A"))
	d := deriver(t, 1)
	tap(t, base, sunURL(t, d, testUID(0), 2))
	tap(t, base, sunURL(t, d, testUID(0), 2))
	tap(t, base, forge(sunURL(t, d, testUID(0), 3)))
	resp, err := jsonClient.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`tagline_taps_total{result="genuine"} 1`,
		`tagline_taps_total{result="replayed"} 1`,
		`tagline_taps_total{result="bad_mac"} 1`,
		`tagline_sync_uploads_total{outcome="applied"} 1`,
		`tagline_sync_records_total 2`,
		`tagline_tap_duration_seconds_count 3`,
		`tagline_tap_duration_seconds_bucket{le="+Inf"} 3`,
		"# TYPE tagline_tap_duration_seconds histogram",
	} {
		if !strings.Contains(string(m), want) {
			t.Errorf("metrics lack %q:\n%s", want, m)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no shutdown")
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Fatal("still listening")
	}
}

func TestConfigErrors(t *testing.T) {
	for name, mod := range map[string]func(*serve.Config){
		"bad template": func(c *serve.Config) { c.Template = "https://brand.example/t?x={uid}" },
		"no store":     func(c *serve.Config) { c.DBPath = "" },
		"short token":  func(c *serve.Config) { c.Tokens = map[string]string{"abc": "*"} },
		"no master":    func(c *serve.Config) { c.Master = serve.Config{}.Master },
	} {
		cfg := baseConfig(t)
		cfg.DBPath = t.TempDir() + "/s.db"
		mod(&cfg)
		if s, err := serve.New(cfg); err == nil {
			s.Close()
			t.Errorf("%s: accepted", name)
		}
	}
	_ = errors.New
}

// Key versions are logged as numbers, not as base64 of a byte slice.
func TestConfiguredKeyVersionsLoggedAsNumbers(t *testing.T) {
	var buf bytes.Buffer
	cfg := baseConfig(t)
	cfg.DBPath = t.TempDir() + "/s.db"
	cfg.KeyVersions = []byte{1, 2}
	cfg.Logger = slog.New(slog.NewJSONHandler(&buf, nil))
	s, err := serve.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	var entry struct {
		Msg         string `json:"msg"`
		KeyVersions []int  `json:"key_versions"`
	}
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if err := json.Unmarshal([]byte(line), &entry); err == nil && entry.Msg == "serve configured" {
			break
		}
	}
	if entry.Msg != "serve configured" || len(entry.KeyVersions) != 2 || entry.KeyVersions[0] != 1 || entry.KeyVersions[1] != 2 {
		t.Fatalf("log: %s", buf.String())
	}
}
