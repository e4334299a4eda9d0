package sdm

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tagline-station/tagline/keys"
)

func TestTemplateRefusals(t *testing.T) {
	long := "https://brand.example/" + strings.Repeat("a", 220) + "?p={picc}&m={mac}"
	cases := map[string]string{
		"https://brand.example/t?p={picc}":                 "no {mac}",
		"https://brand.example/t?m={mac}":                  "needs the uid and counter",
		"https://brand.example/t?u={uid}&m={mac}":          "needs the uid and counter",
		"https://brand.example/t?p={picc}&u={uid}&m={mac}": "either {picc}",
		"https://brand.example/t?p={picc}&m={mac}&x={foo}": "unknown placeholder {foo}",
		"https://brand.example/t?p={picc}&m={mac}{mac}":    "appears twice",
		"https://{picc}.example/t?m={mac}":                 "in the host name",
		"ftp://brand.example/t?p={picc}&m={mac}":           "must start with https://",
		"http://brand.example/t?p={picc}&m={mac}":          "use https://",
		"HTTPS://brand.example/t?p={picc}&m={mac}":         "lower case",
		"https://brand.example/t?m={mac}&e={enc}&p={picc}": "must come before {mac}",
		long: "shorten it by",
		"https://brand.example/t?e={enc}&p={picc}&m={mac}{": "unbalanced",
	}
	for tmpl, want := range cases {
		_, err := ParseTemplate(tmpl)
		if err == nil || !errors.Is(err, ErrTemplate) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an error containing %q", tmpl, err, want)
		}
	}
}

// Templates a phone would not send unchanged, or that the backend could
// not route, are refused: every tag would PASS at the station and in QA
// (which read the NDEF file) and every tap would fail.
func TestTemplateRefusesWhatPhonesRewrite(t *testing.T) {
	cases := map[string]string{
		"https://x.example/t#p={picc}&m={mac}":          "fragment",
		"https://x.example/t?p={picc}&m={mac}#top":      "fragment",
		"https://x.example/t?p={picc}&m={mac}&note=a b": "a space",
		"https://x.example/t ?p={picc}&m={mac}":         "a space",
		"https://x.example/café?p={picc}&m={mac}":       "non-ASCII character 'é'",
		"https://bücher.example/t?p={picc}&m={mac}":     "non-ASCII",
		"https://x.example/t?p={picc}&m={mac}&n=\x01":   "character",
		"https://x.example/t?p={picc}&m={mac}\t":        "character",
		"https://x.example/t?p={picc}&m={mac}\x7f":      "character",
		"https://x.example/t?p={picc}&m={mac}&\x00":     "character",
		"https://x.example/t?p={picc}&m={mac}&s=%20":    "percent escape",
		"https://x.example/t?p={picc}&m={mac}&q=\"a\"":  "escaped or rewritten",
		"https://x.example/t?p={picc}&m={mac}&q='a'":    "escaped or rewritten",
		"https://x.example/t?p={picc}&m={mac}&q=<a>":    "escaped or rewritten",
		"https://x.example/a\\b?p={picc}&m={mac}":       "escaped or rewritten",
		"https://x.example/t?p={picc}&m={mac}&q=a|b":    "escaped or rewritten",
		"https://x.example/t?p={picc}&m={mac}&q=a^b":    "escaped or rewritten",
		"https://x.example/t?p={picc}&m={mac}&q=`":      "escaped or rewritten",
		"https://x.example/t?p={picc}&m={mac}&q=[1]":    "escaped or rewritten",
		"https://user:pw@x.example/t?p={picc}&m={mac}":  "user information",
		"https://@x.example/t?p={picc}&m={mac}":         "user information",
		"https:///t?p={picc}&m={mac}":                   "no host",
		"https://:8443/t?p={picc}&m={mac}":              "no host",
		"https://X.Example/t?p={picc}&m={mac}":          "capitals",
		"https://x_y.example/t?p={picc}&m={mac}":        "a host name holds",
		"https://x..example/t?p={picc}&m={mac}":         "empty label",
		"https://x.example:443/t?p={picc}&m={mac}":      "drop :443",
		"https://x.example:/t?p={picc}&m={mac}":         "port",
		"https://x.example:99999/t?p={picc}&m={mac}":    "port",
		"https://x.example:08443/t?p={picc}&m={mac}":    "port",
		"https://x.example?p={picc}&m={mac}":            "no path after the host",
		"https://x.example?r=/t&p={picc}&m={mac}":       "no path after the host",
		"https://x.example":                             "no path after the host",
		"https://x.example//t?p={picc}&m={mac}":         "empty segment",
		"https://x.example/a/./t?p={picc}&m={mac}":      "\".\" segment",
		"https://x.example/a/../t?p={picc}&m={mac}":     "\"..\" segment",
		"https://x.example/t/..?p={picc}&m={mac}":       "\"..\" segment",
		"https://x.example/{uid}/{ctr}/{mac}":           "first path segment",
		"https://x.example/t{picc}/{mac}":               "first path segment",
		"https://x.example:{ctr}/t?u={uid}&m={mac}":     "in the host name",
		"https://}/": "a host name holds",
	}
	for tmpl, want := range cases {
		_, err := ParseTemplate(tmpl)
		if err == nil || !errors.Is(err, ErrTemplate) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an error containing %q", tmpl, err, want)
		}
	}
}

