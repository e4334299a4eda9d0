package serve_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tagline-station/tagline/internal/pgtest"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/serve"
	"github.com/tagline-station/tagline/syncer"
)

// pgBackend makes servers over fresh databases of one private server.
func pgBackend(pg *pgtest.Server) backend {
	var n atomic.Int64
	return func(t testing.TB, mod func(*serve.Config)) (*serve.Server, *httptest.Server) {
		t.Helper()
		cfg := baseConfig(t)
		cfg.PostgresURL = pg.CreateDB(t, fmt.Sprintf("db%d", n.Add(1)))
		if mod != nil {
			mod(&cfg)
		}
		return start(t, cfg)
	}
}

// The behaviour tests of the bbolt store, again on PostgreSQL, and the
// tests that only make sense with several instances.
func TestPostgres(t *testing.T) {
	pg := pgtest.Start(t)
	newPG := pgBackend(pg)
	t.Run("TapResults", func(t *testing.T) { testTapResults(t, newPG) })
	t.Run("TapBrowserAnswers", func(t *testing.T) { testTapBrowserAnswers(t, newPG) })
	t.Run("SyncUploadRules", func(t *testing.T) { testSyncUploadRules(t, newPG) })
	t.Run("KeyVersions", func(t *testing.T) { testKeyVersions(t, newPG) })
	t.Run("Rollout", func(t *testing.T) { testRollout(t, newPG) })
	t.Run("StationCannotTakeOverTags", func(t *testing.T) { testStationTakeover(t, newPG) })
	t.Run("ClockAheadAndRecordRules", func(t *testing.T) { testClockAheadAndRecordRules(t, newPG) })
	t.Run("TwoInstancesConcurrentTaps", func(t *testing.T) { testTwoInstances(t, pg) })
	t.Run("TwoStationsBindOneTagAtOnce", func(t *testing.T) { testTwoStationsAtOnce(t, pg) })
}

// Two serve instances, each with its own pool, on one database: the same
// tag tapped concurrently on both.
func testTwoInstances(t *testing.T, pg *pgtest.Server) {
	dsn := pg.CreateDB(t, "shared")
	var hs [2]*httptest.Server
	for i := range hs {
		cfg := baseConfig(t)
		cfg.PostgresURL = dsn
		_, hs[i] = start(t, cfg)
	}
	const tags = 3
	bs := bindings(tags, "SKU-A")

	// The same upload delivered to both instances at once: applied once,
	// both answered alike.
	body, _ := manifest.AppendChunk(nil, "line-1", "", 0, bs)
	key := syncer.IdempotencyKey("line-1", 1, tags)
	var wg sync.WaitGroup
	var replays atomic.Int32
	for i := range 2 {
		wg.Go(func() {
			code, ack, h := post(t, hs[i].URL, syncToken, key, body)
			if code != 200 || ack.AckedSeq != tags || ack.New != tags {
				t.Errorf("instance %d: %d %+v", i, code, ack)
			}
			if h.Get("Idempotent-Replayed") == "true" {
				replays.Add(1)
			}
		})
	}
	wg.Wait()
	if replays.Load() != 1 {
		t.Fatalf("%d of 2 deliveries were replays, want 1", replays.Load())
	}

	d := deriver(t, 1)
	const workers = 16 // per counter value, half on each instance

	// 1. One URL, many taps on both instances: exactly one is genuine.
	u := sunURL(t, d, testUID(0), 2)
	var genuine, replayed atomic.Int32
	for w := range workers * 2 {
		wg.Go(func() {
			code, a := tap(t, hs[w%2].URL, u)
			switch {
			case code == 200 && a.Result == serve.ResultGenuine:
				genuine.Add(1)
			case code == 409 && a.Result == serve.ResultReplayed:
				replayed.Add(1)
			default:
				t.Errorf("%d %+v", code, a)
			}
		})
	}
	wg.Wait()
	if genuine.Load() != 1 || replayed.Load() != workers*2-1 {
		t.Fatalf("same URL: %d genuine, %d replayed", genuine.Load(), replayed.Load())
	}

	// 2. Increasing counters, each tapped by many goroutines on both
	// instances at once: exactly one tap per counter value is genuine.
	const counters = 40
	for ctr := uint32(3); ctr < 3+counters; ctr++ {
		u := sunURL(t, d, testUID(1), ctr)
		var g atomic.Int32
		for w := range workers {
			wg.Go(func() {
				if _, a := tap(t, hs[w%2].URL, u); a.Result == serve.ResultGenuine {
					g.Add(1)
				}
			})
		}
		wg.Wait()
		if g.Load() != 1 {
			t.Fatalf("counter %d: %d genuine taps", ctr, g.Load())
		}
	}

	// 3. All counters of a tag at once, in random order, on both
	// instances: no counter value is accepted twice, and the highest one is
	// accepted (nothing can beat it).
	urls := make([]string, counters)
	for i := range urls {
		urls[i] = sunURL(t, d, testUID(2), uint32(2+i))
	}
	acceptedBy := make([]atomic.Int32, counters)
	order := rand.Perm(counters * 4)
	for _, k := range order {
		wg.Go(func() {
			if _, a := tap(t, hs[k%2].URL, urls[k%counters]); a.Result == serve.ResultGenuine {
				acceptedBy[k%counters].Add(1)
			}
		})
	}
	wg.Wait()
	for i := range acceptedBy {
		if n := acceptedBy[i].Load(); n > 1 {
			t.Fatalf("counter %d accepted %d times", 2+i, n)
		}
	}
	if acceptedBy[counters-1].Load() != 1 {
		t.Fatal("the highest counter was not accepted")
	}
}

// Two stations upload a binding of the same new tag at the same instant,
// each to its own serve instance on one database: one binding is made,
// the other record is a conflict, whichever wins.
func testTwoStationsAtOnce(t *testing.T, pg *pgtest.Server) {
	dsn := pg.CreateDB(t, "race")
	var hs [2]*httptest.Server
	var srv *serve.Server
	for i := range hs {
		cfg := baseConfig(t)
		cfg.PostgresURL = dsn
		cfg.Tokens[line2Token] = "line-2"
		srv, hs[i] = start(t, cfg)
	}
	const tags = 20
	for i := range tags {
		a := bindings(1, "SKU-A")
		a[0].UID, a[0].Seq = uidHex(testUID(1000+i)), uint64(i+1)
		b := append([]manifest.Binding(nil), a...)
		b[0].StationID, b[0].SKU = "line-2", "SKU-B"
		var wg sync.WaitGroup
		var binds, conflicts atomic.Int32
		for k, up := range []struct {
			token string
			bs    []manifest.Binding
		}{{syncToken, a}, {line2Token, b}} {
			wg.Go(func() {
				code, ack, _ := upload(t, hs[k].URL, up.token, uint64(i), up.bs)
				if code != 200 {
					t.Errorf("tag %d, station %d: %d", i, k, code)
				}
				binds.Add(int32(ack.Bindings))
				conflicts.Add(int32(ack.Conflicts))
			})
		}
		wg.Wait()
		if binds.Load() != 1 || conflicts.Load() != 1 {
			t.Fatalf("tag %d: %d bindings, %d conflicts; want 1 and 1", i, binds.Load(), conflicts.Load())
		}
	}
	if _, total, err := srv.Store().Conflicts(context.Background(), 0); err != nil || total != tags {
		t.Fatalf("%d conflicts held, want %d: %v", total, tags, err)
	}
}
