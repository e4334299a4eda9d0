package cmd

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/internal/refkdf"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/qa"
	"github.com/tagline-station/tagline/reader/sim"
)

// secretsKeyHex is the known master key of the secrets test: no pattern
// that ordinary output could hold by chance.
const secretsKeyHex = "9c3e51a7d20bf4681e5ac97302db64f8"

// secretsTemplate mirrors file data too, so the SDMFileRead key also
// encrypts.
const secretsTemplate = "https://sdm.tagline.example/tag?picc_data={picc}&enc={enc}&cmac={mac}"

// A batch, QA, a sync to the backend and phone taps, all with a known
// master key: nothing tagline writes (stdout, stderr, log files, the
// journal, manifests, the QA state, the backend's store, HTTP bodies and
// /metrics) holds the master key or any key derived from it, in any
// common encoding; with either key derivation.
func TestNoKeyInAnythingTaglineWrites(t *testing.T) {
	for _, kdf := range []keys.Scheme{keys.SchemeTagline, keys.SchemeSDMBackend} {
		t.Run(string(kdf), func(t *testing.T) { noKeyInAnythingWritten(t, kdf) })
	}
}

func noKeyInAnythingWritten(t *testing.T, kdf keys.Scheme) {
	c := newCLI(t)
	keyFile := c.write("master.key", secretsKeyHex+"\n", 0o600)
	tokFile := c.write("sync.token", testSyncToken+"\n", 0o600)
	journal, logFile := c.path("j.db"), c.path("tagline.log")
	var caps []capture
	keep := func(name string, r result) {
		caps = append(caps, capture{name + " stdout", []byte(r.stdout)}, capture{name + " stderr", []byte(r.stderr)})
	}
	tagline := func(want int, args ...string) result {
		t.Helper()
		r := c.must(want, append([]string{"--log", logFile}, args...)...)
		keep(strings.Join(args[:min(2, len(args))], " "), r)
		return r
	}
	keyArgs := []string{"--journal", journal, "--master-key-file", keyFile, "--kdf", string(kdf)}

	tagline(0, "keys", "check", "--master-key-file", keyFile, "--kdf", string(kdf))
	tagline(0, "keys", "check", "--master-key-file", keyFile, "--kdf", string(kdf), "--json")
	tagline(0, "batch", "new", "--journal", journal, "--id", "b1", "--sku", "SKU-1", "--target", "3", "--key-version", "1",
		"--template", secretsTemplate, "--station-id", "line-1", "--kdf", string(kdf))
	r := tagline(0, append([]string{"encode", "--batch", "b1", "--reader", "sim", "--count", "2", "--json", "--sim-interval", "1ms"}, keyArgs...)...)
	encoded := parseTagLines(t, r.stdout)
	tagline(0, append([]string{"encode", "--batch", "b1", "--reader", "sim", "--count", "1", "--no-tui", "--sim-interval", "1ms"}, keyArgs...)...)
	r = tagline(0, "batch", "export", "--journal", journal, "b1")
	var uids []string
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var rec struct{ Type, UID string }
		if err := json.Unmarshal([]byte(line), &rec); err == nil && rec.Type == "binding" && !slices.Contains(uids, rec.UID) {
			uids = append(uids, rec.UID)
		}
	}
	if len(uids) != 3 || len(encoded) != 2 {
		t.Fatalf("tags %v, encode --json lines %d", uids, len(encoded))
	}
	tagline(0, "batch", "export", "--journal", journal, "b1", "--format", "csv", "-o", c.path("b1.csv"))
	tagline(0, "batch", "export", "--journal", journal, "b1", "-o", c.path("b1.jsonl"))
	tagline(0, "batch", "show", "--journal", journal, "b1")
	tagline(0, "batch", "list", "--journal", journal, "--json")
	tagline(0, "journal", "check", "--journal", journal)

	// QA: simulated copies with the keys checked, and the URLs encode
	// read back (replays, exit 4), in text and JSON.
	tagline(0, append([]string{"verify", "--batch", "b1", "--reader", "sim", "--check-keys", "--json"}, keyArgs...)...)
	var jl strings.Builder
	for _, e := range encoded {
		json.NewEncoder(&jl).Encode(e)
	}
	stationURLs := c.write("encoded.jsonl", jl.String(), 0o600)
	tagline(4, append([]string{"verify", "--batch", "b1", "--urls", stationURLs, "--state", c.path("qa2.json")}, keyArgs...)...)
	tagline(4, append([]string{"verify", "--batch", "b1", "--urls", stationURLs, "--state", c.path("qa3.json"), "--csv", c.path("qa.csv")}, keyArgs...)...)

	// Fresh phone reads of copies of the tags, made before sync locks the
	// journal.
	fresh := phoneReadsOfCopies(t, journal, keyFile, kdf, uids)

	serveLog := c.path("serve.log")
	addr, stop := startServe(t, c, "--log", serveLog, "--log-level", "debug", "--listen", "127.0.0.1:0",
		"--store", "bolt:"+c.path("serve.db"), "--template", secretsTemplate, "--master-key-file", keyFile,
		"--kdf", string(kdf), "--token-file", tokFile, "--default-redirect", "https://brand.example/", "--accept-simulated")
	get := func(name, path string, api bool, want int) {
		t.Helper()
		status, body, header := getAsPhone(t, "http://"+addr+path, api)
		if want != 0 && status != want {
			t.Errorf("%s: status %d, want %d: %s", name, status, want, body)
		}
		var head strings.Builder
		header.Write(&head)
		caps = append(caps, capture{name + " body", body}, capture{name + " headers", []byte(head.String())})
	}
	tapPath := func(u string) string { return u[strings.Index(u, "/tag?"):] }
	get("tap before sync", tapPath(fresh[0][0]), true, http.StatusNotFound)
	tagline(0, "sync", "--endpoint", "http://"+addr, "--journal", journal, "--token-file", tokFile, "--json")
	tagline(0, "sync", "--endpoint", "http://"+addr, "--journal", journal, "--token-file", tokFile)
	get("genuine tap", tapPath(fresh[1][0]), true, http.StatusOK)
	get("genuine browser tap", tapPath(fresh[2][0]), false, http.StatusFound)
	get("replayed tap", tapPath(fresh[1][0]), true, http.StatusConflict)
	get("station url tap", tapPath(encoded[0].URL), false, http.StatusConflict)
	forged := fresh[1][1]
	forged = forged[:len(forged)-1] + flipHex(forged[len(forged)-1:])
	get("forged tap", tapPath(forged), true, 0)
	get("healthz", "/healthz", false, http.StatusOK)
	get("metrics", "/metrics", false, http.StatusOK)
	keep("serve", stop())

	// Every file in the working folder but the test's own inputs: the
	// expected ones must be there, and any other tagline wrote is searched
	// too.
	inputs := map[string]bool{keyFile: true, tokFile: true, stationURLs: true}
	files := map[string]bool{}
	err := filepath.WalkDir(c.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || inputs[p] {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(c.dir, p)
		files[rel] = true
		caps = append(caps, capture{rel, b})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{journal, logFile, serveLog, c.path("serve.db"), c.path("b1.csv"), c.path("b1.jsonl"),
		journal + ".qa-state.json", c.path("qa2.json"), c.path("qa3.json"), c.path("qa.csv")} {
		if rel, _ := filepath.Rel(c.dir, f); !files[rel] {
			t.Fatalf("tagline did not write %s (files: %v)", rel, files)
		}
	}

	secrets := append(derivedKeys(t, keyFile, kdf, uids), secretKey{"the sync token", []byte(testSyncToken)})
	needles := keyNeedles(secrets)
	if hits := findSecrets(caps, needles); len(hits) > 0 {
		t.Fatalf("tagline wrote key material:\n%s", strings.Join(hits, "\n"))
	}
	size := 0
	for _, c := range caps {
		size += len(c.data)
	}
	for _, c := range caps {
		if len(c.data) > 1<<20 {
			t.Logf("%s: %d bytes", c.name, len(c.data))
		}
	}
	t.Logf("searched %d captures (%d bytes) for %d keys in %d forms", len(caps), size, len(secrets), len(needles))
	// The same search finds a derived key planted in one of the captures.
	planted := slices.Clone(caps)
	k := secrets[len(secrets)-4] // key 2 (SDMFileRead) of the last tag
	if !strings.HasPrefix(k.name, "key 2 of ") {
		t.Fatalf("planting %s", k.name)
	}
	i := slices.IndexFunc(planted, func(c capture) bool { return c.name == "metrics body" })
	planted[i].data = append(slices.Clone(planted[i].data), []byte(base64.RawURLEncoding.EncodeToString(append([]byte{7}, k.b...)))...)
	hits := findSecrets(planted, needles)
	if len(hits) == 0 {
		t.Fatalf("planted %s not found", k.name)
	}
	for _, h := range hits {
		if !strings.HasPrefix(h, "metrics body holds "+k.name+" as base64") {
			t.Fatalf("planted %s: %v", k.name, hits)
		}
	}
	// The captures are the real thing, not empty streams.
	all := captureText(caps)
	for _, want := range []string{`"result":"genuine"`, "tagline_", "QA FAIL", `"passed": true`, "counter_replay", uids[0]} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q in what tagline wrote", want)
		}
	}
}