func TestTemplateLayoutMatchesAN12196(t *testing.T) {
	// A URL of the shape of AN12196's SDMENCFileData example: PICCData,
	// then the encrypted file data, then the MAC, whose input starts at the
	// file data. The offsets must point at the placeholders in the bytes
	// written, whatever the URL's length.
	tp, err := ParseTemplate("https://choose.url.com/ntag424?e={picc}&f={enc}&c={mac}")
	if err != nil {
		t.Fatal(err)
	}
	s := tp.Settings(1, 2)
	ndef, err := tp.NDEF([]byte("0123456789ABCDEF"))
	if err != nil {
		t.Fatal(err)
	}
	url, err := URLFromNDEF(ndef)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(url, "https://choose.url.com/ntag424?e=000") {
		t.Fatalf("url %s", url)
	}
	// Offsets point at the placeholder text inside the file bytes.
	for name, off := range map[string]uint32{"e=": s.PICCOffset - 2, "f=": s.ENCOffset - 2, "c=": s.MACOffset - 2} {
		if got := string(ndef[off : off+2]); got != name {
			t.Errorf("offset of %s points at %q", name, got)
		}
	}
	if string(ndef[s.ENCOffset:s.ENCOffset+16]) != "0123456789ABCDEF" {
		t.Errorf("enc plaintext not in place")
	}
	if s.MACInOffset != s.ENCOffset || s.ENCLength != 32 {
		t.Errorf("mac input %d enc %d len %d", s.MACInOffset, s.ENCOffset, s.ENCLength)
	}
	if err := s.Validate(NDEFFileSize); err != nil {
		t.Fatal(err)
	}
	// The settings survive an encode/parse round trip.
	back, err := ParseChange(s.ChangeData())
	if err != nil || string(back.ChangeData()) != string(s.ChangeData()) {
		t.Fatalf("round trip: %v", err)
	}
}

func TestVerifyRejects(t *testing.T) {
	tp, _ := ParseTemplate("https://b.example/t?picc_data={picc}&cmac={mac}")
	var meta, file keys.Key
	uid := []byte{4, 1, 2, 3, 4, 5, 6}
	enc := EncryptPICCData(meta, uid, 7, true, true, []byte{1, 2, 3, 4, 5})
	mac := MAC(file, uid, 7, nil)
	url := "https://b.example/t?picc_data=" + strings.ToUpper(hexs(enc[:])) + "&cmac=" + strings.ToUpper(hexs(mac[:]))
	k := lookup{meta, file}
	v, err := tp.Verify(url, k)
	if err != nil || v.Ctr != 7 || string(v.UID) != string(uid) {
		t.Fatalf("genuine url: %v %+v", err, v)
	}
	bad := map[string]error{
		strings.Replace(url, "b.example", "c.example", 1): ErrURLMismatch,
		url + "x": ErrURLMismatch,
		strings.Replace(url, "cmac="+strings.ToUpper(hexs(mac[:1])), "cmac=ZZ", 1): ErrURLField,
	}
	mac[0] ^= 1
	bad["https://b.example/t?picc_data="+strings.ToUpper(hexs(enc[:]))+"&cmac="+strings.ToUpper(hexs(mac[:]))] = ErrBadMAC
	other, _ := keys.NewKey([]byte("0123456789abcdef"))
	for u, want := range bad {
		if _, err := tp.Verify(u, k); !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", u, err, want)
		}
	}
	if _, err := tp.Verify(url, lookup{other, file}); !errors.Is(err, ErrBadPICCData) && !errors.Is(err, ErrBadMAC) {
		t.Errorf("wrong meta key: %v", err)
	}
}

type lookup struct{ meta, file keys.Key }

func (l lookup) MetaRead() keys.Key                { return l.meta }
func (l lookup) FileRead([]byte) (keys.Key, error) { return l.file, nil }

func hexs(b []byte) string {
	const d = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, d[c>>4], d[c&15])
	}
	return string(out)
}

