package serve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/serve"
)

const line2Token = "line-2-token-0123456789"

// syncBuf is a log sink the handlers write to concurrently.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuf) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuf) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// fixedNow is the backend's clock in the tests that inject one.
var fixedNow = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

func metricsText(t *testing.T, base string) string {
	t.Helper()
	resp, err := jsonClient.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	m, _ := io.ReadAll(resp.Body)
	return string(m)
}

func TestStationCannotTakeOverTags(t *testing.T) { testStationTakeover(t, newBolt) }

// Issue 10, item 1: a token of station line-2 uploads records for a tag
// that line-1 bound. The attack's own record (another SKU and key version,
// read counter 16777215, completed in 2200) is refused whole; a plausible
// one is held as a conflict and changes nothing: line-1's binding and its
// genuine taps survive, and line-1 can still re-encode the tag.
func testStationTakeover(t *testing.T, newSrv backend) {
	var logs syncBuf
	s, hs := newSrv(t, func(c *serve.Config) {
		c.Tokens[line2Token] = "line-2"
		c.KeyVersions = []byte{1, 2}
		c.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
		c.Now = func() time.Time { return fixedNow }
	})
	bs := bindings(2, "SKU-A")
	if code, ack, _ := upload(t, hs.URL, syncToken, 0, bs); code != 200 || ack.Bindings != 2 || ack.Conflicts != 0 {
		t.Fatalf("line-1: %d %+v", code, ack)
	}
	d1 := deriver(t, 1)
	if code, a := tap(t, hs.URL, sunURL(t, d1, testUID(0), 2)); code != 200 || a.Result != serve.ResultGenuine {
		t.Fatalf("%d %+v", code, a)
	}

	// The record of the issue.
	evil := bs[0]
	evil.StationID, evil.BatchID, evil.Seq = "line-2", "evil", 1
	evil.SKU, evil.KeyVersion, evil.ReadCtr = "SKU-EVIL", 2, 16777215
	evil.CompletedAt = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
	evil.StartedAt = evil.CompletedAt
	body, _ := manifest.AppendChunk(nil, "line-2", "", 0, []manifest.Binding{evil})
	code, _, _ := post(t, hs.URL, line2Token, "line-2:1-1", body)
	if code != 422 {
		t.Fatalf("the attack's record: %d, want 422", code)
	}

	// The same takeover with values no rule refuses.
	evil.ReadCtr, evil.CompletedAt, evil.StartedAt = 5, fixedNow.Add(-time.Minute), fixedNow.Add(-2*time.Minute)
	other := evil
	other.UID, other.Seq = manifest.UID(uidHex(testUID(9))), 2 // a tag nobody bound: line-2's first binding
	code, ack, _ := upload(t, hs.URL, line2Token, 0, []manifest.Binding{evil, other})
	if code != 200 || ack.AckedSeq != 2 || ack.New != 2 || ack.Bindings != 1 || ack.Conflicts != 1 {
		t.Fatalf("line-2: %d %+v", code, ack)
	}
	b, last, _ := lookup(t, s.Store(), string(bs[0].UID))
	if b.StationID != "line-1" || b.SKU != "SKU-A" || b.KeyVersion != 1 || b.Seq != 1 || last != 2 {
		t.Fatalf("line-1's binding changed: %+v last %d", b, last)
	}
	// line-1's genuine taps go on, line-2's keys do not verify, and
	// line-2's own new tag is its own.
	for _, c := range []struct {
		url    string
		result string
		sku    string
	}{
		{sunURL(t, d1, testUID(0), 3), serve.ResultGenuine, "SKU-A"},
		{sunURL(t, deriver(t, 2), testUID(0), 6), serve.ResultBadMAC, ""},
		{sunURL(t, d1, testUID(0), 4), serve.ResultGenuine, "SKU-A"},
		{sunURL(t, deriver(t, 2), testUID(9), 6), serve.ResultGenuine, "SKU-EVIL"},
	} {
		if _, a := tap(t, hs.URL, c.url); a.Result != c.result || a.SKU != c.sku {
			t.Fatalf("%+v, want %s %s", a, c.result, c.sku)
		}
	}

	// The conflict is held once, with both sides, even when delivered
	// again under another key.
	if code, ack, _ := upload(t, hs.URL, line2Token, 0, []manifest.Binding{evil}); code != 200 || ack.Conflicts != 1 || ack.New != 0 {
		t.Fatalf("again: %d %+v", code, ack)
	}
	list, total, err := s.Store().Conflicts(context.Background(), 10)
	if err != nil || total != 1 || len(list) != 1 {
		t.Fatalf("conflicts %d %+v %v", total, list, err)
	}
	cf := list[0]
	if cf.Record.UID != bs[0].UID || cf.Record.StationID != "line-2" || cf.Record.Seq != 1 || cf.Record.SKU != "SKU-EVIL" ||
		cf.Bound.StationID != "line-1" || cf.Bound.SKU != "SKU-A" || !cf.DetectedAt.Equal(fixedNow) {
		t.Fatalf("conflict %+v", cf)
	}
	m := metricsText(t, hs.URL)
	for _, want := range []string{"tagline_binding_conflicts 1\n", "tagline_sync_conflicts_total 2\n"} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q:\n%s", want, m)
		}
	}
	// Logged with the UID and both stations, key versions as numbers.
	var sawConflict, sawClock bool
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if strings.HasPrefix(e["msg"].(string), "sync record conflicts") && e["uid"] == string(bs[0].UID) &&
			e["station"] == "line-2" && e["bound_station"] == "line-1" && e["key_version"] == 2.0 {
			sawConflict = true
		}
		if strings.Contains(e["msg"].(string), "clock is ahead") {
			sawClock = true
		}
	}
	if !sawConflict || sawClock {
		t.Errorf("log (conflict %v, clock %v):\n%s", sawConflict, sawClock, logs.String())
	}
	if strings.Contains(strings.ToUpper(logs.String()), masterHex) {
		t.Error("the log holds the master key")
	}

	// line-1 re-encodes its tag: the same station may replace its binding.
	re := bs[0]
	re.Seq, re.SKU, re.BatchID, re.ReadCtr, re.CompletedAt = 3, "SKU-B", "b2", 1, fixedNow.Add(-time.Second)
	if code, ack, _ := upload(t, hs.URL, syncToken, 2, []manifest.Binding{re}); code != 200 || ack.Bindings != 1 || ack.Conflicts != 0 {
		t.Fatalf("re-encode: %d %+v", code, ack)
	}
	if _, a := tap(t, hs.URL, sunURL(t, d1, testUID(0), 5)); a.Result != serve.ResultGenuine || a.SKU != "SKU-B" {
		t.Fatalf("after re-encode: %+v", a)
	}
}

