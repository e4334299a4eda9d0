package cmd

import (
	"bytes"
	"crypto/hmac"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/lrp"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/qa"
	"github.com/tagline-station/tagline/reader/sim"
	"github.com/tagline-station/tagline/sdm"
	"github.com/tagline-station/tagline/station"
)

// newLRPLine is newLine for an LRP batch: the station switches each tag.
func newLRPLine(t *testing.T, c *cli, id string, n int) *line {
	t.Helper()
	l := &line{t: t, journal: c.path("journal.db"), keyFile: c.write("master.key", testKeyHex+"\n", 0o600), r: sim.NewReader("sim0")}
	store, err := batch.Open(l.journal, batch.Options{StationID: "line-1"})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	l.batch, err = store.CreateBatch(batch.Batch{ID: id, SKU: "SKU-1", Target: n, Template: demoTemplate, KeyVersion: 1, LRP: true})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := keys.ParseMaster([]byte(testKeyHex))
	d, _ := keys.NewDeriver(keys.SchemeTagline, m, 1)
	tmpl, _ := sdm.ParseTemplate(demoTemplate)
	st, err := station.New(station.Config{Journal: store, Batch: l.batch, Deriver: d, Template: tmpl})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		tag := sim.New(sim.Options{UID: []byte{0x04, 0x51, 0xA0, 0x02, 0x00, 0x00, byte(i + 1)}})
		res := st.Encode(t.Context(), l.connect(tag), "sim0")
		l.r.Remove()
		if res.Outcome != manifest.Encoded || !tag.Snapshot().LRP {
			t.Fatalf("encode: %+v (lrp %v)", res, tag.Snapshot().LRP)
		}
		l.tags = append(l.tags, tag)
		l.uids = append(l.uids, manifest.UID(string(res.UID)))
		l.stationURLs = append(l.stationURLs, res.URL)
	}
	return l
}

// tagline verify --urls takes phone reads of LRP tags with the batch's
// template and refuses a tampered one as bad_mac.
func TestVerifyURLFileAcceptsLRPTaps(t *testing.T) {
	c := newCLI(t)
	l := newLRPLine(t, c, "lrp1", 2)
	good, good2 := l.phoneRead(0), l.phoneRead(1)
	if q, _ := url.Parse(good); len(q.Query().Get("picc_data")) != 48 {
		t.Fatalf("phone read %s is not an LRP SUN message", good)
	}
	urls := c.write("urls.txt", good+"\n"+good2+"\n", 0o600)
	rep := parseReport(t, l.verify(c, 0, "--urls", urls, "--json").stdout)
	if !rep.Passed || rep.Counts.Pass != 2 {
		t.Fatalf("report: %+v", rep.Results)
	}
	bad := l.phoneRead(0)
	bad = bad[:len(bad)-1] + flipHex(bad[len(bad)-1:])
	urls = c.write("bad.txt", bad+"\n", 0o600)
	rep = parseReport(t, l.verify(c, 4, "--urls", urls, "--json", "--state", c.path("fresh.json")).stdout)
	if rep.Passed || rep.Results[0].Reason != qa.ReasonBadMAC {
		t.Fatalf("tampered LRP tap: %+v", rep.Results)
	}
}

// checkLRPSUN verifies an LRP SUN URL the way nfc-developer/sdm-backend's
// libsdm does, with the lrp primitive only (not package sdm): PICCRand is
// the LRICB counter of the meta-read key's PICCData, the session key is
// CMAC_LRP(file-read key, 00 01 00 80 || UID || ctr || 1E E1) and the
// SDMMAC is its CMAC_LRP over the empty input, odd bytes.
func checkLRPSUN(k sunKeys, raw string) (verifiedSUN, error) {
	var v verifiedSUN
	u, err := url.Parse(raw)
	if err != nil {
		return v, err
	}
	q := u.Query()
	picc, err := hex.DecodeString(q.Get("picc_data"))
	if err != nil || len(picc) != 24 {
		return v, fmt.Errorf("picc_data %q is not 24 bytes of hex", q.Get("picc_data"))
	}
	mac, err := hex.DecodeString(q.Get("cmac"))
	if err != nil || len(mac) != 8 {
		return v, fmt.Errorf("cmac %q is not 8 bytes of hex", q.Get("cmac"))
	}
	p, err := lrp.New(k.meta).LRICB(0, picc[:8]).Decrypt(picc[8:])
	if err != nil || p[0] != 0xC7 {
		return v, fmt.Errorf("picc data does not decrypt to uid and counter (%v)", err)
	}
	uid, ctr := p[1:8], p[8:11]
	sv := append(append(append([]byte{0x00, 0x01, 0x00, 0x80}, uid...), ctr...), 0x1E, 0xE1)
	ses, _ := keys.NewKey(func() []byte { m := lrp.New(k.fileRead(uid)).CMAC(sv); return m[:] }())
	full := lrp.New(ses).CMAC(nil)
	var short []byte
	for i := 1; i < 16; i += 2 {
		short = append(short, full[i])
	}
	if !hmac.Equal(short, mac) {
		return v, fmt.Errorf("cmac does not verify")
	}
	v.UID = strings.ToUpper(hex.EncodeToString(uid))
	v.Ctr = uint32(ctr[0]) | uint32(ctr[1])<<8 | uint32(ctr[2])<<16
	return v, nil
}

