package sdm

import (
	"errors"
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
