package serve_test

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/sdm"
	"github.com/tagline-station/tagline/serve"
)

// lrpSunURL is the URL a tag in LRP mode, personalised with tmplPlain,
// mirrors at read counter ctr: 24-byte PICCData (PICCRand and one LRICB
// block) and the CMAC_LRP SDMMAC.
func lrpSunURL(t testing.TB, d *keys.Deriver, uid []byte, ctr uint32) string {
	t.Helper()
	rnd := [8]byte{byte(ctr), byte(ctr >> 8), uid[6], 0x5A, 0xA5, 0x01, 0x02, 0x03}
	picc := sdm.EncryptPICCDataLRP(d.MetaRead(), rnd, uid, sdm.Counter(ctr), true, true, []byte{9, 8, 7, 6, 5})
	fk, err := d.FileRead(uid)
	if err != nil {
		t.Fatal(err)
	}
	mac := sdm.MACLRP(fk, uid, sdm.Counter(ctr), nil)
	return "https://brand.example/t?picc_data=" + strings.ToUpper(hex.EncodeToString(picc[:])) + "&cmac=" + strings.ToUpper(hex.EncodeToString(mac[:]))
}

// The backend takes taps of LRP tags with the template it already has,
// with the same replay rule, and refuses forged, foreign and cut ones.
func TestLRPTaps(t *testing.T) {
	_, hs := newBolt(t, nil)
	if code, ack, _ := upload(t, hs.URL, syncToken, 0, bindings(3, "SKU-A")); code != 200 || ack.New != 3 {
		t.Fatalf("%d %+v", code, ack)
	}
	d := deriver(t, 1)
	u0 := testUID(0)
	genuine := lrpSunURL(t, d, u0, 4)
	cases := []struct {
		url    string
		status int
		result string
	}{
		{genuine, 200, serve.ResultGenuine},
		{genuine, 409, serve.ResultReplayed},
		{sunURL(t, d, u0, 3), 409, serve.ResultReplayed}, // an AES tap of the same tag is older
		{lrpSunURL(t, d, u0, 5), 200, serve.ResultGenuine},
		{forge(lrpSunURL(t, d, testUID(1), 2)), 403, serve.ResultBadMAC},
		{lrpSunURL(t, deriver(t, 2), testUID(1), 2), 403, serve.ResultBadMAC},
		{flipPICCRand(lrpSunURL(t, d, testUID(1), 2)), 403, serve.ResultBadMAC},
		{strings.Replace(lrpSunURL(t, d, testUID(1), 2), "&cmac=", "0&cmac=", 1), 400, serve.ResultMalformed},
		{lrpSunURL(t, d, testUID(7), 2), 404, serve.ResultUnknown},
		{lrpSunURL(t, d, testUID(1), 2), 200, serve.ResultGenuine},
	}
	for i, c := range cases {
		code, a := tap(t, hs.URL, c.url)
		if code != c.status || a.Result != c.result {
			t.Fatalf("case %d %s: %d %+v, want %d %s", i, c.url, code, a, c.status, c.result)
		}
	}
}

// flipPICCRand changes the first digit of PICCRand, the LRICB counter the
// tag mirrors in clear.
func flipPICCRand(u string) string {
	i := strings.Index(u, "picc_data=") + len("picc_data=")
	c := byte('0')
	if u[i] == '0' {
		c = '1'
	}
	return u[:i] + string(c) + u[i+1:]
}