func TestClockAheadAndRecordRules(t *testing.T) { testClockAheadAndRecordRules(t, newBolt) }

// A station whose clock runs ahead has its records refused with a message
// saying so; each record rule refuses the whole chunk with 422 before
// anything is stored.
func testClockAheadAndRecordRules(t *testing.T, newSrv backend) {
	var logs syncBuf
	s, hs := newSrv(t, func(c *serve.Config) {
		c.Now = func() time.Time { return fixedNow }
		c.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	})
	good := bindings(2, "SKU-A")
	good[0].UID = manifest.UID(uidHex(testUID(100))) // a valid first record, so nothing of a refused chunk may be stored
	good[1].CompletedAt = fixedNow.Add(10 * time.Minute)
	body, _ := manifest.AppendChunk(nil, "line-1", "", 0, good)
	code, msg := postRaw(t, hs.URL, syncToken, "k-clock", body)
	if code != 422 || !strings.Contains(msg, "clock is ahead") || !strings.Contains(msg, "completed_at") {
		t.Fatalf("clock ahead: %d %s", code, msg)
	}
	if !strings.Contains(logs.String(), "the station's clock is ahead") {
		t.Errorf("log: %s", logs.String())
	}
	// Within the skew: accepted.
	good[1].CompletedAt = fixedNow.Add(4 * time.Minute)
	if code, ack, _ := upload(t, hs.URL, syncToken, 0, good[1:]); code != 200 || ack.Bindings != 1 {
		t.Fatalf("4 minutes ahead: %d %+v", code, ack)
	}
	for name, mod := range map[string]func(b *manifest.Binding){
		"read counter 0xFFFFFF": func(b *manifest.Binding) { b.ReadCtr = 0xFFFFFF },
		"10 kB sku":             func(b *manifest.Binding) { b.SKU = strings.Repeat("S", 10<<10) },
		"tab in sku":            func(b *manifest.Binding) { b.SKU = "SKU\tA" },
		"seq 2^64-1":            func(b *manifest.Binding) { b.Seq = 1<<64 - 1 },
		"key version 0":         func(b *manifest.Binding) { b.KeyVersion = 0 },
		"4-byte uid":            func(b *manifest.Binding) { b.UID = "04112233" },
		"started in 2200":       func(b *manifest.Binding) { b.StartedAt = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC) },
	} {
		bad := bindings(2, "SKU-A")
		bad[0].UID = manifest.UID(uidHex(testUID(200)))
		bad[1].UID = manifest.UID(uidHex(testUID(201)))
		bad[0].Seq, bad[1].Seq = 10, 11
		mod(&bad[1])
		body, _ := manifest.AppendChunk(nil, "line-1", "", 9, bad)
		if code, msg := postRaw(t, hs.URL, syncToken, "k-"+name, body); code != 422 || !strings.Contains(msg, "malformed sync chunk: line 3") {
			t.Errorf("%s: %d %s", name, code, msg)
		}
		if _, _, ok := lookup(t, s.Store(), string(bad[0].UID)); ok {
			t.Fatalf("%s: a record of a refused chunk was stored", name)
		}
	}
}

// postRaw POSTs a body and returns the status and the error message.
func postRaw(t *testing.T, base, token, key string, body []byte) (int, string) {
	t.Helper()
	req, _ := newSyncRequest(base, token, key, body)
	resp, err := jsonClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e struct {
		Error string `json:"error"`
	}
	json.Unmarshal(b, &e)
	return resp.StatusCode, e.Error
}
