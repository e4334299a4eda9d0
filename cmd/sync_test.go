package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/syncer"
)

const testSyncToken = "t0k3n-for-tests-0123456789"

// startServe runs tagline serve in-process until stop is called (or the
// test ends) and returns the address it listens on.
func startServe(t *testing.T, c *cli, args ...string) (addr string, stop func() result) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sc := *c
	sc.ctx = ctx
	out := &syncBuffer{}
	sc.stdout = out
	listening := out.when("listening on http://")
	done := make(chan result, 1)
	go func() { done <- sc.run(append([]string{"serve"}, args...)...) }()
	var once sync.Once
	var res result
	stop = func() result {
		once.Do(func() {
			cancel()
			select {
			case res = <-done:
			case <-time.After(20 * time.Second):
				t.Error("serve did not stop within 20s")
			}
		})
		return res
	}
	t.Cleanup(func() { stop() })
	select {
	case <-listening:
	case r := <-done:
		t.Fatalf("serve ended early: %s", r)
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not listen within 20s")
	}
	m := regexp.MustCompile(`listening on http://(\S+) `).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no address in %q", out.String())
	}
	return m[1], stop
}

// tap GETs a SUN URL's path and query from the server as a phone's API
// client (JSON) or browser would.
func tap(t *testing.T, addr, sunURL string, api bool) (int, map[string]any, http.Header) {
	t.Helper()
	i := strings.Index(sunURL, "/tag?")
	if i < 0 {
		t.Fatalf("not a demo template url: %s", sunURL)
	}
	status, body, header := getAsPhone(t, "http://"+addr+sunURL[i:], api)
	var ans map[string]any
	if api {
		if err := json.Unmarshal(body, &ans); err != nil {
			t.Fatalf("tap answer %d is not JSON: %q", status, body)
		}
	}
	return status, ans, header
}

// getAsPhone GETs url without following redirects, asking for JSON when
// api is set, and returns the status, up to 1 MiB of body and the headers.
func getAsPhone(t *testing.T, url string, api bool) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if api {
		req.Header.Set("Accept", "application/json")
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body, resp.Header
}

func parseSyncJSON(t *testing.T, out string) syncJSON {
	t.Helper()
	var s syncJSON
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("sync summary is not JSON: %v: %q", err, out)
	}
	return s
}

func TestSyncAndServeEndToEnd(t *testing.T) {
	c := newCLI(t)
	l := newLine(t, c, "b1", 3)
	tokFile := c.write("sync.token", testSyncToken+"\n", 0o600)
	addr, stop := startServe(t, c, "--listen", "127.0.0.1:0", "--store", "bolt:"+c.path("serve.db"),
		"--template", demoTemplate, "--master-key-file", l.keyFile, "--token-file", tokFile,
		"--redirect", "SKU-1=https://brand.example/sku-1", "--default-redirect", "https://brand.example/")

	// Before the sync the backend knows no tag: a genuine MAC, unknown tag.
	code, ans, _ := tap(t, addr, l.phoneRead(2), true)
	if code != http.StatusNotFound || ans["result"] != "unknown_tag" {
		t.Fatalf("tap before sync: %d %v", code, ans)
	}

	// Everything pending goes up in chunks; the summary counts it.
	r := c.must(0, "sync", "--endpoint", "http://"+addr, "--journal", l.journal, "--token-file", tokFile, "--chunk", "2", "--json")
	s := parseSyncJSON(t, r.stdout)
	if !s.OK || s.Records != 3 || s.Chunks != 2 || s.SyncedUpto != 3 || s.LastSeq != 3 || s.Pending != 0 ||
		s.Station != "line-1" || s.Endpoint != "http://"+addr+"/v1/sync" {
		t.Fatalf("summary: %+v", s)
	}
	assertNoSecret(t, testSyncToken, r)

	// Again: nothing pending. The token may come from the environment.
	c.env[envSyncTokenFile] = tokFile
	r = c.must(0, "sync", "--endpoint", "http://"+addr+"/v1/sync", "--journal", l.journal)
	if !strings.HasPrefix(r.stdout, "nothing to sync: journal of station line-1 synced up to seq 3 of 3, nothing pending") {
		t.Errorf("second sync: %s", r.stdout)
	}
	delete(c.env, envSyncTokenFile)

	// A phone's fresh read is genuine once; the same URL again, and the
	// URL the station read back at encoding, are replays.
	fresh := l.phoneRead(0)
	code, ans, _ = tap(t, addr, fresh, true)
	if code != http.StatusOK || ans["result"] != "genuine" || ans["uid"] != string(l.uids[0]) || ans["sku"] != "SKU-1" || ans["read_ctr"] != float64(2) {
		t.Fatalf("fresh tap: %d %v", code, ans)
	}
	if code, ans, _ = tap(t, addr, fresh, true); code != http.StatusConflict || ans["result"] != "replayed" {
		t.Fatalf("replayed tap: %d %v", code, ans)
	}
	if code, ans, _ = tap(t, addr, l.stationURLs[1], true); code != http.StatusConflict || ans["result"] != "replayed" {
		t.Fatalf("station url: %d %v", code, ans)
	}
	// A browser is sent to the SKU's page.
	code, _, h := tap(t, addr, l.phoneRead(1), false)
	if code != http.StatusFound || h.Get("Location") != "https://brand.example/sku-1" {
		t.Fatalf("browser tap: %d %v", code, h)
	}

	res := stop()
	if res.code != 0 {
		t.Fatalf("serve after Ctrl-C: %s", res)
	}
	for _, line := range strings.Split(strings.TrimSpace(res.stderr), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("log line is not JSON: %q", line)
		}
	}
	if !strings.Contains(res.stderr, `"msg":"serve stopped"`) || strings.Contains(res.stderr, testSyncToken) {
		t.Errorf("serve log:\n%s", res.stderr)
	}
}