// tagline demo --lrp with the sdm-backend derivation prints URLs with the
// parameter names sdm-backend reads whose LRP SUN messages verify as
// sdm-backend verifies them, from the master key file alone.
func TestDemoLRPURLsVerifyAsSDMBackendDoes(t *testing.T) {
	c := newCLI(t)
	const master = "47BBB68AFA73F31310BEEFCE5DDA692DBAD671A03FEAD5A9BBDBCF3CD6D4C521"
	kf := c.write("backend.key", master+"\n", 0o600)
	r := c.must(0, "demo", "--lrp", "--kdf", "sdm-backend", "--master-key-file", kf, "--count", "3", "--json", "--journal", c.path("demo.db"))
	k := keysFromFile(t, kf, "sdm-backend", 1)
	lines := parseTagLines(t, r.stdout)
	if len(lines) != 3 {
		t.Fatalf("%d tag lines", len(lines))
	}
	for _, l := range lines {
		if !strings.HasPrefix(l.URL, "https://sdm.tagline.example/tag?picc_data=") || !strings.Contains(l.URL, "&cmac=") {
			t.Fatalf("demo url %s lacks sdm-backend's parameter names", l.URL)
		}
		v, err := checkLRPSUN(k, l.URL)
		if err != nil || v.UID != l.UID {
			t.Fatalf("%s: %+v %v", l.URL, v, err)
		}
		if _, err := checkSUN(k, l.URL); err == nil {
			t.Fatalf("%s verified as an AES SUN message", l.URL)
		}
	}
	assertNoSecret(t, master, r)
}

// LRP is asked for by name and confirmed: batch new --lrp without a
// terminal needs --yes; encode of an LRP batch needs --lrp (and --yes
// without a terminal); encode --lrp of an AES batch is refused.
func TestLRPIsAskedForByName(t *testing.T) {
	c := newCLI(t)
	j := c.path("j.db")
	kf := c.write("master.key", testKeyHex+"\n", 0o600)
	newBatch := func(want int, id string, extra ...string) result {
		args := append([]string{"batch", "new", "--journal", j, "--id", id, "--sku", "S", "--target", "1", "--key-version", "1",
			"--template", demoTemplate}, extra...)
		return c.must(want, args...)
	}
	newBatch(2, "l1", "--lrp")
	if s := c.must(0, "batch", "list", "--journal", j).stdout; strings.Contains(s, "l1") {
		t.Fatal("an unconfirmed --lrp created the batch")
	}
	newBatch(0, "l1", "--lrp", "--yes")
	if s := c.must(0, "batch", "show", "l1", "--journal", j).stdout; !strings.Contains(s, "lrp") {
		t.Fatalf("batch show does not say lrp:\n%s", s)
	}
	newBatch(0, "a1")
	encode := func(want int, id string, extra ...string) result {
		args := append([]string{"encode", "--journal", j, "--batch", id, "--reader", "sim", "--count", "1", "--json",
			"--sim-interval", "1ms", "--master-key-file", kf}, extra...)
		return c.must(want, args...)
	}
	encode(2, "l1")
	encode(2, "l1", "--lrp")
	encode(2, "a1", "--lrp", "--yes")
	r := encode(0, "l1", "--lrp", "--yes")
	ls := parseTagLines(t, r.stdout)
	if len(ls) != 1 || !ls[0].OK {
		t.Fatalf("encode --lrp: %+v", ls)
	}
	if q, _ := url.Parse(ls[0].URL); len(q.Query().Get("picc_data")) != 48 {
		t.Fatalf("encode --lrp printed %s, not an LRP SUN message", ls[0].URL)
	}
	if k := keysFromFile(t, kf, "tagline", 1); !bytes.Equal([]byte(mustVerifyLRP(t, k, ls[0].URL).UID), []byte(ls[0].UID)) {
		t.Fatal("uid mismatch")
	}
}

func mustVerifyLRP(t *testing.T, k sunKeys, u string) verifiedSUN {
	t.Helper()
	v, err := checkLRPSUN(k, u)
	if err != nil {
		t.Fatalf("%s: %v", u, err)
	}
	return v
}
