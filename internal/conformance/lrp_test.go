package conformance

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/tagline-station/tagline/encoder"
	"github.com/tagline-station/tagline/ev2"

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
	byAlgorithm["lrp-authenticate-first"] = checkLRPAuth
	byAlgorithm["lrp-secure-messaging-sequence"] = checkLRPSequence
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

// checkLRPAuth replays AuthenticateLRPFirst: the encoder must send the
// published APDUs with the published RndA and accept the tag's answers;
// the session it builds has the published TI and EncCtr, and its keys
// compute the published values.
func checkLRPAuth(t *testing.T, v vectors.Vector) {
	k := key(t, v.In(t, "key"))
	rndA := v.In(t, "rnd_a")
	card := &script{t: t, steps: []step{
		{v.Out(t, "c_apdu_part1"), v.In(t, "r_apdu_part1")},
		{v.Out(t, "c_apdu_part2"), v.In(t, "r_apdu_part2")},
	}}
	conn := encoder.New(card, encoder.Options{Rand: bytes.NewReader(rndA)})
	if err := conn.AuthenticateLRPFirst(context.Background(), v.In(t, "key_no")[0], k); err != nil {
		t.Fatal(err)
	}
	s := conn.Session()
	vectors.Check(t, v, "ti", s.TI[:])
	if got := fmt.Sprintf("%08X", s.EncCtr()); got != v.OutString(t, "enc_ctr_after") {
		vectors.Errorf(t, v, "EncCtr after authentication %s", got)
	}
	rndB := v.Out(t, "rnd_b")
	vectors.Check(t, v, "rnd_b", v.In(t, "r_apdu_part1")[1:17])
	sv := ev2.LRPSessionVector(rndA, rndB)
	vectors.Check(t, v, "sv", sv[:])
	master := ev2.LRPSessionMasterKey(k, rndA, rndB)
	ml := lrp.New(master)
	checkKey(t, v, "ses_auth_mac_updated_key", ml.UpdatedKey(0))
	checkKey(t, v, "ses_auth_enc_updated_key", ml.UpdatedKey(1))
	proof := ev2.LRPPCDResponse(master, rndA, rndB)
	vectors.Check(t, v, "pcd_response", proof[:])
	r2 := v.In(t, "r_apdu_part2")
	plain, err := ml.LRICB(1, make([]byte, 4)).Decrypt(r2[:16])
	if err != nil {
		t.Fatal(err)
	}
	vectors.Check(t, v, "picc_data_plain", plain)
	vectors.Check(t, v, "picc_response", r2[16:32])
	// The tag side builds the same answer from the same randoms.
	var ti [4]byte
	var pd, pcd [6]byte
	copy(ti[:], plain[:4])
	copy(pd[:], plain[4:10])
	copy(pcd[:], plain[10:16])
	if err := ev2.LRPCheckPCDResponse(master, rndA, rndB, proof[:]); err != nil {
		t.Fatal(err)
	}
	if ans := ev2.LRPFirstAnswer(master, rndA, rndB, ti, pd, pcd); !bytes.Equal(ans, r2[:32]) {
		vectors.Errorf(t, v, "tag side answer %X", ans)
	}
	// A changed PICCResponse is refused.
	bad := bytes.Clone(r2)
	bad[20] ^= 1
	card = &script{t: t, steps: []step{{nil, v.In(t, "r_apdu_part1")}, {nil, bad}}}
	conn = encoder.New(card, encoder.Options{Rand: bytes.NewReader(rndA)})
	if err := conn.AuthenticateLRPFirst(context.Background(), 3, k); err == nil || conn.Authenticated() {
		t.Fatalf("a corrupted PICCResponse authenticated")
	}
}

// checkLRPSequence replays a recorded LRP session: from the session
// vector the encoder builds the session (EncCtr 1 after authentication),
// sends the recorded commands byte for byte and reads the recorded
// answers, one EncCtr across commands and responses.
func checkLRPSequence(t *testing.T, v vectors.Vector) {
	master := lrp.MACKey(key(t, v.In(t, "key")), v.In(t, "sv"))
	var ti [4]byte
	copy(ti[:], v.In(t, "ti"))
	steps, _ := v.Inputs["steps"].([]any)
	if len(steps) == 0 {
		t.Fatalf("vector %s: no steps", v.Name)
	}
	card := &script{t: t}
	for i := range steps {
		st := steps[i].(map[string]any)
		card.steps = append(card.steps, step{v.Out(t, fmt.Sprintf("c_apdu_%d", i)), mustHexAny(t, st["r_apdu"])})
	}
	conn := encoder.New(card, encoder.Options{})
	conn.SetSession(ev2.NewLRPSession(master, ti, 0, 1))
	for i := range steps {
		st := steps[i].(map[string]any)
		got, err := conn.Command(context.Background(), mustHexAny(t, st["cmd"])[0], encoder.Full, mustHexAny(t, st["header"]), mustHexAny(t, st["data"]))
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		vectors.Check(t, v, fmt.Sprintf("response_%d", i), got)
	}
	if len(card.steps) != 0 {
		t.Fatalf("%d recorded exchanges not used", len(card.steps))
	}
}

func mustHexAny(t *testing.T, x any) []byte {
	t.Helper()
	s, _ := x.(string)
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("step field %q: %v", s, err)
	}
	return b
}