func TestSyncFailures(t *testing.T) {
	c := newCLI(t)
	l := newLine(t, c, "b1", 2)
	tokFile := c.write("sync.token", testSyncToken+"\n", 0o600)

	// Nobody listens: the retries give up, exit 1, and the hint says the
	// station can keep going. The summary still says what is pending.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	r := c.must(1, "sync", "--endpoint", dead, "--journal", l.journal, "--token-file", tokFile, "--attempts", "2")
	if !strings.Contains(r.stderr, "tagline: sync gave up after retries (2 attempts of seq 1..2)") ||
		!strings.Contains(r.stderr, "hint: the station keeps encoding; run tagline sync again later") ||
		!strings.Contains(r.stderr, "attempt 1 of seq 1..2 failed: ") {
		t.Errorf("stderr: %s", r.stderr)
	}
	if !strings.Contains(r.stdout, "synced up to seq 0 of 2, 2 pending") {
		t.Errorf("stdout: %s", r.stdout)
	}
	r = c.must(1, "sync", "--endpoint", dead, "--journal", l.journal, "--attempts", "1", "--json")
	if s := parseSyncJSON(t, r.stdout); s.OK || s.Pending != 2 || !strings.Contains(s.Error, "sync gave up") {
		t.Errorf("json: %+v", s)
	}

	// A backend that refuses the token.
	addr, _ := startServe(t, c, "--listen", "127.0.0.1:0", "--store", "bolt:"+c.path("serve.db"),
		"--template", demoTemplate, "--master-key-file", l.keyFile, "--token-file", c.write("other.token", "another-token-0123456789\n", 0o600))
	r = c.must(1, "sync", "--endpoint", "http://"+addr, "--journal", l.journal, "--token-file", tokFile)
	if !strings.Contains(r.stderr, "401 Unauthorized") || !strings.Contains(r.stderr, "hint: the backend does not know this token") {
		t.Errorf("stderr: %s", r.stderr)
	}
	assertNoSecret(t, testSyncToken, r)

	// The journal held by another process (a running station): exit 6.
	store, err := batch.Open(l.journal, batch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r = c.must(6, "sync", "--endpoint", "http://"+addr, "--journal", l.journal, "--token-file", tokFile)
	store.Close()
	if !strings.Contains(r.stderr, "hint: a running station holds the journal: give it --sync URL") {
		t.Errorf("stderr: %s", r.stderr)
	}

	// Usage errors.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "--endpoint is required"},
		{[]string{"--endpoint", "ftp://x"}, "is not an http or https URL"},
		{[]string{"--endpoint", "http://x", "--chunk", "0"}, "--chunk must be between 1 and 10000"},
		{[]string{"--endpoint", "http://x", "--interval", "1s"}, "--interval only applies with --watch"},
		{[]string{"--endpoint", "http://x", "--token-file", c.path("none")}, "cannot read the token file"},
		{[]string{"--endpoint", "http://x", "--token-file", c.write("two.token", "a b\n", 0o600)}, "must hold exactly one token"},
	} {
		r := c.must(2, append([]string{"sync", "--journal", l.journal}, tc.args...)...)
		if !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, "\nhint: ") {
			t.Errorf("%v: stderr %q lacks %q or a hint", tc.args, r.stderr, tc.want)
		}
	}
	c.must(5, "sync", "--endpoint", "http://x", "--journal", c.path("none.db"))
}

