package qa_test

import (
	"bytes"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/tagline-station/tagline/internal/refkdf"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/qa"
)

// mixedReport is a run with passes, each kind of url failure and a
// missing tag.
func mixedReport(t *testing.T) (*world, *qa.Report) {
	t.Helper()
	wd := newWorld(t)
	tags := wd.encode(wd.batch("b1", "SKU-1"), uid(1, 1), uid(1, 2), uid(1, 3))
	url := wd.phoneRead(tags[0])
	v := wd.verifier(qa.Config{CheckKeys: true})
	wantPass(t, wd.present(v, tags[1]))
	file := strings.Join([]string{url, url, flipMACDigit(url), "https://elsewhere.example/x,\"quoted\"", ""}, "\n")
	if _, err := v.VerifyURLs(strings.NewReader(file)); err != nil {
		t.Fatal(err)
	}
	return wd, finish(t, v)
}

func TestReportJSONRoundTrip(t *testing.T) {
	_, rep := mixedReport(t)
	if rep.OK() || rep.Passed {
		t.Fatal("a failing run passed")
	}
	c := rep.Counts
	if c.Results != 6 || c.Pass != 2 || c.Fail != 4 || c.Missing != 1 ||
		c.ByReason[qa.ReasonCounterReplay] != 1 || c.ByReason[qa.ReasonBadMAC] != 1 || c.ByReason[qa.ReasonURLMismatch] != 1 {
		t.Fatalf("%+v", c)
	}
	sum := 0
	for _, n := range c.ByReason {
		sum += n
	}
	if sum != c.Fail {
		t.Fatalf("by_reason adds to %d, fail %d", sum, c.Fail)
	}

	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	first := buf.String()
	back, err := qa.ReadJSON(strings.NewReader(first))
	if err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	back.WriteJSON(&again)
	if again.String() != first {
		t.Fatalf("json changed on a round trip:\n%s\n%s", first, again.String())
	}
	if back.OK() != rep.OK() || !reflect.DeepEqual(back.Counts, rep.Counts) || len(back.Results) != len(rep.Results) {
		t.Fatal("round trip lost data")
	}
	for i := range rep.Results {
		a, b := rep.Results[i], back.Results[i]
		if !a.At.Equal(b.At) {
			t.Fatalf("time %v %v", a.At, b.At)
		}
		a.At = b.At
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("result %d:\n%+v\n%+v", i, a, b)
		}
	}

	// The field names are the stable interface.
	var generic map[string]any
	json.Unmarshal([]byte(first), &generic)
	for _, k := range []string{"format", "batch", "sku", "key_version", "master_kcv", "mode", "keys_checked", "batch_size",
		"started_at", "finished_at", "passed", "statement", "counts", "results"} {
		if _, ok := generic[k]; !ok {
			t.Fatalf("no %q in %s", k, first)
		}
	}
	r0 := generic["results"].([]any)[0].(map[string]any)
	for _, k := range []string{"uid", "result", "read_ctr", "url", "source", "at"} {
		if _, ok := r0[k]; !ok {
			t.Fatalf("no %q in result %v", k, r0)
		}
	}
	if generic["format"] != qa.ReportFormat {
		t.Fatal(generic["format"])
	}
	if _, err := qa.ReadJSON(strings.NewReader(`{"format":"other"}`)); err == nil {
		t.Fatal("foreign json accepted")
	}
}

