package syncer_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/syncer"
)

// The record lines of a chunk are byte for byte those of Export.
func TestRecordsAreManifestRecords(t *testing.T) {
	s := newJournal(t, 30)
	pend, err := s.Pending(1000)
	if err != nil || len(pend) != 30 {
		t.Fatalf("pending %d %v", len(pend), err)
	}
	// A SKU that needs escaping, through a batch of its own.
	if _, err := s.CreateBatch(batch.Batch{ID: "b3", SKU: "Cap \"Ø\" 30mm, blue\\", Target: 1, KeyVersion: 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.BeginIntent(batch.Intent{UID: "04FFFFFFFFFF01", BatchID: "b3", KeyVersion: 1, MasterKCV: "A1B2C3"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Complete(manifest.Binding{UID: "04FFFFFFFFFF01", KeyVersion: 1, Outcome: manifest.Encoded, CompletedAt: time.Date(2026, 3, 2, 8, 0, 5, 730120000, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	pend, _ = s.Pending(1000)
	for _, id := range []string{"b1", "b2", "b3"} {
		var exp bytes.Buffer
		if _, err := s.Export(&exp, id, batch.ExportOptions{}); err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitAfter(exp.String(), "\n")
		lines = lines[1 : len(lines)-2] // header, trailer, ""
		var mine []string
		for i := range pend {
			if pend[i].BatchID == id {
				mine = append(mine, string(manifest.AppendRecord(nil, &pend[i])))
			}
		}
		if len(mine) != len(lines) {
			t.Fatalf("%s: %d records, export has %d", id, len(mine), len(lines))
		}
		for i := range lines {
			if lines[i] != mine[i] {
				t.Fatalf("%s record %d:\nexport %s\nsync   %s", id, i, lines[i], mine[i])
			}
		}
	}
}

func TestChunkRoundTripAndTampering(t *testing.T) {
	s := newJournal(t, 10)
	pend, _ := s.Pending(100)
	body, sum := manifest.AppendChunk(nil, station, "", 0, pend)
	c, err := manifest.ParseChunk(bytes.NewReader(body), manifest.Limits{MaxRecords: 0})
	if err != nil {
		t.Fatal(err)
	}
	if c.Station != station || c.Since != 0 || c.NextSince != 10 || len(c.Records) != 10 || c.SHA256 != sum {
		t.Fatalf("%+v", c)
	}
	if c.Records[3].UID != pend[3].UID || !c.Records[3].CompletedAt.Equal(pend[3].CompletedAt) {
		t.Fatalf("record 3: %+v vs %+v", c.Records[3].Binding, pend[3])
	}
	lines := strings.SplitAfter(string(body), "\n")
	lines = lines[:len(lines)-1]
	join := func(ls ...string) string { return strings.Join(ls, "") }
	rest := func(from, to int) string { return join(lines[from:to]...) }
	n := len(lines)
	cases := map[string]string{
		"empty":            "",
		"no trailer":       rest(0, n-1),
		"truncated":        strings.TrimSuffix(string(body), "\n"),
		"record dropped":   rest(0, 3) + rest(4, n),
		"records swapped":  rest(0, 2) + lines[3] + lines[2] + rest(4, n),
		"record altered":   strings.Replace(string(body), `"sku":"SKU-b1"`, `"sku":"SKU-bX"`, 1),
		"other station":    strings.Replace(string(body), `"station":"line-1"`, `"station":"line-2"`, 1),
		"wrong format":     strings.Replace(string(body), "tagline-sync/1", "tagline-manifest/1", 1),
		"after trailer":    string(body) + lines[1],
		"since above seqs": strings.Replace(string(body), `"since":0`, `"since":5`, 1),
		"lower-case uid":   strings.Replace(string(body), `"uid":"04`, `"uid":"04a`, 1),
	}
	for name, in := range cases {
		if _, err := manifest.ParseChunk(strings.NewReader(in), manifest.Limits{MaxRecords: 0}); !errors.Is(err, manifest.ErrChunk) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := manifest.ParseChunk(bytes.NewReader(body), manifest.Limits{MaxRecords: 9}); !errors.Is(err, manifest.ErrChunk) {
		t.Errorf("over the record limit: %v", err)
	}
}

func TestSyncsEverythingInChunks(t *testing.T) {
	s := newJournal(t, 60)
	rm := newRemote(t)
	var fs fakeSleep
	o := opts(rm, &fs)
	var events []syncer.Progress
	o.Progress = func(p syncer.Progress) { events = append(events, p) }
	sum, err := syncer.Run(context.Background(), s, o)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Chunks != 3 || sum.Records != 60 || sum.Attempts != 3 || sum.SyncedUpto != 60 || sum.Last != 60 {
		t.Fatalf("%+v", sum)
	}
	rm.applied(t, 60)
	if len(events) != 3 || events[1].FirstSeq != 26 || events[1].LastSeq != 50 || events[1].SyncedUpto != 50 {
		t.Fatalf("events %+v", events)
	}
	// Nothing left: a second run sends nothing.
	sum, err = syncer.Run(context.Background(), s, o)
	if err != nil || sum.Attempts != 0 {
		t.Fatalf("%+v %v", sum, err)
	}
}

func TestServerFailsThenRecovers(t *testing.T) {
	s := newJournal(t, 40)
	rm := newRemote(t)
	rm.before = func(w http.ResponseWriter, r *http.Request, n int, c *manifest.Chunk) bool {
		if n <= 3 || n == 5 {
			http.Error(w, "db down", http.StatusInternalServerError)
			return true
		}
		return false
	}
	var fs fakeSleep
	sum, err := syncer.Run(context.Background(), s, opts(rm, &fs))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Attempts != 6 || sum.Chunks != 2 || sum.SyncedUpto != 40 {
		t.Fatalf("%+v", sum)
	}
	rm.applied(t, 40)
	// Exponential: 100ms, 200ms, 400ms (Rand pinned to the top), then the
	// next chunk starts again at 100ms.
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 100 * time.Millisecond}
	if len(fs.waits) != len(want) {
		t.Fatalf("waits %v", fs.waits)
	}
	for i := range want {
		if fs.waits[i] != want[i] {
			t.Fatalf("waits %v, want %v", fs.waits, want)
		}
	}
}

func TestJitterAndCap(t *testing.T) {
	s := newJournal(t, 5)
	rm := newRemote(t)
	rm.before = func(w http.ResponseWriter, r *http.Request, n int, c *manifest.Chunk) bool {
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return true
	}
	var fs fakeSleep
	o := opts(rm, &fs)
	o.MaxAttempts = 6
	o.Rand = func() float64 { return 0 } // the bottom of the range: d/2
	sum, err := syncer.Run(context.Background(), s, o)
	if !errors.Is(err, syncer.ErrGaveUp) || sum.Attempts != 6 || sum.SyncedUpto != 0 {
		t.Fatalf("%+v %v", sum, err)
	}
	var herr *syncer.HTTPError
	if !errors.As(err, &herr) || herr.Status != 503 {
		t.Fatalf("%v", err)
	}
	want := []time.Duration{50, 100, 200, 400, 500}
	for i, w := range want {
		if fs.waits[i] != w*time.Millisecond {
			t.Fatalf("waits %v", fs.waits)
		}
	}
	// Retry-After is honoured (up to MaxBackoff).
	fs.waits = nil
	rm.before = func(w http.ResponseWriter, r *http.Request, n int, c *manifest.Chunk) bool {
		if n%2 == 1 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return true
		}
		return false
	}
	if _, err := syncer.Run(context.Background(), s, o); err != nil {
		t.Fatal(err)
	}
	if len(fs.waits) != 1 || fs.waits[0] != time.Second {
		t.Fatalf("waits %v", fs.waits)
	}
}

func TestRequestTimeout(t *testing.T) {
	s := newJournal(t, 20)
	rm := newRemote(t)
	release := make(chan struct{})
	defer close(release)
	rm.before = func(w http.ResponseWriter, r *http.Request, n int, c *manifest.Chunk) bool {
		if n == 1 {
			select { // hang past the client's deadline
			case <-release:
			case <-r.Context().Done():
			}
			return true
		}
		return false
	}
	var fs fakeSleep
	o := opts(rm, &fs)
	o.RequestTimeout = 150 * time.Millisecond
	start := time.Now()
	sum, err := syncer.Run(context.Background(), s, o)
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("took %v", el)
	}
	// The first attempt timed out; the next ones answer at once (on a
	// loaded machine one more may exceed the short deadline).
	if sum.Attempts < 2 || sum.SyncedUpto != 20 || len(fs.waits) != sum.Attempts-1 {
		t.Fatalf("%+v waits %v", sum, fs.waits)
	}
	rm.applied(t, 20)
}

// The remote applies a chunk but its answer is lost; the retry carries the
// same key and gets the stored answer. Nothing is applied twice and the
// cursor ends where it should.
func TestDeliveredTwice(t *testing.T) {
	s := newJournal(t, 30)
	rm := newRemote(t)
	var lost atomic.Bool
	rm.before = func(w http.ResponseWriter, r *http.Request, n int, c *manifest.Chunk) bool {
		if n != 1 {
			return false
		}
		// Apply it, then drop the connection before the client reads the
		// answer.
		rm.apply(c, r.Header.Get("Idempotency-Key"))
		lost.Store(true)
		hj, _ := w.(http.Hijacker)
		conn, _, err := hj.Hijack()
		if err == nil {
			conn.Close()
		}
		return true
	}
	var fs fakeSleep
	o := opts(rm, &fs)
	sum, err := syncer.Run(context.Background(), s, o)
	if err != nil {
		t.Fatal(err)
	}
	if !lost.Load() || sum.Replayed != 1 || sum.SyncedUpto != 30 || sum.Attempts != 3 {
		t.Fatalf("%+v", sum)
	}
	rm.applied(t, 30)
}

// A remote that takes fewer records than it was sent: the cursor moves
// only to what it acknowledged, and the next chunk starts right after.
func TestPartialAck(t *testing.T) {
	s := newJournal(t, 50)
	rm := newRemote(t)
	rm.ackLimit = 10
	rm.before = func(w http.ResponseWriter, r *http.Request, n int, c *manifest.Chunk) bool {
		// Nothing of this chunk is marked synced while it is in flight.
		if up, _ := syncState(t, s); up >= c.Records[0].Seq {
			t.Errorf("cursor %d already covers chunk starting at %d", up, c.Records[0].Seq)
		}
		return false
	}
	var fs fakeSleep
	sum, err := syncer.Run(context.Background(), s, opts(rm, &fs))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Chunks != 5 || sum.Records != 50 || sum.SyncedUpto != 50 {
		t.Fatalf("%+v", sum)
	}
	rm.applied(t, 50)
	want := []uint64{1, 11, 21, 31, 41}
	for i := range want {
		if rm.first[i] != want[i] {
			t.Fatalf("chunks started at %v", rm.first)
		}
	}
}

func TestBadAckMovesNothing(t *testing.T) {
	for name, body := range map[string]string{
		"beyond the chunk": `{"acked_seq":26}`,
		"before the chunk": `{"acked_seq":0}`,
		"other station":    `{"station":"line-9","acked_seq":25}`,
	} {
		t.Run(name, func(t *testing.T) {
			s := newJournal(t, 30)
			rm := newRemote(t)
			rm.before = func(w http.ResponseWriter, r *http.Request, n int, c *manifest.Chunk) bool {
				w.Write([]byte(body))
				return true
			}
			var fs fakeSleep
			sum, err := syncer.Run(context.Background(), s, opts(rm, &fs))
			if !errors.Is(err, syncer.ErrBadAck) || sum.SyncedUpto != 0 {
				t.Fatalf("%+v %v", sum, err)
			}
		})
	}
}

func TestRejectedIsNotRetried(t *testing.T) {
	s := newJournal(t, 5)
	rm := newRemote(t)
	var fs fakeSleep
	o := opts(rm, &fs)
	o.Token = "wrong"
	sum, err := syncer.Run(context.Background(), s, o)
	var herr *syncer.HTTPError
	if !errors.Is(err, syncer.ErrRejected) || !errors.As(err, &herr) || herr.Status != 401 || sum.Attempts != 1 || len(fs.waits) != 0 {
		t.Fatalf("%+v %v", sum, err)
	}
	if up, _ := syncState(t, s); up != 0 {
		t.Fatalf("cursor %d", up)
	}
}

// The remote goes away in the middle of a run: what it acknowledged stays
// acknowledged, nothing else is, and a later run against a fresh remote
// resumes right after the last ack.
func TestRemoteDiesMidRun(t *testing.T) {
	s := newJournal(t, 75)
	rm := newRemote(t)
	rm.before = func(w http.ResponseWriter, r *http.Request, n int, c *manifest.Chunk) bool {
		// Every request from the second on dies: a retry can reach the
		// listener before the Close below has shut it.
		if n >= 2 {
			if up, _ := syncState(t, s); up != 25 {
				t.Errorf("cursor %d while chunk 2 is in flight", up)
			}
			if n == 2 {
				go rm.srv.Close() // kill the server with this request in flight
			}
			hj, _ := w.(http.Hijacker)
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
			}
			return true
		}
		return false
	}
	var fs fakeSleep
	o := opts(rm, &fs)
	o.MaxAttempts = 3
	sum, err := syncer.Run(context.Background(), s, o)
	if !errors.Is(err, syncer.ErrGaveUp) {
		t.Fatalf("%+v %v", sum, err)
	}
	if up, last := syncState(t, s); up != 25 || last != 75 || sum.SyncedUpto != 25 {
		t.Fatalf("cursor %d of %d after the remote died; summary %+v", up, last, sum)
	}
	// The station keeps encoding meanwhile.
	addBindings(t, s, 75, 80)
	rm2 := newRemote(t)
	o.Endpoint = rm2.url()
	sum, err = syncer.Run(context.Background(), s, o)
	if err != nil || sum.SyncedUpto != 80 || sum.Records != 55 {
		t.Fatalf("%+v %v", sum, err)
	}
	if rm2.first[0] != 26 {
		t.Fatalf("resumed at %d", rm2.first[0])
	}
}

// While a chunk is in flight the journal keeps taking bindings: a sync
// never holds it.
func TestEncodingContinuesDuringSync(t *testing.T) {
	s := newJournal(t, 10)
	rm := newRemote(t)
	inFlight := make(chan struct{})
	release := make(chan struct{})
	rm.before = func(w http.ResponseWriter, r *http.Request, n int, c *manifest.Chunk) bool {
		if n == 1 {
			close(inFlight)
			<-release
		}
		return false
	}
	var fs fakeSleep
	done := make(chan error, 1)
	go func() {
		_, err := syncer.Run(context.Background(), s, opts(rm, &fs))
		done <- err
	}()
	<-inFlight
	start := time.Now()
	addBindings(t, s, 10, 20)
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("binding during a sync took %v", el)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if up, last := syncState(t, s); up != 20 || last != 20 {
		t.Fatalf("%d/%d", up, last)
	}
}

func TestWatch(t *testing.T) {
	s := newJournal(t, 10)
	rm := newRemote(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var fs fakeSleep
	o := opts(rm, &fs)
	o.Watch = time.Minute
	idle := 0
	o.Progress = func(p syncer.Progress) {
		if p.Kind != syncer.EvIdle {
			return
		}
		idle++
		switch idle {
		case 1:
			addBindings(t, s, 10, 15) // encoded between two rounds
		case 2:
			cancel()
		}
	}
	o.Sleep = func(ctx context.Context, d time.Duration) error {
		if d != time.Minute {
			t.Errorf("watch wait %v", d)
		}
		return ctx.Err()
	}
	sum, err := syncer.Run(ctx, s, o)
	if !errors.Is(err, context.Canceled) || sum.SyncedUpto != 15 || sum.Chunks != 2 {
		t.Fatalf("%+v %v", sum, err)
	}
	rm.applied(t, 15)
}
