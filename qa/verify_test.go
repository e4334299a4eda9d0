package qa_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tagline-station/tagline/encoder"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/qa"
	"github.com/tagline-station/tagline/reader/sim"
)

func TestPresentedTagsPass(t *testing.T) {
	wd := newWorld(t)
	b := wd.batch("b1", "SKU-1")
	tags := wd.encode(b, uid(1, 1), uid(1, 2), uid(1, 3))
	v := wd.verifier(qa.Config{CheckKeys: true})
	if v.BatchSize() != 3 || v.Remaining() != 3 {
		t.Fatalf("batch size %d remaining %d", v.BatchSize(), v.Remaining())
	}
	for i, tag := range tags {
		before := tag.Snapshot()
		res := wd.present(v, tag)
		wantPass(t, res)
		if res.UID != manifest.UID(fmt.Sprintf("%X", tag.UID())) || res.ReadCtr == nil || *res.ReadCtr != uint32(tag.SDMReadCtr()) || res.BoundBatch != "b1" {
			t.Fatalf("result %+v", res)
		}
		after := tag.Snapshot()
		if after.TotFailCtr != before.TotFailCtr || after.KeyKCV != before.KeyKCV {
			t.Fatalf("qa changed the tag: %+v -> %+v", before.TotFailCtr, after.TotFailCtr)
		}
		if v.Remaining() != 2-i {
			t.Fatalf("remaining %d after %d tags", v.Remaining(), i+1)
		}
	}
	rep := finish(t, v)
	if !rep.OK() || !rep.Passed || rep.Counts.Pass != 3 || rep.Counts.Fail != 0 || rep.Counts.Verified != 3 {
		t.Fatalf("report %+v", rep.Counts)
	}
	if !strings.HasPrefix(rep.Statement, "PASS: full inspection") || !rep.KeysChecked || rep.MasterKCV != wd.d.MasterKCV() {
		t.Fatalf("statement %q", rep.Statement)
	}
	if !rep.FinishedAt.After(rep.StartedAt) {
		t.Fatalf("times %v %v", rep.StartedAt, rep.FinishedAt)
	}
}