// Every accepted template survives the trip a tap takes: a URL with real
// SUN values, as the tag mirrors them into the NDEF file, is requested
// over HTTP, and the URL rebuilt from the template's origin and the
// request target the server received verifies and gives back the UID and
// counter.
func TestTemplateRoundTripThroughHTTP(t *testing.T) {
	accepted := []string{
		"https://sdm.tagline.example/tag?picc_data={picc}&cmac={mac}",
		"https://brand.example/t?picc_data={picc}&enc={enc}&cmac={mac}",
		"https://www.my424dna.com/?picc_data={picc}&enc={enc}&cmac={mac}",
		"https://choose.url.com/ntag424?e={picc}&f={enc}&c={mac}",
		"https://brand.example/t?u={uid}&c={ctr}&m={mac}",
		"https://brand.example/t/{uid}/{ctr}/{mac}",
		"https://brand.example/t/{picc}-{mac}.html",
		"https://brand.example:8443/a/b/?x=1&p={picc}&m={mac}&y=(ok);k=v,w*~!$+@:/?",
		"https://xn--bcher-kva.example/t?p={picc}&m={mac}",
	}
	var got struct {
		target, path string
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.target, got.path = r.RequestURI, r.URL.Path
	}))
	defer srv.Close()
	meta, _ := keys.NewKey([]byte("meta-read key 01"))
	file, _ := keys.NewKey([]byte("file-read key 02"))
	uid := []byte{0x04, 0x1E, 0xAC, 0xC0, 0x40, 0xDE, 0x5F}
	for _, raw := range accepted {
		tp, err := ParseTemplate(raw)
		if err != nil {
			t.Errorf("%s: %v", raw, err)
			continue
		}
		u := sunURL(t, tp, meta, file, uid, 0x0A0B0C)
		i := len("https://") + strings.IndexAny(u[len("https://"):], "/")
		origin, target := u[:i], u[i:]
		resp, err := srv.Client().Get(srv.URL + target)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got.target != target {
			t.Errorf("%s: sent %s, the server received %s", raw, target, got.target)
		}
		if cleanPath(got.path) != got.path {
			t.Errorf("%s: a router would clean %s", raw, got.path)
		}
		v, err := tp.Verify(origin+got.target, lookup{meta, file})
		if err != nil || string(v.UID) != string(uid) || v.Ctr != 0x0A0B0C {
			t.Errorf("%s: %s: %v %+v", raw, u, err, v)
		}
	}
}

// The tap a fragment template produces shows why it is refused: the
// request never carries what follows #, so the backend cannot see the
// placeholders.
func TestFragmentNeverReachesTheServer(t *testing.T) {
	var target string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { target = r.RequestURI }))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/t#p=0123&m=4567")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if target != "/t" {
		t.Fatalf("server received %q", target)
	}
	if _, err := ParseTemplate("https://x.example/t#p={picc}&m={mac}"); err == nil {
		t.Fatal("fragment template accepted")
	}
}

// sunURL is the URL a phone reads from a tag personalised with tp: the
// tag's mirroring redone from the NDEF file's bytes.
func sunURL(t *testing.T, tp *Template, meta, file keys.Key, uid []byte, ctr Counter) string {
	t.Helper()
	plain := []byte("file data 16 by.")
	ndef, err := tp.NDEF(plain)
	if err != nil {
		t.Fatal(err)
	}
	u, err := URLFromNDEF(ndef)
	if err != nil {
		t.Fatal(err)
	}
	prefixLen := len(u) - len(tp.rest)
	b := []byte(u[prefixLen:])
	put := func(name, hexText string) { copy(b[tp.pos[name]:], strings.ToUpper(hexText)) }
	if tp.Encrypted() {
		enc := EncryptPICCData(meta, uid, ctr, true, true, []byte{1, 2, 3, 4, 5})
		put(PhPICC, hexs(enc[:]))
	} else {
		put(PhUID, hexs(uid))
		c := []byte{byte(ctr >> 16), byte(ctr >> 8), byte(ctr)}
		put(PhCtr, hexs(c))
	}
	in := tp.pos[PhMAC]
	if tp.HasEnc() {
		in = tp.pos[PhEnc]
		ct, err := EncryptFileData(file, uid, ctr, plain)
		if err != nil {
			t.Fatal(err)
		}
		put(PhEnc, hexs(ct))
	}
	mac := MAC(file, uid, ctr, b[in:tp.pos[PhMAC]])
	put(PhMAC, hexs(mac[:]))
	return u[:prefixLen] + string(b)
}

// The round trip catches on its own what the character and path rules
// catch first: a template that slipped past them still fails.
func TestRoundTripCatchesRewrites(t *testing.T) {
	for raw, want := range map[string]string{
		"https://x.example/t?p={picc}&m={mac}#frag": "(a fragment)",
		"https://x.example/a b/t?p={picc}&m={mac}":  "the backend would see https://x.example/a%20b/t?p=",
		"https://x.example/a//t?p={picc}&m={mac}":   "cleans the path to /a/t",
		"https://x.example/a/../t?p={picc}&m={mac}": "cleans the path to /t",
		"https://u@x.example/t?p={picc}&m={mac}":    "(user information)",
	} {
		tp, err := ParseTemplate("https://x.example/t?p={picc}&m={mac}")
		if err != nil {
			t.Fatal(err)
		}
		// Keep the offsets of the good template relative to the end of
		// the url, where the placeholders are in every case but the first.
		tp.raw = raw
		if !strings.HasSuffix(raw, "#frag") {
			shift := len(raw) - len("https://x.example/t?p={picc}&m={mac}")
			tp.rest = strings.Repeat("0", shift) + tp.rest
			for name := range tp.pos {
				tp.pos[name] += shift
			}
		}
		if err := tp.roundTrip(); err == nil || !errors.Is(err, ErrTemplate) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: round trip: %v, want %q", raw, err, want)
		}
	}
}