func TestSyncWatch(t *testing.T) {
	c := newCLI(t)
	l := newLine(t, c, "b1", 2)
	tokFile := c.write("sync.token", testSyncToken+"\n", 0o600)
	addr, _ := startServe(t, c, "--listen", "127.0.0.1:0", "--store", "bolt:"+c.path("serve.db"),
		"--template", demoTemplate, "--master-key-file", l.keyFile, "--token-file", tokFile)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wc := *c
	wc.ctx = ctx
	out := &syncBuffer{}
	wc.stdout = out
	synced := out.when("synced 2 records")
	done := make(chan result, 1)
	go func() {
		done <- wc.run("sync", "--endpoint", "http://"+addr, "--journal", l.journal, "--token-file", tokFile, "--watch", "--interval", "20ms")
	}()
	waitOrFail(t, synced, 20*time.Second, "the first round")
	// Between rounds the journal is free: the station could take it.
	store, err := batch.Open(l.journal, batch.Options{LockTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("journal not free between rounds: %v", err)
	}
	store.Close()
	cancel()
	r := <-done
	if r.code != 0 || !strings.Contains(r.stderr, "sync stopped: 2 records acknowledged in this session") ||
		strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("watch: %s", r)
	}
}

func TestSyncExitCodes(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{syncError(nil), 0},
		{syncError(fmt.Errorf("x: %w", syncer.ErrGaveUp)), 1},
		{syncError(fmt.Errorf("%w: %w", syncer.ErrRejected, &syncer.HTTPError{Status: 401})), 1},
		{syncError(fmt.Errorf("x: %w", syncer.ErrBadAck)), 1},
		{syncError(fmt.Errorf("x: %w", batch.ErrLocked)), 6},
		{syncError(errors.New("sync: recording the ack of seq 3: disk full")), 5},
		{syncError(fmt.Errorf("x: %w", batch.ErrCorrupt)), 5},
	} {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
	if h := hintOf(syncError(fmt.Errorf("x: %w", syncer.ErrGaveUp))); !strings.Contains(h, "the station keeps encoding") {
		t.Errorf("hint %q", h)
	}
	if h := hintOf(syncError(fmt.Errorf("%w: %w", syncer.ErrRejected, &syncer.HTTPError{Status: 413}))); !strings.Contains(h, "--chunk") {
		t.Errorf("hint %q", h)
	}
	// A refused record is not a token problem: the hint speaks of the
	// record and the station's clock.
	if h := hintOf(syncError(fmt.Errorf("%w: %w", syncer.ErrRejected, &syncer.HTTPError{Status: 422}))); !strings.Contains(h, "refused a record") || strings.Contains(h, "token") {
		t.Errorf("hint %q", h)
	}
}

// sync --watch tries again after a network failure or a journal in use,
// and stops on a refusal or any other journal error.
func TestSyncFatal(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("x: %w", syncer.ErrGaveUp), false},
		{fmt.Errorf("x: %w", syncer.ErrBadAck), false},
		{fmt.Errorf("open: %w", batch.ErrLocked), false},
		{fmt.Errorf("%w: %w", syncer.ErrRejected, &syncer.HTTPError{Status: 401}), true},
		{fmt.Errorf("x: %w", batch.ErrCorrupt), true},
		{errors.New("sync: recording the ack of seq 3: disk full"), true},
	} {
		if got := syncFatal(tc.err); got != tc.want {
			t.Errorf("syncFatal(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
