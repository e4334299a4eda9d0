package conformance

import (
	"bytes"
	"testing"

	"github.com/tagline-station/tagline/internal/vectors"
	"github.com/tagline-station/tagline/sdm"
)

func init() { byAlgorithm["sun-url-tamper"] = checkTamperURL }

// checkTamperURL verifies a TagTamper SUN message with a {tt} template and
// the published keys; a changed character of the encrypted file data,
// which holds the status, must fail the MAC.
func checkTamperURL(t *testing.T, v vectors.Vector) {
	tp, err := sdm.ParseTemplate("https://sdm.example/tagtt?picc_data={picc}&enc={tt}&cmac={mac}")
	if err != nil {
		t.Fatal(err)
	}
	k := fixedKeys{key(t, v.In(t, "sdm_meta_read_key")), key(t, v.In(t, "sdm_file_read_key"))}
	url := v.Inputs["url"].(string)
	got, err := tp.Verify(url, k)
	if err != nil {
		vectors.Errorf(t, v, "verify: %v", err)
		return
	}
	vectors.Check(t, v, "uid", got.UID)
	ctr := uint32(got.Ctr)
	vectors.Check(t, v, "sdm_read_ctr_value", []byte{byte(ctr >> 16), byte(ctr >> 8), byte(ctr)})
	vectors.Check(t, v, "file_data", got.FileData)
	if want := sdm.Tamper(v.Expected["tamper"]); got.Tamper != want {
		vectors.Errorf(t, v, "tamper %q, want %q", got.Tamper, want)
	}
	if got.LRP != (v.Expected["lrp"] == "true") {
		vectors.Errorf(t, v, "lrp %v", got.LRP)
	}
	i := bytes.Index([]byte(url), []byte("enc=")) + 4
	bad := []byte(url)
	bad[i] ^= 0x01 // a hex digit becomes another
	if _, err := tp.Verify(string(bad), k); err == nil {
		vectors.Errorf(t, v, "a changed status block still verifies")
	}
}
