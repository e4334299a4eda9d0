package serve_test

import (
	"testing"

	"github.com/tagline-station/tagline/serve"
)

func TestRollout(t *testing.T) { testRollout(t, newBolt) }

// testRollout: during a rollout 1:2 a tag bound with version 1 is genuine
// with either version's keys (the counter checked against its one record,
// the answer naming the version that worked), a message with version 1's
// keys for a tag bound with 2 is refused, and the station's new binding
// (version 2, same station, higher seq) is applied.
func testRollout(t *testing.T, newSrv backend) {
	_, hs := newSrv(t, func(c *serve.Config) { c.Rollout = serve.Rollout{From: 1, To: 2} })
	bs := bindings(2, "SKU-A")
	if code, ack, _ := upload(t, hs.URL, syncToken, 0, bs); code != 200 || ack.Bindings != 2 {
		t.Fatalf("upload: %d %+v", code, ack)
	}
	d1, d2 := deriver(t, 1), deriver(t, 2)
	for i, c := range []struct {
		url     string
		result  string
		version int
	}{
		{sunURL(t, d1, testUID(0), 2), serve.ResultGenuine, 1}, // not rekeyed yet
		{sunURL(t, d2, testUID(0), 3), serve.ResultGenuine, 2}, // rekeyed, binding not synced yet
		{sunURL(t, d2, testUID(0), 3), serve.ResultReplayed, 2},
		{sunURL(t, d1, testUID(0), 3), serve.ResultReplayed, 1}, // one counter for both versions
		{sunURL(t, d2, testUID(1), 2), serve.ResultGenuine, 2},
	} {
		_, a := tap(t, hs.URL, c.url)
		if a.Result != c.result || (a.Result == serve.ResultGenuine && a.KeyVersion != c.version) {
			t.Fatalf("tap %d: %+v, want %s with version %d", i, a, c.result, c.version)
		}
	}
	// The station syncs the rekeyed binding of tag 0.
	nb := bs[0]
	nb.KeyVersion, nb.Seq, nb.ReadCtr = 2, 3, 3
	if code, ack, _ := upload(t, hs.URL, syncToken, 2, append(bs[:0:0], nb)); code != 200 || ack.Bindings != 1 || ack.Conflicts != 0 {
		t.Fatalf("rekeyed binding: %d %+v", code, ack)
	}
	if _, a := tap(t, hs.URL, sunURL(t, d2, testUID(0), 4)); a.Result != serve.ResultGenuine || a.KeyVersion != 2 {
		t.Fatalf("after sync: %+v", a)
	}
	// Bound with 2 now: version 1's keys are not the tag's any more.
	if _, a := tap(t, hs.URL, sunURL(t, d1, testUID(0), 5)); a.Result != serve.ResultBadMAC {
		t.Fatalf("old keys after the rekeyed binding: %+v", a)
	}
}
