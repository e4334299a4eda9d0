package serve_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/serve"
	"github.com/tagline-station/tagline/serve/store"
	"github.com/tagline-station/tagline/serve/store/boltstore"
)

// fuzzServer is a server over a fresh bbolt store of the fuzz process,
// with tags 0..3 bound by line-1 (tag 3 with key version 2), driven in
// process without a listener.
func fuzzServer(f *testing.F) *serve.Server {
	cfg := baseConfig(f)
	cfg.DBPath = filepath.Join(f.TempDir(), "serve.db")
	cfg.Now = func() time.Time { return fixedNow }
	cfg.KeyVersions = []byte{1, 2}
	cfg.Tokens[line2Token] = "line-2"
	s, err := serve.New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	bs := bindings(4, "SKU-A")
	bs[3].KeyVersion = 2
	body, _ := manifest.AppendChunk(nil, "line-1", "", 0, bs)
	if rec := postSync(s, syncToken, "seed", body); rec.Code != 200 {
		f.Fatalf("seeding: %d %s", rec.Code, rec.Body)
	}
	return s
}

func postSync(s *serve.Server, token, key string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", "/v1/sync", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	return rec
}

// FuzzSyncReceiver drives POST /v1/sync with arbitrary bodies, keys and
// tokens. Whatever comes in: an answer of the documented set, JSON; a
// refused upload stores nothing; an accepted one is acknowledged as
// parsed; and line-1's tags stay line-1's unless line-1 itself re-encodes
// them.
func FuzzSyncReceiver(f *testing.F) {
	s := fuzzServer(f)
	bolt := s.Store().(*boltstore.Store)
	more := bindings(6, "SKU-B")[4:]
	more[0].Seq, more[1].Seq = 5, 6
	body, _ := manifest.AppendChunk(nil, "line-1", "", 4, more)
	f.Add(body, "line-1:5-6", byte(0))
	takeover := bindings(1, "SKU-EVIL")
	takeover[0].StationID, takeover[0].KeyVersion = "line-2", 2
	body, _ = manifest.AppendChunk(nil, "line-2", "", 0, takeover)
	f.Add(body, "line-2:1-1", byte(1))
	takeover[0].ReadCtr, takeover[0].CompletedAt = 0xFFFFFF, time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
	body, _ = manifest.AppendChunk(nil, "line-2", "", 0, takeover)
	f.Add(body, "line-2:1-1", byte(2))
	f.Add([]byte("{}\n"), "k", byte(3))

	tokens := []string{syncToken, line2Token, anyToken, "not-a-token-0123456789"}
	lim := manifest.Limits{MaxRecords: 10000, Now: func() time.Time { return fixedNow }}
	f.Fuzz(func(t *testing.T, body []byte, key string, who byte) {
		before, err := bolt.Records()
		if err != nil {
			t.Fatal(err)
		}
		rec := postSync(s, tokens[int(who)%len(tokens)], key, body)
		after, err := bolt.Records()
		if err != nil {
			t.Fatal(err)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Fatalf("%d with content type %q", rec.Code, ct)
		}
		if rec.Code != 200 {
			var e struct{ Error string }
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" {
				t.Fatalf("%d %q", rec.Code, rec.Body)
			}
			switch rec.Code {
			case 400, 401, 403, 413, 422:
			default:
				t.Fatalf("status %d: %s", rec.Code, e.Error)
			}
			if after != before {
				t.Fatalf("a refused upload (%d) stored %d records", rec.Code, after-before)
			}
			return
		}
		var ack store.SyncAck
		if err := json.Unmarshal(rec.Body.Bytes(), &ack); err != nil {
			t.Fatal(err)
		}
		c, err := manifest.ParseChunk(bytes.NewReader(body), lim)
		if err != nil {
			t.Fatalf("accepted a chunk the parser refuses: %v", err)
		}
		if ack.Station != c.Station || ack.AckedSeq != c.NextSince || ack.Count != len(c.Records) ||
			ack.New > ack.Count || ack.Bindings > ack.Count || ack.Conflicts > ack.Count {
			t.Fatalf("ack %+v for %d records of %s up to %d", ack, len(c.Records), c.Station, c.NextSince)
		}
		for i := range c.Records {
			r := &c.Records[i]
			b, _, ok, err := bolt.Lookup(context.Background(), string(r.UID))
			if err != nil || !ok {
				t.Fatalf("record %s: no binding after an accepted upload: %v", r.UID, err)
			}
			if b.StationID == r.StationID && b.Seq < r.Seq {
				t.Fatalf("binding %+v older than its station's record %d", b, r.Seq)
			}
			if r.StationID != "line-1" && isSeeded(string(r.UID)) && b.StationID != "line-1" {
				t.Fatalf("station %s took over line-1's tag: %+v", r.StationID, b)
			}
		}
	})
}

