package serve_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/sdm"
	"github.com/tagline-station/tagline/serve"
	"github.com/tagline-station/tagline/serve/store"
	"github.com/tagline-station/tagline/serve/store/boltstore"
	"github.com/tagline-station/tagline/syncer"
)

const (
	masterHex = "00112233445566778899AABBCCDDEEFF"
	tmplPlain = "https://brand.example/t?picc_data={picc}&cmac={mac}"
	syncToken = "station-token-0123456789"
	anyToken  = "backend-token-0123456789"
)

func master(t testing.TB) keys.Master {
	t.Helper()
	b, _ := hex.DecodeString(masterHex)
	m, err := keys.NewMaster(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func deriver(t testing.TB, v byte) *keys.Deriver {
	t.Helper()
	d, err := keys.NewDeriver(keys.SchemeTagline, master(t), v)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// sunURL makes the URL a tag personalised with tmplPlain mirrors at read
// counter ctr, with the sdm functions directly.
func sunURL(t testing.TB, d *keys.Deriver, uid []byte, ctr uint32) string {
	t.Helper()
	rnd := []byte{byte(ctr), byte(ctr >> 8), uid[6], 0x5A, 0xA5}
	picc := sdm.EncryptPICCData(d.MetaRead(), uid, sdm.Counter(ctr), true, true, rnd)
	fk, err := d.FileRead(uid)
	if err != nil {
		t.Fatal(err)
	}
	mac := sdm.MAC(fk, uid, sdm.Counter(ctr), nil)
	return "https://brand.example/t?picc_data=" + strings.ToUpper(hex.EncodeToString(picc[:])) + "&cmac=" + strings.ToUpper(hex.EncodeToString(mac[:]))
}

func testUID(i int) []byte {
	return []byte{0x04, 0x11, 0x22, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
}

func uidHex(u []byte) manifest.UID { return manifest.UIDOf(u) }

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func baseConfig(t testing.TB) serve.Config {
	return serve.Config{
		Template:    tmplPlain,
		Master:      master(t),
		KeyVersions: []byte{1},
		Redirects:   map[string]string{"SKU-A": "https://brand.example/p/sku-a"},
		DefaultURL:  "https://brand.example/p",
		Tokens:      map[string]string{syncToken: "line-1", anyToken: "*"},
		Logger:      quietLogger(),
	}
}

// backend starts a server on loopback over a fresh store of one kind.
type backend func(t testing.TB, mod func(*serve.Config)) (*serve.Server, *httptest.Server)

// newBolt starts a server over a bbolt store on loopback.
func newBolt(t testing.TB, mod func(*serve.Config)) (*serve.Server, *httptest.Server) {
	t.Helper()
	cfg := baseConfig(t)
	cfg.DBPath = filepath.Join(t.TempDir(), "serve.db")
	if mod != nil {
		mod(&cfg)
	}
	return start(t, cfg)
}

func start(t testing.TB, cfg serve.Config) (*serve.Server, *httptest.Server) {
	t.Helper()
	s, err := serve.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(s.Handler())
	hs.Start()
	t.Cleanup(func() {
		hs.Close()
		s.Close()
	})
	return s, hs
}

// tapPath is the request target of a SUN URL (its path and query).
func tapPath(u string) string { return strings.TrimPrefix(u, "https://brand.example") }

var jsonClient = &http.Client{
	Transport:     &http.Transport{MaxIdleConnsPerHost: 64},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       10 * time.Second,
}

// tap GETs a SUN URL as an API client and decodes the answer.
func tap(t testing.TB, base, u string) (int, serve.TapAnswer) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+tapPath(u), nil)
	req.Header.Set("Accept", "application/json")
	resp, err := jsonClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a serve.TapAnswer
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("tap answer %d %q: %v", resp.StatusCode, body, err)
	}
	return resp.StatusCode, a
}

// bindings makes n journal-like bindings of station line-1 for uids
// testUID(0..n-1), seq 1..n.
func bindings(n int, sku string) []manifest.Binding {
	out := make([]manifest.Binding, n)
	at := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	for i := range out {
		out[i] = manifest.Binding{
			UID: manifest.UID(uidHex(testUID(i))), SKU: sku, BatchID: "b1", StationID: "line-1", KeyVersion: 1,
			MasterKCV: "A1B2C3", Outcome: manifest.Verified, Attempts: 1, ReadCtr: 1,
			StartedAt: at, CompletedAt: at.Add(time.Duration(i) * time.Second), Seq: uint64(i + 1),
		}
	}
	return out
}

// upload POSTs a chunk of bs as station line-1 would.
func upload(t testing.TB, base, token string, since uint64, bs []manifest.Binding) (int, store.SyncAck, http.Header) {
	t.Helper()
	body, _ := manifest.AppendChunk(nil, bs[0].StationID, "", since, bs)
	return post(t, base, token, syncer.IdempotencyKey(bs[0].StationID, bs[0].Seq, bs[len(bs)-1].Seq), body)
}

func newSyncRequest(base, token, key string, body []byte) (*http.Request, error) {
	req, err := http.NewRequest("POST", base+"/v1/sync", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Idempotency-Key", key)
	req.Header.Set("Content-Type", syncer.ContentType)
	return req, nil
}

func post(t testing.TB, base, token, key string, body []byte) (int, store.SyncAck, http.Header) {
	t.Helper()
	req, _ := newSyncRequest(base, token, key, body)
	resp, err := jsonClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ack store.SyncAck
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == 200 {
		if err := json.Unmarshal(b, &ack); err != nil {
			t.Fatalf("ack %q: %v", b, err)
		}
	}
	return resp.StatusCode, ack, resp.Header
}

func lookup(t testing.TB, s store.Store, uid string) (manifest.Binding, uint32, bool) {
	t.Helper()
	b, last, ok, err := s.Lookup(context.Background(), uid)
	if err != nil {
		t.Fatal(err)
	}
	return b, last, ok
}

var _ = boltstore.Open
var _ = fmt.Sprintf
