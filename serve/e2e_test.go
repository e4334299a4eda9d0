package serve_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/encoder"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/reader/sim"
	"github.com/tagline-station/tagline/sdm"
	"github.com/tagline-station/tagline/serve"
	"github.com/tagline-station/tagline/station"
	"github.com/tagline-station/tagline/syncer"
)

const tmplEnc = "https://brand.example/t?picc_data={picc}&enc={enc}&cmac={mac}"

// encodeTags personalises simulated tags with a station into a journal of
// its own and returns the journal and the tags.
func encodeTags(t *testing.T, stationID, sku string, uids [][]byte) (*batch.Store, []*sim.Tag) {
	t.Helper()
	j, err := batch.Open(filepath.Join(t.TempDir(), stationID+".db"), batch.Options{StationID: stationID})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	b, err := j.CreateBatch(batch.Batch{ID: "b-" + sku, SKU: sku, Target: len(uids), Template: tmplEnc, KeyVersion: 1})
	if err != nil {
		t.Fatal(err)
	}
	tp, err := sdm.ParseTemplate(tmplEnc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := station.New(station.Config{Journal: j, Batch: b, Deriver: deriver(t, 1), Template: tp})
	if err != nil {
		t.Fatal(err)
	}
	r := sim.NewReader("sim0")
	var tags []*sim.Tag
	for _, u := range uids {
		tag := sim.New(sim.Options{UID: u})
		res := st.Encode(context.Background(), present(t, r, tag), "sim0")
		if res.Outcome != manifest.Encoded {
			t.Fatalf("encode %X: %+v", u, res)
		}
		r.Remove()
		tags = append(tags, tag)
	}
	return j, tags
}

func present(t *testing.T, r *sim.Reader, tag *sim.Tag) reader.Tag {
	t.Helper()
	r.Present(tag)
	c, err := r.WaitTag(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// phoneTap reads the tag's NDEF file as a phone does (select the
// application, select file E104, read NLEN, read the message): each read
// makes the tag mirror a fresh SUN URL with its counter one higher.
func phoneTap(t *testing.T, tag *sim.Tag) string {
	t.Helper()
	r := sim.NewReader("phone")
	c := present(t, r, tag)
	defer r.Remove()
	u, err := encoder.New(c, encoder.Options{}).ReadURL(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// The whole loop: encode at the station, sync to serve, tap as phones.
func TestEndToEnd(t *testing.T) {
	srv, hs := newBolt(t, func(c *serve.Config) {
		c.Template = tmplEnc
		c.Redirects = map[string]string{"CAP-30-BLUE": "https://brand.example/p/cap-30-blue"}
	})
	const n = 6
	var uids [][]byte
	for i := range n {
		uids = append(uids, testUID(100+i))
	}
	j, tags := encodeTags(t, "line-1", "CAP-30-BLUE", uids)
	// A tag personalised with the same keys by a station that never
	// synced.
	_, stray := encodeTags(t, "line-9", "CAP-30-BLUE", [][]byte{testUID(999)})

	sum, err := syncer.Run(context.Background(), j, syncer.Options{Endpoint: hs.URL + "/v1/sync", Token: syncToken, ChunkSize: 4})
	if err != nil || sum.SyncedUpto != n || sum.Chunks != 2 {
		t.Fatalf("sync: %+v %v", sum, err)
	}

	seen := map[string]bool{}
	var urls []string
	for round := range 3 {
		for i, tag := range tags {
			u := phoneTap(t, tag)
			if seen[u] {
				t.Fatalf("tag %d mirrored the same URL twice", i)
			}
			seen[u] = true
			urls = append(urls, u)
			code, a := tap(t, hs.URL, u)
			if code != 200 || a.Result != serve.ResultGenuine || a.UID != manifest.UID(uidHex(uids[i])) || a.SKU != "CAP-30-BLUE" || a.URL != "https://brand.example/p/cap-30-blue" {
				t.Fatalf("round %d tag %d: %d %+v", round, i, code, a)
			}
		}
	}
	// Every URL already seen is refused, whatever order it comes back in.
	for i := len(urls) - 1; i >= 0; i-- {
		if code, a := tap(t, hs.URL, urls[i]); code != 409 || a.Result != serve.ResultReplayed {
			t.Fatalf("replay of url %d: %d %+v", i, code, a)
		}
	}
	// A forged URL: one character of the MAC changed.
	if code, a := tap(t, hs.URL, forge(phoneTap(t, tags[0]))); code != 403 || a.Result != serve.ResultBadMAC {
		t.Fatalf("forged: %d %+v", code, a)
	}
	// The tag itself is fine: its next read is genuine.
	if _, a := tap(t, hs.URL, phoneTap(t, tags[0])); a.Result != serve.ResultGenuine {
		t.Fatalf("after the forgery: %+v", a)
	}
	// The stray tag's MAC verifies with our keys, but no station synced it.
	if code, a := tap(t, hs.URL, phoneTap(t, stray[0])); code != 404 || a.Result != serve.ResultUnknown || a.UID != manifest.UID(uidHex(testUID(999))) {
		t.Fatalf("stray: %d %+v", code, a)
	}
	// The binding the backend holds is the journal's.
	jb, _, _ := j.Lookup(manifest.UID(uidHex(uids[0])))
	b, last, ok := lookup(t, srv.Store(), string(uidHex(uids[0])))
	if !ok || b.Seq != jb.Seq || b.SKU != jb.SKU || b.BatchID != jb.BatchID || b.MasterKCV != jb.MasterKCV || b.ReadCtr != jb.ReadCtr || last <= jb.ReadCtr+3 {
		t.Fatalf("backend %+v last %d, journal %+v", b, last, jb)
	}
}