func TestReportCSVRoundTrip(t *testing.T) {
	_, rep := mixedReport(t)
	var buf bytes.Buffer
	if err := rep.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	raw := buf.String()
	rows, err := csv.NewReader(strings.NewReader(raw)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != "uid,result,reason,read_ctr,url" || len(rows) != 1+len(rep.Results) {
		t.Fatalf("%v", rows)
	}
	for i, res := range rep.Results {
		row := rows[i+1]
		ctr := ""
		if res.ReadCtr != nil {
			ctr = strconv.FormatUint(uint64(*res.ReadCtr), 10)
		}
		want := []string{string(res.UID), string(res.Verdict), string(res.Reason), ctr, res.URL}
		if !reflect.DeepEqual(row, want) {
			t.Fatalf("row %d: %q, want %q", i, row, want)
		}
	}
	// The url with a comma and quotes survived quoting.
	if !strings.Contains(raw, `"https://elsewhere.example/x,""quoted"""`) {
		t.Fatalf("%s", raw)
	}
}

func TestReportTextAndNoKeys(t *testing.T) {
	wd, rep := mixedReport(t)
	var text, js, cs bytes.Buffer
	rep.WriteText(&text)
	rep.WriteJSON(&js)
	rep.WriteCSV(&cs)
	out := text.String()
	for _, want := range []string{"QA FAIL — batch b1", "counter_replay", "bad_mac", "url_mismatch", "missing", "line 2", "FAIL:"} {
		if !strings.Contains(out, want) {
			t.Fatalf("no %q in:\n%s", want, out)
		}
	}
	// No key of the batch appears anywhere: not the master, not any
	// tag's derived keys. A Key does not give out its bytes, so they are
	// derived again from the README's description, and each is checked
	// to be the key the station used.
	secrets := []string{masterHex}
	mb, _ := hex.DecodeString(masterHex)
	for u := range wd.tags {
		b, _ := hex.DecodeString(u)
		ks, _ := wd.d.Tag(b)
		ref, err := refkdf.Tagline(mb, b, wd.d.Version())
		if err != nil {
			t.Fatal(err)
		}
		for n, kb := range ref {
			if k, _ := keys.NewKey(kb[:]); !k.Equal(ks.Keys[n]) {
				t.Fatalf("reference derivation of key %d differs from the station's", n)
			}
			secrets = append(secrets, hex.EncodeToString(kb[:]))
		}
	}
	for _, s := range secrets {
		for _, o := range []string{out, js.String(), cs.String()} {
			if strings.Contains(strings.ToLower(o), strings.ToLower(s)) {
				t.Fatal("key material in a report")
			}
		}
	}
}

func TestSampleStatementText(t *testing.T) {
	wd := newWorld(t)
	tags := wd.encode(wd.batch("b1", "SKU-1"), uid(1, 1), uid(1, 2), uid(1, 3), uid(1, 4))
	v := wd.verifier(qa.Config{Mode: qa.ModeSample, Sample: qa.Sampling{N: 4, DefectRate: 0.25, Seed: 3}})
	for _, tag := range tags {
		wantPass(t, wd.present(v, tag))
	}
	rep := finish(t, v)
	s := rep.Sampling
	// All four of four: no tag is defective, with any confidence.
	if !rep.OK() || !s.Proven || s.FewerThan != 1 || s.AchievedConfidence != 1 {
		t.Fatalf("%+v", s)
	}
	var text bytes.Buffer
	rep.WriteText(&text)
	for _, want := range []string{"QA PASS", "hypergeometric, zero failures", "seed 3", "at most 0 of the 4 tags (0%) are defective", "with 95% confidence"} {
		if !strings.Contains(text.String(), want) {
			t.Fatalf("no %q in:\n%s", want, text.String())
		}
	}
}

// A 63-bit seed survives a pass through a JSON tool that reads numbers as
// float64 (here: decoding into interface{} and encoding again), and the
// seed read back draws the same sample.
func TestSeedSurvivesFloatJSONTools(t *testing.T) {
	wd := newWorld(t)
	var uids [][]byte
	for n := byte(1); n <= 8; n++ {
		uids = append(uids, uid(1, n))
	}
	tags := wd.encode(wd.batch("b1", "SKU-1"), uids...)
	const seed = uint64(1)<<62 + 12345 // above 2^53: float64 rounds it
	if uint64(float64(seed)) == seed {
		t.Fatal("the seed must not be exact in float64")
	}
	cfg := qa.Config{Mode: qa.ModeSample, Sample: qa.Sampling{N: 3, Seed: seed}}
	v := wd.verifier(cfg)
	sample := v.Sample()
	var journalUIDs []manifest.UID
	for _, tag := range tags {
		journalUIDs = append(journalUIDs, manifest.UID(strings.ToUpper(hex.EncodeToString(tag.UID()))))
		wd.present(v, tag)
	}
	// The test can fail: the rounded seed draws another sample.
	if reflect.DeepEqual(qa.SelectSample(journalUIDs, 3, uint64(float64(seed))), sample) {
		t.Fatal("pick a seed whose rounded value draws another sample")
	}
	rep := finish(t, v)
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"seed": "`+strconv.FormatUint(seed, 10)+`"`) {
		t.Fatalf("seed is not a decimal string:\n%s", buf.String())
	}
	var generic any
	if err := json.Unmarshal(buf.Bytes(), &generic); err != nil {
		t.Fatal(err)
	}
	through, err := json.Marshal(generic)
	if err != nil {
		t.Fatal(err)
	}
	back, err := qa.ReadJSON(bytes.NewReader(through))
	if err != nil {
		t.Fatal(err)
	}
	if uint64(back.Sampling.Seed) != seed {
		t.Fatalf("seed %d came back as %d", seed, back.Sampling.Seed)
	}
	cfg.Sample.Seed = uint64(back.Sampling.Seed)
	if again := wd.verifier(cfg).Sample(); !reflect.DeepEqual(again, sample) {
		t.Fatalf("sample %v, rerun with the seed from the report %v", sample, again)
	}

	// Reports that wrote the seed as a number are read from its digits.
	for _, tc := range []struct {
		json string
		want uint64
		ok   bool
	}{
		{`9007199254740993`, 9007199254740993, true},
		{`"18446744073709551615"`, 1<<64 - 1, true},
		{`"18446744073709551616"`, 0, false},
		{`-1`, 0, false},
		{`1e3`, 0, false},
		{`"0x10"`, 0, false},
	} {
		raw := `{"format":"` + qa.ReportFormat + `","sampling":{"seed":` + tc.json + `}}`
		got, err := qa.ReadJSON(strings.NewReader(raw))
		if (err == nil) != tc.ok || (tc.ok && uint64(got.Sampling.Seed) != tc.want) {
			t.Errorf("seed %s: %v %v", tc.json, got, err)
		}
	}
}