func TestURLFilePasses(t *testing.T) {
	wd := newWorld(t)
	b := wd.batch("b1", "SKU-1")
	tags := wd.encode(b, uid(1, 1), uid(1, 2), uid(1, 3))
	var file strings.Builder
	file.WriteString("# captured by phone 1\n\n")
	for _, tag := range tags {
		fmt.Fprintf(&file, "  %s \r\n", wd.phoneRead(tag))
	}
	file.WriteString("   \n# end")
	v := wd.verifier(qa.Config{})
	res, err := v.VerifyURLs(strings.NewReader(file.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 {
		t.Fatalf("%d results", len(res))
	}
	for i, r := range res {
		wantPass(t, r)
		if r.Line != 3+i || r.Source != qa.SourceURL {
			t.Fatalf("line %d source %s", r.Line, r.Source)
		}
	}
	if rep := finish(t, v); !rep.OK() {
		t.Fatalf("%s", rep.Statement)
	}
}

func flipMACDigit(url string) string {
	i := strings.Index(url, "cmac=") + len("cmac=") + 3
	c := byte('0')
	if url[i] == '0' {
		c = '1'
	}
	return url[:i] + string(c) + url[i+1:]
}

func TestFlippedMACDigitIsBadMAC(t *testing.T) {
	wd := newWorld(t)
	b := wd.batch("b1", "SKU-1")
	tags := wd.encode(b, uid(1, 1))
	url := wd.phoneRead(tags[0])
	v := wd.verifier(qa.Config{})
	res := verifyURL(t, v, flipMACDigit(url))
	wantFail(t, res, qa.ReasonBadMAC)
	if res.UID != "" || res.ReadCtr != nil {
		t.Fatalf("an unverified url named a uid: %+v", res)
	}
	// The forged URL taught QA nothing: the genuine one still passes.
	wantPass(t, verifyURL(t, v, url))

	// Other text, or a non-hex field, does not match the template.
	wantFail(t, verifyURL(t, v, strings.Replace(url, "brand.example", "brand.exampl3", 1)), qa.ReasonURLMismatch)
	wantFail(t, verifyURL(t, v, strings.Replace(url, "cmac=", "cmac=zz", 1)[:len(url)]), qa.ReasonURLMismatch)
	wantFail(t, verifyURL(t, v, "hello"), qa.ReasonURLMismatch)
}

func TestCounterReplay(t *testing.T) {
	wd := newWorld(t)
	b := wd.batch("b1", "SKU-1")
	tags := wd.encode(b, uid(1, 1), uid(1, 2))
	state := filepath.Join(t.TempDir(), "state.json")

	// The URL the station read back has the binding's read_ctr: a phone
	// could only show it if it was captured then.
	v := wd.verifier(qa.Config{StatePath: state})
	stationURL := wd.encoded[fmt.Sprintf("%X", tags[0].UID())]
	res := verifyURL(t, v, stationURL)
	wantFail(t, res, qa.ReasonCounterReplay)
	if !strings.Contains(res.Detail, "journal") {
		t.Fatalf("detail %q", res.Detail)
	}

	// The same fresh URL twice in one run.
	url1 := wd.phoneRead(tags[0])
	wantPass(t, verifyURL(t, v, url1))
	res = verifyURL(t, v, url1)
	wantFail(t, res, qa.ReasonCounterReplay)
	if !strings.Contains(res.Detail, "qa saw") {
		t.Fatalf("detail %q", res.Detail)
	}
	// The tag itself moved on: presenting it passes.
	url2 := wd.phoneRead(tags[1])
	wantPass(t, wd.present(v, tags[0]))
	finish(t, v)

	// A later run with the same state file catches both the replay and
	// the older URL; a run without that memory would not.
	v2 := wd.verifier(qa.Config{StatePath: state})
	wantFail(t, verifyURL(t, v2, url1), qa.ReasonCounterReplay)
	wantPass(t, verifyURL(t, v2, url2))
	if _, err := v2.Finish(); err != nil {
		t.Fatal(err)
	}
	v3 := wd.verifier(qa.Config{StatePath: state})
	wantFail(t, verifyURL(t, v3, url2), qa.ReasonCounterReplay)

	fresh := wd.verifier(qa.Config{})
	wantPass(t, verifyURL(t, fresh, url1))

	// The state file is ours, well formed, and replaced atomically.
	raw, err := os.ReadFile(state)
	if err != nil || !strings.Contains(string(raw), qa.StateFormat) {
		t.Fatalf("state %s %v", raw, err)
	}
	ents, _ := os.ReadDir(filepath.Dir(state))
	if len(ents) != 1 {
		t.Fatalf("temporary files left: %v", ents)
	}
}

func TestCorruptStateFileIsRefused(t *testing.T) {
	wd := newWorld(t)
	wd.encode(wd.batch("b1", "SKU-1"), uid(1, 1))
	state := filepath.Join(t.TempDir(), "state.json")
	os.WriteFile(state, []byte("{not json"), 0o600)
	if _, err := wd.newVerifier(qa.Config{StatePath: state}); !isErr(err, qa.ErrState) {
		t.Fatalf("corrupt state: %v", err)
	}
	os.WriteFile(state, []byte(`{"format":"tagline-qa-state/9","tags":{}}`), 0o600)
	if _, err := wd.newVerifier(qa.Config{StatePath: state}); !isErr(err, qa.ErrState) {
		t.Fatalf("future state: %v", err)
	}
	if _, err := qa.New(qa.Config{Journal: wd.journal(), BatchID: "b1", Deriver: wd.d}); !isErr(err, qa.ErrState) {
		t.Fatalf("no state path: %v", err)
	}
}

func TestUnknownUID(t *testing.T) {
	wd := newWorld(t)
	wd.encode(wd.batch("b1", "SKU-1"), uid(1, 1))
	stray := wd.personaliseUnjournaled(uid(9, 9))
	url := wd.phoneRead(stray)
	v := wd.verifier(qa.Config{CheckKeys: true})
	res := wd.present(v, stray)
	wantFail(t, res, qa.ReasonUnknownUID)
	if res.UID != manifest.UID(fmt.Sprintf("%X", uid(9, 9))) || !slices.Equal(res.Reasons, []qa.Reason{qa.ReasonUnknownUID}) {
		t.Fatalf("%+v", res)
	}
	// Its counters are remembered too: the earlier URL is a replay now.
	res = verifyURL(t, v, url)
	if !slices.Equal(res.Reasons, []qa.Reason{qa.ReasonUnknownUID, qa.ReasonCounterReplay}) {
		t.Fatalf("%+v", res)
	}
}

func TestWrongBatchAndSKU(t *testing.T) {
	wd := newWorld(t)
	mine := wd.encode(wd.batch("b1", "SKU-1"), uid(1, 1))
	sibling := wd.encode(wd.batch("b2", "SKU-1"), uid(2, 1))
	other := wd.encode(wd.batch("b3", "SKU-3"), uid(3, 1))
	v := wd.verifier(qa.Config{})
	res := wd.present(v, sibling[0])
	wantFail(t, res, qa.ReasonWrongBatch)
	if res.BoundBatch != "b2" {
		t.Fatalf("%+v", res)
	}
	res = wd.present(v, other[0])
	wantFail(t, res, qa.ReasonWrongBatch)
	if !slices.Equal(res.Reasons, []qa.Reason{qa.ReasonWrongBatch, qa.ReasonWrongSKU}) {
		t.Fatalf("%+v", res)
	}
	wantPass(t, wd.present(v, mine[0]))
	rep := finish(t, v)
	if rep.OK() || rep.Counts.ByReason[qa.ReasonWrongBatch] != 2 || rep.Counts.Verified != 1 {
		t.Fatalf("%+v", rep.Counts)
	}

	// QA expects another SKU than the batch was encoded as.
	v = wd.verifier(qa.Config{SKU: "SKU-2"})
	wantFail(t, wd.present(v, mine[0]), qa.ReasonWrongSKU)
}

// revertKey puts the factory key back into slot n (version 00), as a
// faulty encoder might have left it.
func revertKey(t *testing.T, wd *world, tag *sim.Tag, n byte) {
	t.Helper()
	ks, err := wd.d.Tag(tag.UID())
	if err != nil {
		t.Fatal(err)
	}
	c := encoder.New(wd.connect(tag), encoder.Options{})
	ctx := context.Background()
	if err := c.SelectApplication(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.AuthenticateEV2First(ctx, 0, ks.Keys[0]); err != nil {
		t.Fatal(err)
	}
	if err := c.ChangeKey(ctx, n, ks.Keys[n], keys.FactoryKey, 0); err != nil {
		t.Fatal(err)
	}
	wd.r.Remove()
}

func TestFactoryKeyPresentWithoutSpendingAuthentications(t *testing.T) {
	wd := newWorld(t)
	tags := wd.encode(wd.batch("b1", "SKU-1"), uid(1, 1), uid(1, 2))
	revertKey(t, wd, tags[0], 4)
	if !tags[0].Key(4).IsZero() || tags[0].KeyVersion(4) != 0 {
		t.Fatal("key 4 not reverted")
	}
	v := wd.verifier(qa.Config{CheckKeys: true})
	before := tags[0].Snapshot()
	res := wd.present(v, tags[0])
	wantFail(t, res, qa.ReasonFactoryKey)
	if !strings.Contains(res.Detail, "key 4") || strings.Contains(res.Detail, "key 3") {
		t.Fatalf("detail %q", res.Detail)
	}
	after := tags[0].Snapshot()
	if after.TotFailCtr != before.TotFailCtr || after.SeqFailCtr != before.SeqFailCtr || after.Authenticated {
		t.Fatalf("qa spent authentications: %v -> %v (authenticated %v)", before.TotFailCtr, after.TotFailCtr, after.Authenticated)
	}
	// The SUN message itself is still genuine: without the key check the
	// tag passes, which is why the check exists.
	wantPass(t, verifyURL(t, wd.verifier(qa.Config{}), wd.phoneRead(tags[0])))

	// A key with a foreign version.
	ks, _ := wd.d.Tag(tags[1].UID())
	c := encoder.New(wd.connect(tags[1]), encoder.Options{})
	ctx := context.Background()
	if err := c.SelectApplication(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.AuthenticateEV2First(ctx, 0, ks.Keys[0]); err != nil {
		t.Fatal(err)
	}
	if err := c.ChangeKey(ctx, 3, ks.Keys[3], ks.Keys[3], 7); err != nil {
		t.Fatal(err)
	}
	wd.r.Remove()
	before = tags[1].Snapshot()
	wantFail(t, wd.present(v, tags[1]), qa.ReasonWrongKeyVersion)
	if tags[1].Snapshot().TotFailCtr != before.TotFailCtr {
		t.Fatal("authentication spent on a wrong version")
	}
}

func TestWrongKeyZeroSpendsOneAttempt(t *testing.T) {
	wd := newWorld(t)
	tags := wd.encode(wd.batch("b1", "SKU-1"), uid(1, 1))
	tag := tags[0]
	// Key 0 replaced by a key of the right version that is not ours.
	ks, _ := wd.d.Tag(tag.UID())
	foreign, _ := keys.NewKey([]byte("not our key 0!!!"))
	c := encoder.New(wd.connect(tag), encoder.Options{})
	ctx := context.Background()
	if err := c.SelectApplication(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.AuthenticateEV2First(ctx, 0, ks.Keys[0]); err != nil {
		t.Fatal(err)
	}
	if err := c.ChangeKey(ctx, 0, ks.Keys[0], foreign, 1); err != nil {
		t.Fatal(err)
	}
	wd.r.Remove()
	v := wd.verifier(qa.Config{CheckKeys: true})
	before := tag.Snapshot()
	wantFail(t, wd.present(v, tag), qa.ReasonWrongKey)
	after := tag.Snapshot()
	if after.TotFailCtr[0] != before.TotFailCtr[0]+1 {
		t.Fatalf("key 0 fail counter %d -> %d, want exactly one attempt", before.TotFailCtr[0], after.TotFailCtr[0])
	}
	for n := 1; n < 5; n++ {
		if after.TotFailCtr[n] != before.TotFailCtr[n] {
			t.Fatalf("key %d was tried", n)
		}
	}
}

func TestUnreadableAndBlankTags(t *testing.T) {
	wd := newWorld(t)
	tags := wd.encode(wd.batch("b1", "SKU-1"), uid(1, 1))
	v := wd.verifier(qa.Config{CheckKeys: true})
	card := wd.connect(tags[0])
	tags[0].RemoveAfter(2) // select application and file, then gone
	res, err := v.VerifyTag(context.Background(), card)
	if err != nil {
		t.Fatal(err)
	}
	wantFail(t, res, qa.ReasonUnreadable)
	if res.UID != manifest.UID(fmt.Sprintf("%X", uid(1, 1))) || res.ReadCtr != nil {
		t.Fatalf("%+v", res)
	}
	wd.r.Remove()

	// Removed during the key check: the SUN message verified, the proof
	// of the keys is incomplete.
	card = wd.connect(tags[0])
	tags[0].RemoveAfter(6)
	res, err = v.VerifyTag(context.Background(), card)
	if err != nil {
		t.Fatal(err)
	}
	wantFail(t, res, qa.ReasonUnreadable)
	if res.ReadCtr == nil {
		t.Fatalf("%+v", res)
	}
	wd.r.Remove()

	blank := sim.New(sim.Options{UID: uid(7, 7)})
	wantFail(t, wd.present(v, blank), qa.ReasonURLMismatch)

	// Presented again, the tag passes: a failure is a result, not a
	// dead end.
	wantPass(t, wd.present(v, tags[0]))
}

func TestFullModeReportsMissing(t *testing.T) {
	wd := newWorld(t)
	tags := wd.encode(wd.batch("b1", "SKU-1"), uid(1, 1), uid(1, 2), uid(1, 3))
	v := wd.verifier(qa.Config{})
	wantPass(t, wd.present(v, tags[1]))
	wantPass(t, wd.present(v, tags[1])) // twice: the counter moved on
	rep := finish(t, v)
	if rep.OK() || rep.Counts.Missing != 2 || rep.Counts.Pass != 2 || rep.Counts.Verified != 1 {
		t.Fatalf("%+v", rep.Counts)
	}
	var missing []string
	for _, r := range rep.Results {
		if r.Reason == qa.ReasonMissing {
			missing = append(missing, string(r.UID))
			if r.Source != qa.SourceJournal {
				t.Fatalf("%+v", r)
			}
		}
	}
	if !slices.Equal(missing, []string{fmt.Sprintf("%X", uid(1, 1)), fmt.Sprintf("%X", uid(1, 3))}) {
		t.Fatalf("missing %v", missing)
	}
	if _, err := v.VerifyURL(wd.phoneRead(tags[0])); !isErr(err, qa.ErrFinished) {
		t.Fatalf("after finish: %v", err)
	}
}

func TestSeededSample(t *testing.T) {
	wd := newWorld(t)
	var uids [][]byte
	for n := byte(1); n <= 8; n++ {
		uids = append(uids, uid(1, n))
	}
	tags := wd.encode(wd.batch("b1", "SKU-1"), uids...)
	cfg := qa.Config{Mode: qa.ModeSample, Sample: qa.Sampling{N: 3, Seed: 42}, CheckKeys: true}
	v := wd.verifier(cfg)
	sample := v.Sample()
	if len(sample) != 3 || v.Planned() != 3 || v.BatchSize() != 8 {
		t.Fatalf("sample %v", sample)
	}
	if again := wd.verifier(cfg).Sample(); !slices.Equal(again, sample) {
		t.Fatalf("seed 42 gave %v then %v", sample, again)
	}
	skipped := 0
	for _, tag := range tags {
		res := wd.present(v, tag)
		in := slices.Contains(sample, res.UID)
		switch {
		case in:
			wantPass(t, res)
		case res.Verdict == qa.Skipped:
			skipped++
		default:
			t.Fatalf("%+v", res)
		}
	}
	rep := finish(t, v)
	if !rep.OK() || skipped != 5 || rep.Counts.Skipped != 5 || rep.Counts.Pass != 3 {
		t.Fatalf("%+v", rep.Counts)
	}
	s := rep.Sampling
	if s == nil || !s.Proven || s.Population != 8 || s.Verified != 3 || s.Pick != "seed" || s.Seed != 42 || s.Confidence != 0.95 {
		t.Fatalf("%+v", s)
	}
	want, _ := qa.MaxDefective(8, 3, 0.95)
	if s.FewerThan != want || !strings.Contains(rep.Statement, fmt.Sprintf("at most %d of the 8 tags", want-1)) {
		t.Fatalf("%+v %q", s, rep.Statement)
	}

	// A sampled tag never presented fails the run; so does a failing tag
	// outside the sample.
	v = wd.verifier(cfg)
	var outside *sim.Tag
	for _, tag := range tags {
		u := fmt.Sprintf("%X", tag.UID())
		if u == string(sample[0]) {
			continue
		}
		if !slices.Contains(sample, manifest.UID(u)) {
			outside = tag
		}
		wd.present(v, tag)
	}
	wantFail(t, verifyURL(t, v, wd.encoded[fmt.Sprintf("%X", outside.UID())]), qa.ReasonCounterReplay)
	rep = finish(t, v)
	if rep.OK() || rep.Counts.Missing != 1 || rep.Sampling.Proven || !strings.HasPrefix(rep.Statement, "FAIL") {
		t.Fatalf("%+v %q", rep.Counts, rep.Statement)
	}
}

func TestSampleFromURLFileAndOperatorPick(t *testing.T) {
	wd := newWorld(t)
	var uids [][]byte
	for n := byte(1); n <= 6; n++ {
		uids = append(uids, uid(1, n))
	}
	tags := wd.encode(wd.batch("b1", "SKU-1"), uids...)
	var file strings.Builder
	for _, tag := range tags {
		fmt.Fprintln(&file, wd.phoneRead(tag))
	}
	v := wd.verifier(qa.Config{Mode: qa.ModeSample, Sample: qa.Sampling{DefectRate: 0.5, Confidence: 0.9, Seed: 7}})
	n, _ := qa.SampleSize(6, 0.5, 0.9)
	if v.Planned() != n {
		t.Fatalf("planned %d, SampleSize %d", v.Planned(), n)
	}
	if _, err := v.VerifyURLs(strings.NewReader(file.String())); err != nil {
		t.Fatal(err)
	}
	rep := finish(t, v)
	if !rep.OK() || rep.Counts.Pass != n || rep.Counts.Skipped != 6-n || rep.Sampling.AchievedConfidence < 0.9 {
		t.Fatalf("%+v %+v", rep.Counts, rep.Sampling)
	}

	// Operator pick: the first N distinct tags of the batch make the
	// sample; URL files need a seed.
	op := qa.Config{Mode: qa.ModeSample, Sample: qa.Sampling{N: 2, OperatorPick: true}}
	v = wd.verifier(op)
	if _, err := v.VerifyURL(wd.phoneRead(tags[0])); !isErr(err, qa.ErrConfig) {
		t.Fatalf("url with operator pick: %v", err)
	}
	wantPass(t, wd.present(v, tags[3]))
	if v.Remaining() != 1 {
		t.Fatalf("remaining %d", v.Remaining())
	}
	rep = finish(t, v)
	if rep.OK() || !strings.HasPrefix(rep.Statement, "INCOMPLETE") {
		t.Fatalf("short sample passed: %q", rep.Statement)
	}
	v = wd.verifier(op)
	wantPass(t, wd.present(v, tags[3]))
	wantPass(t, wd.present(v, tags[5]))
	if rep = finish(t, v); !rep.OK() || rep.Sampling.Pick != "operator" {
		t.Fatalf("%q", rep.Statement)
	}
}

func TestConfigErrors(t *testing.T) {
	wd := newWorld(t)
	wd.encode(wd.batch("b1", "SKU-1"), uid(1, 1))
	wd.batch("empty", "SKU-1")
	if _, err := wd.newVerifier(qa.Config{BatchID: "empty"}); !isErr(err, qa.ErrEmptyBatch) {
		t.Fatalf("empty batch: %v", err)
	}
	if _, err := wd.newVerifier(qa.Config{Deriver: deriver(t, 2)}); !isErr(err, qa.ErrConfig) {
		t.Fatalf("key version: %v", err)
	}
	m, _ := keys.NewMaster([]byte("another master!!"))
	d, _ := keys.NewDeriver(keys.SchemeTagline, m, 1)
	if _, err := wd.newVerifier(qa.Config{Deriver: d}); !isErr(err, qa.ErrWrongMaster) {
		t.Fatalf("other master: %v", err)
	}
	if _, err := wd.newVerifier(qa.Config{Mode: qa.ModeSample}); !isErr(err, qa.ErrSampling) {
		t.Fatalf("no sample size: %v", err)
	}
}

func TestStateCountsPerBinding(t *testing.T) {
	wd := newWorld(t)
	tags := wd.encode(wd.batch("b1", "SKU-1"), uid(1, 1))
	u := fmt.Sprintf("%X", tags[0].UID())
	bd, ok, err := wd.journal().Lookup(manifest.UID(u))
	if err != nil || !ok {
		t.Fatal(err)
	}
	state := filepath.Join(t.TempDir(), "state.json")
	write := func(seq uint64) {
		t.Helper()
		s := fmt.Sprintf(`{"format":%q,"tags":{%q:{"%d":1000}}}`, qa.StateFormat, u, seq)
		if err := os.WriteFile(state, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A counter seen under another binding (before a re-encode, or in
	// another station's journal) does not hold against this one, and is
	// kept beside it.
	write(bd.Seq + 1)
	wantPass(t, wd.present(wd.verifier(qa.Config{StatePath: state}), tags[0]))
	raw, _ := os.ReadFile(state)
	if want := fmt.Sprintf(`{"%d":%d,"%d":1000}`, bd.Seq, tags[0].SDMReadCtr(), bd.Seq+1); !strings.Contains(string(raw), want) {
		t.Fatalf("state %s, want %s", raw, want)
	}
	write(bd.Seq)
	v := wd.verifier(qa.Config{StatePath: state})
	res := wd.present(v, tags[0])
	wantFail(t, res, qa.ReasonCounterReplay)
	if !strings.Contains(res.Detail, "past 1000") {
		t.Fatalf("%q", res.Detail)
	}
}

func TestURLFileOddLines(t *testing.T) {
	wd := newWorld(t)
	tags := wd.encode(wd.batch("b1", "SKU-1"), uid(1, 1))
	url := wd.phoneRead(tags[0])
	long := "https://brand.example/" + strings.Repeat("x", 10000)
	file := "#only comments\n" + long + "\n\x1b[31mred\n" + url // no final newline
	v := wd.verifier(qa.Config{})
	res, err := v.VerifyURLs(strings.NewReader(file))
	if err != nil || len(res) != 3 {
		t.Fatalf("%v %+v", err, res)
	}
	wantFail(t, res[0], qa.ReasonURLMismatch)
	wantFail(t, res[1], qa.ReasonURLMismatch)
	wantPass(t, res[2])
	if res[0].Line != 2 || res[1].Line != 3 || res[2].Line != 4 || len(res[0].URL) > 1100 || strings.ContainsRune(res[1].URL, 0x1b) {
		t.Fatalf("%d %d %d %d %q", res[0].Line, res[1].Line, res[2].Line, len(res[0].URL), res[1].URL)
	}
}

// With FromURLs the sample is drawn from the tags whose URLs are in the
// file: the N tags a QA person captured with a phone are the sample; of a
// larger file, N are drawn with the seed.
func TestSampleDrawnFromURLFile(t *testing.T) {
	wd := newWorld(t)
	var uids [][]byte
	for n := byte(1); n <= 8; n++ {
		uids = append(uids, uid(1, n))
	}
	tags := wd.encode(wd.batch("b1", "SKU-1"), uids...)
	file := func(idx ...int) string {
		var b strings.Builder
		for _, i := range idx {
			fmt.Fprintln(&b, wd.phoneRead(tags[i]))
		}
		return b.String()
	}
	three := file(1, 4, 6)
	run := func(cfg qa.Config, urls string) (*qa.Verifier, []qa.TagResult, *qa.Report) {
		t.Helper()
		v := wd.verifier(cfg)
		res, err := v.VerifyURLs(strings.NewReader(urls))
		if err != nil {
			t.Fatal(err)
		}
		return v, res, finish(t, v)
	}

	// Drawn from the journal, the three captured tags are mostly outside
	// the sample and the sampled ones are missing: the old behaviour.
	journal := qa.Config{Mode: qa.ModeSample, Sample: qa.Sampling{N: 3, Seed: 11}}
	if _, _, rep := run(journal, three); rep.OK() {
		t.Fatal("a journal sample passed on urls of other tags; pick another seed")
	}

	fromURLs := qa.Config{Mode: qa.ModeSample, Sample: qa.Sampling{N: 3, Seed: 11, FromURLs: true}}
	v, res, rep := run(fromURLs, three)
	for _, r := range res {
		wantPass(t, r)
	}
	s := rep.Sampling
	if !rep.OK() || rep.Counts.Pass != 3 || rep.Counts.Skipped != 0 || s.From != "urls" || s.DrawnFrom != 3 || s.Population != 8 || !s.Proven ||
		!strings.Contains(rep.Statement, "chosen with seed 11 from the 3 tags of the batch in the url file") {
		t.Fatalf("%+v %+v %q", rep.Counts, s, rep.Statement)
	}
	if len(v.Sample()) != 3 {
		t.Fatalf("sample %v", v.Sample())
	}

	// A file of every tag: the seed draws 3 of them, the same 3 as from
	// the journal; a forged URL names no tag and does not steer the draw.
	all := file(0, 1, 2, 3, 4, 5, 6, 7)
	forged := flipMACDigit(wd.phoneRead(tags[0]))
	v, res, rep = run(fromURLs, forged+"\n"+all)
	want := wd.verifier(journal).Sample()
	if got := v.Sample(); !slices.Equal(got, want) {
		t.Fatalf("drawn %v, journal draw %v", got, want)
	}
	wantFail(t, res[0], qa.ReasonBadMAC)
	if rep.Counts.Pass != 3 || rep.Counts.Skipped != 5 || rep.Sampling.DrawnFrom != 8 {
		t.Fatalf("%+v %+v", rep.Counts, rep.Sampling)
	}

	// Fewer tags in the file than the sample needs: incomplete, and said so.
	_, _, rep = run(fromURLs, file(2, 3))
	if rep.OK() || rep.Counts.Fail != 0 || !strings.Contains(rep.Statement, "the url file holds 2 tags of the batch whose url verifies and the sample needs 3") {
		t.Fatalf("%+v %q", rep.Counts, rep.Statement)
	}

	// One file per run, and no single URLs or presented tags.
	v = wd.verifier(fromURLs)
	if _, err := v.VerifyURL(wd.phoneRead(tags[0])); !isErr(err, qa.ErrConfig) {
		t.Fatalf("VerifyURL: %v", err)
	}
	if _, err := v.VerifyURLs(strings.NewReader(file(0))); err != nil {
		t.Fatal(err)
	}
	if _, err := v.VerifyURLs(strings.NewReader(file(1))); !isErr(err, qa.ErrConfig) {
		t.Fatalf("second file: %v", err)
	}
	if _, err := v.VerifyTag(context.Background(), wd.connect(tags[2])); !isErr(err, qa.ErrConfig) {
		t.Fatalf("VerifyTag: %v", err)
	}
	wd.r.Remove()
}

// endless repeats a string forever, like /dev/zero or a stream that
// never ends.
type endless struct {
	s   string
	off int
}

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = e.s[e.off%len(e.s)]
		e.off++
	}
	return len(p), nil
}

// URL input is bounded in line length, lines and bytes; beyond a bound
// nothing is verified and the error says which.
func TestURLInputLimits(t *testing.T) {
	wd := newWorld(t)
	tags := wd.encode(wd.batch("b1", "SKU-1"), uid(1, 1))
	url := wd.phoneRead(tags[0])
	for _, tc := range []struct {
		name string
		lim  qa.URLLimits
		in   io.Reader
		want string
	}{
		{"zeros", qa.URLLimits{}, &endless{s: "\x00"}, "line 1 is longer than 16384 bytes"},
		{"newlines", qa.URLLimits{}, &endless{s: "\n"}, "more than 1000000 lines"},
		{"long line", qa.URLLimits{}, strings.NewReader(url + "\n" + strings.Repeat("x", 16385) + "\n"), "line 2 is longer than 16384 bytes"},
		{"long last line", qa.URLLimits{}, strings.NewReader(url + "\n" + strings.Repeat("x", 16385)), "line 2 is longer"},
		{"lines", qa.URLLimits{MaxLines: 3}, strings.NewReader(url + "\n#\n\n\n"), "more than 3 lines"},
		{"bytes", qa.URLLimits{MaxBytes: 1 << 20}, &endless{s: "https://x.example/\n"}, "more than 1 MiB"},
	} {
		state := filepath.Join(t.TempDir(), "state.json")
		v := wd.verifier(qa.Config{StatePath: state, URLLimits: tc.lim})
		res, err := v.VerifyURLs(tc.in)
		if !isErr(err, qa.ErrInputLimit) || !strings.Contains(err.Error(), tc.want) || len(res) != 0 {
			t.Errorf("%s: %v (%d results)", tc.name, err, len(res))
		}
		if _, err := os.Stat(state); err == nil {
			t.Errorf("%s: counters were recorded from a refused file", tc.name)
		}
	}
	// At the bounds, accepted: a line of exactly MaxLineBytes, CRLF ends,
	// and a JSON line standing for its URL.
	v := wd.verifier(qa.Config{URLLimits: qa.URLLimits{MaxLineBytes: 300, MaxLines: 3}})
	in := strings.Repeat("y", 300) + "\r\n" + `{"uid":"x","url":"` + wd.phoneRead(tags[0]) + `"}` + "\n" + wd.phoneRead(tags[0])
	res, err := v.VerifyURLs(strings.NewReader(in))
	if err != nil || len(res) != 3 {
		t.Fatalf("%v %+v", err, res)
	}
	wantFail(t, res[0], qa.ReasonURLMismatch)
	wantPass(t, res[1])
	wantPass(t, res[2])
	if res[1].Line != 2 || res[2].Line != 3 {
		t.Fatalf("lines %d %d", res[1].Line, res[2].Line)
	}
}
