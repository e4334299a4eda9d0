package cmd

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tagline-station/tagline/internal/pgtest"
	"github.com/tagline-station/tagline/qa"
	"github.com/tagline-station/tagline/reader/sim"
)

// syncLine is a station encoding with --sync in the background, its tags
// kept so that the test can tap them as a phone would.
type syncLine struct {
	t      *testing.T
	c      *cli
	out    *syncBuffer
	errb   *syncBuffer
	mu     sync.Mutex
	tags   map[string]*sim.Tag
	cancel context.CancelFunc
	done   chan result
}

func startSyncingStation(t *testing.T, c *cli, endpoint, tokFile, keyFile string) *syncLine {
	t.Helper()
	return startStation(t, c, "--journal", "j.db", "--batch", "b1", "--reader", "sim", "--json",
		"--sim-interval", "150ms", "--master-key-file", keyFile, "--sync", endpoint, "--token-file", tokFile)
}

// startStation runs tagline encode with args until the test stops it,
// keeping its output and the simulated tags it presented.
func startStation(t *testing.T, c *cli, args ...string) *syncLine {
	t.Helper()
	s := &syncLine{t: t, out: &syncBuffer{}, errb: &syncBuffer{}, tags: map[string]*sim.Tag{}, done: make(chan result, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	sc := *c
	sc.ctx, sc.stdout, sc.stderr = ctx, s.out, s.errb
	sc.simPresented = func(tag *sim.Tag) {
		s.mu.Lock()
		s.tags[strings.ToUpper(hexUID(tag.UID()))] = tag
		s.mu.Unlock()
	}
	s.c = &sc
	go func() { s.done <- sc.run(append([]string{"encode"}, args...)...) }()
	t.Cleanup(func() { s.stop() })
	return s
}

func hexUID(b []byte) string {
	const digits = "0123456789ABCDEF"
	out := make([]byte, 0, 2*len(b))
	for _, x := range b {
		out = append(out, digits[x>>4], digits[x&15])
	}
	return string(out)
}

func (s *syncLine) stop() result {
	s.cancel()
	select {
	case r := <-s.done:
		s.done <- r
		return r
	case <-time.After(20 * time.Second):
		s.t.Fatal("encode did not stop")
	}
	return result{}
}

// passes waits for at least n PASS lines and returns them with the time
// the n-th was seen.
func (s *syncLine) passes(n int) ([]tagLine, time.Time) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var ok []tagLine
		for _, l := range parseTagLines(s.t, s.out.String()) {
			if l.Outcome == "encoded" {
				ok = append(ok, l)
			}
		}
		if len(ok) >= n {
			return ok, time.Now()
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.t.Fatalf("fewer than %d tags encoded in 30s:\n%s", n, s.out.String())
	return nil, time.Time{}
}

// waitText waits for the station to say sub on stderr.
func (s *syncLine) waitText(sub string, d time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(s.errb.String(), sub) {
		if time.Now().After(deadline) {
			s.t.Fatalf("station did not say %q within %s:\n%s", sub, d, s.errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// phoneTap reads the tag afresh as a phone does (once the station took it
// away) and taps the backend with it.
func (s *syncLine) phoneTap(addr, uid string) (int, map[string]any) {
	s.t.Helper()
	code, ans, _ := tap(s.t, addr, s.phoneRead(uid), true)
	return code, ans
}

// phoneRead reads the tag afresh as a phone does and returns its URL.
func (s *syncLine) phoneRead(uid string) string {
	s.t.Helper()
	s.mu.Lock()
	tag := s.tags[uid]
	s.mu.Unlock()
	if tag == nil {
		s.t.Fatalf("no simulated tag %s", uid)
	}
	r := sim.NewReader("phone")
	r.Present(tag)
	defer r.Remove()
	c, err := r.WaitTag(context.Background())
	if err != nil {
		s.t.Fatal(err)
	}
	u, err := qa.ReadURL(context.Background(), c)
	if err != nil {
		s.t.Fatal(err)
	}
	return u
}

// genuineWithin taps the tag until the backend accepts it as genuine.
func (s *syncLine) genuineWithin(addr, uid string, d time.Duration) time.Duration {
	s.t.Helper()
	start := time.Now()
	for {
		// The feeder takes the tag away 150 ms after its result; a phone
		// reading it before then would race the station for it.
		time.Sleep(20 * time.Millisecond)
		code, ans := s.phoneTap(addr, uid)
		if code == http.StatusOK && ans["result"] == "genuine" {
			return time.Since(start)
		}
		if time.Since(start) > d {
			s.t.Fatalf("tag %s not accepted within %s: %d %v", uid, d, code, ans)
		}
	}
}

// encode --sync against a running serve: a tag is a genuine phone tap
// within 2 s of its PASS; with the backend down the station keeps
// encoding, and when it is back the backlog drains and nothing is lost.
func TestEncodeSyncToServe(t *testing.T) {
	t.Run("bolt", func(t *testing.T) {
		testEncodeSync(t, func(c *cli) string { return "bolt:" + c.path("serve.db") })
	})
	t.Run("postgres", func(t *testing.T) {
		pg := pgtest.Start(t)
		testEncodeSync(t, func(*cli) string { return pg.CreateDB(t, "sync") })
	})
}

func testEncodeSync(t *testing.T, store func(*cli) string) {
	c := newCLI(t)
	keyFile := c.write("master.key", testKeyHex+"\n", 0o600)
	tokFile := c.write("sync.token", testSyncToken+"\n", 0o600)
	c.must(0, "batch", "new", "--journal", "j.db", "--id", "b1", "--sku", "SKU-1", "--target", "1000", "--key-version", "1", "--template", demoTemplate)
	st := store(c)
	serveArgs := func(listen string) []string {
		return []string{"--listen", listen, "--store", st, "--template", demoTemplate, "--master-key-file", keyFile, "--token-file", tokFile, "--accept-simulated"}
	}
	addr, stopServe := startServe(t, c, serveArgs("127.0.0.1:0")...)

	s := startSyncingStation(t, c, "http://"+addr, tokFile, keyFile)
	ls, _ := s.passes(1)
	d := s.genuineWithin(addr, ls[0].UID, 2*time.Second)
	t.Logf("first tag a genuine tap %s after its PASS line was read", d)
	if d > 2*time.Second {
		t.Fatalf("first tag accepted after %s", d)
	}

	// The backend goes away; the station keeps encoding.
	if r := stopServe(); r.code != 0 {
		t.Fatalf("serve: %s", r)
	}
	ls, _ = s.passes(len(ls) + 4)
	down := len(ls)
	s.waitText("unreachable", 20*time.Second)

	// Back on the same address: the backlog drains, and a tag encoded
	// during the outage is accepted.
	_, _ = startServe(t, c, serveArgs(addr)...)
	s.waitText("answers again", 30*time.Second)
	s.genuineWithin(addr, ls[down-1].UID, 2*time.Second)
	ls, _ = s.passes(down + 2)
	s.genuineWithin(addr, ls[len(ls)-1].UID, 2*time.Second)

	r := s.stop()
	if r.code != 0 || !strings.Contains(r.stderr, "sync: all sent to http://"+addr) {
		t.Fatalf("encode: %s", r)
	}
	// Every tag of the run is known to the backend: none was lost.
	for _, l := range parseTagLines(t, r.stdout) {
		if l.Outcome != "encoded" {
			continue
		}
		if code, ans := s.phoneTap(addr, l.UID); code != http.StatusOK || ans["result"] != "genuine" {
			t.Errorf("tag %s after the run: %d %v", l.UID, code, ans)
		}
	}
	sum := parseSyncJSON(t, c.must(0, "sync", "--endpoint", "http://"+addr, "--journal", "j.db", "--token-file", tokFile, "--json").stdout)
	if sum.Pending != 0 || sum.Records != 0 {
		t.Errorf("left for tagline sync: %+v", sum)
	}
	assertNoSecret(t, testSyncToken, r)
}

// sync in the config file turns the background sync on; a backend that
// is down does not stop the station, which says what is left to send.
func TestEncodeSyncFromConfigWithTheBackendDown(t *testing.T) {
	c := newCLI(t)
	keyFile := c.write("master.key", testKeyHex+"\n", 0o600)
	c.must(0, "batch", "new", "--journal", "j.db", "--id", "b1", "--sku", "SKU-1", "--target", "10", "--key-version", "1", "--template", demoTemplate)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := l.Addr().String()
	l.Close()
	c.write("cfg.toml", "sync = \"http://"+down+"\"\n", 0o600)
	start := time.Now()
	r := c.must(0, "--config", "cfg.toml", "encode", "--journal", "j.db", "--batch", "b1", "--reader", "sim", "--count", "3", "--no-tui",
		"--sim-interval", "1ms", "--master-key-file", keyFile)
	if n := strings.Count(r.stdout, "PASS  "); n != 3 {
		t.Fatalf("%d tags with the backend down:\n%s", n, r)
	}
	if !strings.Contains(r.stderr, "sync: http://"+down+"/v1/sync unreachable") ||
		!strings.Contains(r.stdout, "; sync: 3 not yet acknowledged by http://"+down+"/v1/sync") {
		t.Fatalf("sync state not shown:\n%s", r)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("encode took %s with the backend down", d)
	}

	c.write("bad.toml", "sync = \"backend.example\"\n", 0o600)
	r = c.must(2, "--config", "bad.toml", "encode", "--journal", "j.db", "--batch", "b1", "--reader", "sim", "--count", "1", "--master-key-file", keyFile)
	if !strings.Contains(r.stderr, "bad.toml:1: sync: must be the backend's http or https URL") {
		t.Errorf("bad sync key: %s", r.stderr)
	}
	c.must(2, "encode", "--journal", "j.db", "--batch", "b1", "--reader", "sim", "--count", "1", "--master-key-file", keyFile, "--token-file", keyFile)
}