// derivedKeys is the master key and every key derived from it for the
// tags: the five slots of each tag and the meta-read key, for the batch's
// key version and scheme. A keys.Key does not give out its bytes, so they
// are derived again by internal/refkdf and checked to be package keys'.
func derivedKeys(t *testing.T, keyFile string, kdf keys.Scheme, uids []string) []secretKey {
	t.Helper()
	raw, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	m, err := keys.ParseMaster(raw)
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := hex.DecodeString(strings.TrimSpace(string(raw)))
	out := []secretKey{{"the master key", mb}}
	d, err := keys.NewDeriver(kdf, m, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i, u := range uids {
		ub, err := hex.DecodeString(u)
		if err != nil {
			t.Fatal(err)
		}
		ks, err := d.Tag(ub)
		if err != nil {
			t.Fatal(err)
		}
		ref := referenceKeys(t, kdf, mb, ub)
		for n, kb := range ref {
			if k, _ := keys.NewKey(kb[:]); !k.Equal(ks.Keys[n]) {
				t.Fatalf("reference derivation of key %d of %s differs from package keys", n, u)
			}
			if n == keys.SlotSDMMeta && i == 0 {
				out = append(out, secretKey{"the meta-read key", kb[:]})
			}
			out = append(out, secretKey{fmt.Sprintf("key %d of %s", n, u), kb[:]})
		}
	}
	return out
}

// referenceKeys derives the five keys of a tag with internal/refkdf.
func referenceKeys(t *testing.T, kdf keys.Scheme, master, uid []byte) [refkdf.Slots][16]byte {
	t.Helper()
	derive := func() ([refkdf.Slots][16]byte, error) { return refkdf.Tagline(master, uid, 1) }
	if kdf == keys.SchemeSDMBackend {
		derive = func() ([refkdf.Slots][16]byte, error) { return refkdf.SDMBackend(master, uid) }
	}
	ref, err := derive()
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// phoneReadsOfCopies returns two fresh phone reads of a copy of each tag,
// personalised as the station did and moved to the journal's counter
// (verify --reader sim's copies), so that the backend takes the first as
// genuine.
func phoneReadsOfCopies(t *testing.T, journal, keyFile string, kdf keys.Scheme, uids []string) [][2]string {
	t.Helper()
	store, err := batch.Open(journal, batch.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	b, err := store.GetBatch("b1")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(keyFile)
	m, err := keys.ParseMaster(raw)
	if err != nil {
		t.Fatal(err)
	}
	d, err := keys.NewDeriver(kdf, m, b.KeyVersion)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r := sim.NewReader("phone")
	defer r.Close()
	var out [][2]string
	for _, u := range uids {
		tag, err := simCopy(ctx, verifySim{store: store, batch: b, deriver: d}, manifest.UID(u))
		if err != nil {
			t.Fatal(err)
		}
		var reads [2]string
		for i := range reads {
			r.Present(tag)
			card, err := r.WaitTag(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if reads[i], err = qa.ReadURL(ctx, card); err != nil {
				t.Fatal(err)
			}
			card.Close()
			r.Remove()
		}
		out = append(out, reads)
	}
	return out
}

func captureText(caps []capture) string {
	var b strings.Builder
	for _, c := range caps {
		b.Write(c.data)
		b.WriteByte('\n')
	}
	return b.String()
}

// The search finds a key in each form tagline could print it, also inside
// longer base64 text at any alignment, and not in near misses.
func TestSecretScanFindsEachForm(t *testing.T) {
	key := secretKey{"k", []byte{0x9c, 0x3e, 0x51, 0xa7, 0xd2, 0x0b, 0xf4, 0x68, 0x1e, 0x5a, 0xc9, 0x73, 0x02, 0xdb, 0x64, 0xf8}}
	needles := keyNeedles([]secretKey{key})
	var arr [16]byte
	copy(arr[:], key.b)
	jsonBytes, _ := json.Marshal(key.b)
	jsonArray, _ := json.Marshal(arr)
	forms := map[string]string{
		"%x":                 fmt.Sprintf("key=%x;", key.b),
		"%X":                 fmt.Sprintf("key=%X;", key.b),
		"% x":                fmt.Sprintf("key=% x;", key.b),
		"%v":                 fmt.Sprintf("key=%v;", key.b),
		"%v of an array":     fmt.Sprintf("key=%v;", arr),
		"json of a slice":    string(jsonBytes),
		"json of an array":   string(jsonArray),
		"raw":                "\x00" + string(key.b) + "\x00",
		"base64 std":         "k=" + base64.StdEncoding.EncodeToString(key.b),
		"base64 url, no pad": "k=" + base64.RawURLEncoding.EncodeToString(key.b),
	}
	for pre := range 3 {
		for _, post := range []int{0, 1, 2, 5} {
			blob := append(append(make([]byte, pre, pre+len(key.b)+post), key.b...), make([]byte, post)...)
			forms[fmt.Sprintf("inside base64 std, %d before, %d after", pre, post)] = base64.StdEncoding.EncodeToString(blob)
			forms[fmt.Sprintf("inside base64url, %d before, %d after", pre, post)] = base64.RawURLEncoding.EncodeToString(blob)
		}
	}
	for name, text := range forms {
		if hits := findSecrets([]capture{{name, []byte(text)}}, needles); len(hits) == 0 {
			t.Errorf("%s: %q not found", name, text)
		}
	}
	// One byte off is not the key.
	other := slices.Clone(key.b)
	other[15] ^= 1
	var misses []capture
	for _, b := range [][]byte{other, key.b[:15]} {
		misses = append(misses, capture{"near miss", []byte(fmt.Sprintf("%x %X %v", b, b, b))})
	}
	if hits := findSecrets(misses, needles); len(hits) != 0 {
		t.Errorf("near misses found: %v", hits)
	}
}
