package qa_test

import (
	"context"
	"encoding/hex"
	"slices"
	"testing"

	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/qa"
	"github.com/tagline-station/tagline/station"
)

// TestRekeyedTagsReportTheirVersion: after tagline rekey moved one tag of
// the batch to version 2, QA passes it with version 2's keys and says so,
// passes the other with version 1, checks the keys of each at its own
// version, and fails a message made with the old keys of the moved tag.
func TestRekeyedTagsReportTheirVersion(t *testing.T) {
	wd := newWorld(t)
	b := wd.batch("b1", "SKU-1")
	tags := wd.encode(b, uid(1, 1), uid(1, 2))
	oldURL := wd.phoneRead(tags[0])
	l, err := station.NewLife(station.LifeConfig{Journal: wd.w, Master: masterOf(t), Batch: &b, ToVersion: 2}, true)
	if err != nil {
		t.Fatal(err)
	}
	if res := l.Rekey(context.Background(), wd.connect(tags[0]), "sim0"); res.Outcome != manifest.Rekeyed {
		t.Fatalf("rekey: %+v", res)
	}
	wd.r.Remove()
	v := wd.verifier(qa.Config{CheckKeys: true})
	res := wd.present(v, tags[0])
	wantPass(t, res)
	if res.KeyVersion != 2 {
		t.Fatalf("rekeyed tag reported with version %d", res.KeyVersion)
	}
	res = wd.present(v, tags[1])
	wantPass(t, res)
	if res.KeyVersion != 1 {
		t.Fatalf("other tag reported with version %d", res.KeyVersion)
	}
	// Its old URL is also an old counter; the version is named too.
	res = verifyURL(t, v, oldURL)
	if res.Verdict != qa.Fail || !slices.Contains(res.Reasons, qa.ReasonWrongKeyVersion) {
		t.Fatalf("old keys of the rekeyed tag: %+v", res)
	}
}

func masterOf(t *testing.T) keys.Master {
	t.Helper()
	mb, _ := hex.DecodeString(masterHex)
	m, err := keys.NewMaster(mb)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