func isSeeded(uid string) bool {
	for i := range 4 {
		if uid == string(uidHex(testUID(i))) {
			return true
		}
	}
	return false
}

var (
	tapStatuses = map[int]bool{200: true, 400: true, 403: true, 404: true, 409: true}
	muxStatuses = map[int]bool{400: true, 301: true, 307: true, 308: true, 404: true, 405: true}
)

// FuzzTapURL feeds arbitrary request targets to the tap verifier, through
// Server.Verify and through the HTTP handler as the server parses a
// request line. Seeds: real SUN URLs of bound tags (both key versions),
// forged and malformed ones. Whatever comes in: a documented result, no
// store failure, a genuine answer only for a bound tag above its station's
// counter, and never twice for one (UID, counter).
func FuzzTapURL(f *testing.F) {
	s := fuzzServer(f)
	d1, d2 := deriver(f, 1), deriver(f, 2)
	for _, u := range []string{
		sunURL(f, d1, testUID(0), 2), sunURL(f, d1, testUID(1), 7), sunURL(f, d2, testUID(3), 2),
		sunURL(f, d1, testUID(9), 2), forge(sunURL(f, d1, testUID(2), 3)), sunURL(f, d1, testUID(0), 1),
		sunURL(f, d1, testUID(0), 0xFFFFFF), sunURL(f, d1, testUID(2), 4) + "&x=1",
	} {
		f.Add(tapPath(u))
	}
	f.Add("/t?picc_data=&cmac=")
	f.Add("/t")
	genuine := map[string]bool{}
	f.Fuzz(func(t *testing.T, target string) {
		checkTap(t, s.Verify(context.Background(), "https://brand.example"+target), genuine)
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET " + target + " HTTP/1.1\r\nHost: brand.example\r\nAccept: application/json\r\n\r\n")))
		if err != nil {
			return
		}
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		if rec.Header().Get("Cache-Control") != "no-store" {
			// Not a tap answer: the mux's 404 for another path, or its
			// redirect to the cleaned path ("/./t" to "/t"), its 400 for "*".
			if !muxStatuses[rec.Code] {
				t.Fatalf("GET %q: status %d %s", target, rec.Code, rec.Body)
			}
			return
		}
		if !tapStatuses[rec.Code] {
			t.Fatalf("GET %q: status %d %s", target, rec.Code, rec.Body)
		}
		{
			var a serve.TapAnswer
			if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
				t.Fatalf("GET %q: %d %q", target, rec.Code, rec.Body)
			}
			checkTap(t, a, genuine)
		}
	})
}

func checkTap(t *testing.T, a serve.TapAnswer, genuine map[string]bool) {
	t.Helper()
	switch a.Result {
	case serve.ResultGenuine:
		k := string(a.UID) + "/" + strconv.FormatUint(uint64(a.ReadCtr), 10)
		if !isSeeded(string(a.UID)) || a.ReadCtr <= 1 || genuine[k] {
			t.Fatalf("genuine %+v (seen before: %v)", a, genuine[k])
		}
		genuine[k] = true
	case serve.ResultReplayed, serve.ResultUnknown, serve.ResultBadMAC, serve.ResultMalformed:
	default:
		t.Fatalf("result %+v", a)
	}
}
