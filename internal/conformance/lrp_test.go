package conformance

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/tagline-station/tagline/internal/vectors"
	"github.com/tagline-station/tagline/lrp"
	"github.com/tagline-station/tagline/sdm"
)

// The LRP vectors (testdata/vectors/lrp_vectors.json) join the dispatch
// table from here so that the shared table stays as it was.
func init() {
	byAlgorithm["lrp-plaintexts-updated-keys"] = checkLRPKeys
	byAlgorithm["lrp-eval"] = checkLRPEval
	byAlgorithm["lrp-lricb"] = checkLRICB
	byAlgorithm["lrp-cmac"] = checkLRPCMAC
	byAlgorithm["lrp-sdm"] = checkLRPSDM
}

// number reads a JSON number input.
func number(t *testing.T, v vectors.Vector, name string) int {
	t.Helper()
	f, ok := v.Inputs[name].(float64)
	if !ok {
		t.Fatalf("vector %s: no numeric input %q", v.Name, name)
	}
	return int(f)
}

func checkLRPKeys(t *testing.T, v vectors.Vector) {
	l := lrp.New(key(t, v.In(t, "key")))
	checkKey(t, v, "plaintext_0", l.Plaintext(0))
	checkKey(t, v, "plaintext_15", l.Plaintext(15))
	checkKey(t, v, "updated_key_0", l.UpdatedKey(0))
	checkKey(t, v, "updated_key_2", l.UpdatedKey(2))
}

func checkLRPEval(t *testing.T, v vectors.Vector) {
	s, _ := v.Inputs["nibbles"].(string)
	n := make([]byte, len(s))
	for i := range s {
		b, err := hex.DecodeString("0" + s[i:i+1])
		if err != nil || s == "" {
			t.Fatalf("vector %s: nibbles %q", v.Name, s)
		}
		n[i] = b[0]
	}
	l := lrp.New(key(t, v.In(t, "key")))
	checkKey(t, v, "result", l.EvalNibbles(number(t, v, "updated_key"), n, v.Bool("final")))
}

func checkLRICB(t *testing.T, v vectors.Vector) {
	l := lrp.New(key(t, v.In(t, "key")))
	u, ctr := number(t, v, "updated_key"), v.In(t, "counter")
	plain := v.In(t, "plaintext")
	if v.Bool("pad") {
		plain = lrp.Pad(plain)
	}
	c := l.LRICB(u, ctr)
	ct, err := c.Encrypt(plain)
	if err != nil {
		t.Fatal(err)
	}
	vectors.Check(t, v, "ciphertext", ct)
	vectors.Check(t, v, "next_counter", c.Counter())
	back, err := l.LRICB(u, ctr).Decrypt(v.Out(t, "ciphertext"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back, plain) {
		vectors.Errorf(t, v, "decryption gives %X, want %X", back, plain)
	}
}

func checkLRPCMAC(t *testing.T, v vectors.Vector) {
	l := lrp.New(key(t, v.In(t, "key")))
	k1, k2 := l.Subkeys()
	if msg := v.In(t, "message"); len(msg) > 0 && len(msg)%16 == 0 {
		checkKey(t, v, "kx", k1)
	} else {
		checkKey(t, v, "kx", k2)
	}
	m := l.CMAC(v.In(t, "message"))
	vectors.Check(t, v, "mac", m[:])
}

// checkLRPSDM takes an LRP SUN message apart with the sdm package: the
// 24-byte PICCData, the session key, the SDMMAC and the file data; then
// the tag side rebuilds the published PICCData and file data.
func checkLRPSDM(t *testing.T, v vectors.Vector) {
	meta, file := key(t, v.In(t, "sdm_meta_read_key")), key(t, v.In(t, "sdm_file_read_key"))
	picc := v.In(t, "picc_data")
	d, err := sdm.DecryptPICCDataLRP(meta, picc)
	if err != nil {
		t.Fatal(err)
	}
	plain := v.Out(t, "picc_plain")
	vectors.Check(t, v, "uid", d.UID)
	c := d.Ctr.LE()
	vectors.Check(t, v, "sdm_read_ctr", c[:])
	if d.TagByte != plain[0] {
		vectors.Errorf(t, v, "picc data tag %02X, want %02X", d.TagByte, plain[0])
	}
	var rnd [8]byte
	copy(rnd[:], picc[:8])
	back := sdm.EncryptPICCDataLRP(meta, rnd, d.UID, d.Ctr, true, true, plain[11:])
	if !bytes.Equal(back[:], picc) {
		vectors.Errorf(t, v, "re-encrypted picc data %X", back)
	}
	sv := append(append([]byte{0x00, 0x01, 0x00, 0x80}, d.UID...), c[:]...)
	vectors.Check(t, v, "sv", append(sv, 0x1E, 0xE1))
	checkKey(t, v, "ses_sdm_file_read_key", sdm.LRPSessionKey(file, d.UID, d.Ctr))
	in, _ := v.Inputs["mac_input_ascii"].(string)
	m := sdm.MACLRP(file, d.UID, d.Ctr, []byte(in))
	vectors.Check(t, v, "mact", m[:])
	if !bytes.Equal(m[:], v.In(t, "mac")) {
		vectors.Errorf(t, v, "the mac of the message is %X", v.In(t, "mac"))
	}
	if !v.HasOut("file_data") {
		return
	}
	fd, err := sdm.DecryptFileDataLRP(file, d.UID, d.Ctr, v.In(t, "enc_file_data"))
	if err != nil {
		t.Fatal(err)
	}
	vectors.Check(t, v, "file_data", fd)
	again, _ := sdm.EncryptFileDataLRP(file, d.UID, d.Ctr, fd)
	if !bytes.Equal(again, v.In(t, "enc_file_data")) {
		vectors.Errorf(t, v, "re-encrypted file data %X", again)
	}
}
