package cmd

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/qa"
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/reader/sim"
	"github.com/tagline-station/tagline/sdm"
	"github.com/tagline-station/tagline/station"
)

// line is a journal written in-process by the real station with
// simulated tags the test keeps, so that it can read them again as a
// phone would. (A URL the station read back carries the journal's own
// read counter: QA and serve rightly take it for a replay.)
type line struct {
	t           *testing.T
	journal     string
	keyFile     string
	batch       batch.Batch
	tags        []*sim.Tag
	uids        []manifest.UID
	stationURLs []string
	r           *sim.Reader
}

func newLine(t *testing.T, c *cli, id string, n int) *line {
	t.Helper()
	l := &line{t: t, journal: c.path("journal.db"), keyFile: c.write("master.key", testKeyHex+"\n", 0o600), r: sim.NewReader("sim0")}
	store, err := batch.Open(l.journal, batch.Options{StationID: "line-1"})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	l.batch, err = store.CreateBatch(batch.Batch{ID: id, SKU: "SKU-1", Target: n, Template: demoTemplate, KeyVersion: 1})
	if err != nil {
		t.Fatal(err)
	}
	m, err := keys.ParseMaster([]byte(testKeyHex))
	if err != nil {
		t.Fatal(err)
	}
	d, err := keys.NewDeriver(keys.SchemeTagline, m, 1)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := sdm.ParseTemplate(demoTemplate)
	if err != nil {
		t.Fatal(err)
	}
	st, err := station.New(station.Config{Journal: store, Batch: l.batch, Deriver: d, Template: tmpl})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		tag := sim.New(sim.Options{UID: []byte{0x04, 0x51, 0xA0, 0x01, 0x00, 0x00, byte(i + 1)}})
		res := st.Encode(context.Background(), l.connect(tag), "sim0")
		l.r.Remove()
		if res.Outcome != manifest.Encoded {
			t.Fatalf("encode: %+v", res)
		}
		l.tags = append(l.tags, tag)
		l.uids = append(l.uids, res.UID)
		l.stationURLs = append(l.stationURLs, res.URL)
	}
	return l
}

func (l *line) connect(tag *sim.Tag) reader.Tag {
	l.t.Helper()
	l.r.Present(tag)
	c, err := l.r.WaitTag(context.Background())
	if err != nil {
		l.t.Fatal(err)
	}
	return c
}

// phoneRead reads tag i as a phone does: a fresh SUN URL, counter + 1.
func (l *line) phoneRead(i int) string {
	l.t.Helper()
	c := l.connect(l.tags[i])
	defer l.r.Remove()
	u, err := qa.ReadURL(context.Background(), c)
	if err != nil {
		l.t.Fatal(err)
	}
	return u
}

// urlFile writes a file of fresh phone reads of the given tags.
func (l *line) urlFile(c *cli, name string, idx ...int) string {
	l.t.Helper()
	var b strings.Builder
	b.WriteString("# captured by phone 1\n")
	for _, i := range idx {
		b.WriteString(l.phoneRead(i) + "\n")
	}
	return c.write(name, b.String(), 0o600)
}

func (l *line) verify(c *cli, want int, args ...string) result {
	l.t.Helper()
	return c.must(want, append([]string{"verify", "--batch", l.batch.ID, "--journal", l.journal, "--master-key-file", l.keyFile}, args...)...)
}

func parseReport(t *testing.T, out string) *qa.Report {
	t.Helper()
	rep, err := qa.ReadJSON(strings.NewReader(out))
	if err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, out)
	}
	return rep
}

func TestVerifyURLFilePasses(t *testing.T) {
	c := newCLI(t)
	l := newLine(t, c, "b1", 3)
	urls := l.urlFile(c, "urls.txt", 0, 1, 2)

	r := l.verify(c, 0, "--urls", urls, "--json")
	rep := parseReport(t, r.stdout)
	if !rep.Passed || rep.Counts.Pass != 3 || rep.Batch != "b1" || rep.Mode != qa.ModeFull {
		t.Fatalf("report: %+v", rep.Counts)
	}
	if strings.Contains(r.stderr, "PASS") {
		t.Errorf("--json printed progress lines: %s", r.stderr)
	}
	if _, err := os.Stat(l.journal + ".qa-state.json"); err != nil {
		t.Errorf("no state file next to the journal: %v", err)
	}
	assertNoSecret(t, testKeyHex, r)

	// Text: one progress line per URL on stderr, the report on stdout; a
	// fresh read of the same tags passes again.
	urls = l.urlFile(c, "urls2.txt", 0, 1, 2)
	r = l.verify(c, 0, "--urls", urls)
	if n := len(regexp.MustCompile(`(?m)^PASS  line \d  04[0-9A-F]{12}  ctr 3$`).FindAllString(r.stderr, -1)); n != 3 {
		t.Errorf("%d progress lines:\n%s", n, r.stderr)
	}
	if !strings.HasPrefix(r.stdout, "QA PASS") {
		t.Errorf("text report:\n%s", r.stdout)
	}

	// Standard input, and CSV on stdout.
	c.stdin = l.phoneRead(0) + "\n" + l.phoneRead(1) + "\n" + l.phoneRead(2) + "\n"
	r = l.verify(c, 0, "--urls", "-", "--csv", "-")
	c.stdin = ""
	rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil || len(rows) != 4 || strings.Join(rows[0], ",") != strings.Join(qa.CSVColumns, ",") || rows[1][1] != "pass" {
		t.Fatalf("csv %v %v", rows, err)
	}
}

func TestVerifyTamperedURLIsBadMAC(t *testing.T) {
	c := newCLI(t)
	l := newLine(t, c, "b1", 2)
	good, good2 := l.phoneRead(0), l.phoneRead(1)
	bad := good[:len(good)-1] + flipHex(good[len(good)-1:])
	urls := c.write("urls.txt", bad+"\n"+good2+"\n", 0o600)
	r := l.verify(c, 4, "--urls", urls, "--json")
	rep := parseReport(t, r.stdout)
	if rep.Passed || rep.Results[0].Reason != qa.ReasonBadMAC || rep.Results[0].UID != "" || rep.Results[1].Verdict != qa.Pass {
		t.Fatalf("results: %+v", rep.Results)
	}
	// The tag the forged URL claimed was never verified: missing.
	if rep.Counts.ByReason[qa.ReasonMissing] != 1 {
		t.Errorf("by reason: %v", rep.Counts.ByReason)
	}
	if !strings.Contains(r.stderr, "tagline: batch b1 did not pass qa: ") || !strings.Contains(r.stderr, "bad_mac 1") || !strings.Contains(r.stderr, "\nhint: ") {
		t.Errorf("stderr: %s", r.stderr)
	}

	// Text mode names the reason on the progress line.
	urls = c.write("urls2.txt", bad+"\n", 0o600)
	r = l.verify(c, 4, "--urls", urls)
	if !regexp.MustCompile(`(?m)^FAIL  line 1  \(no uid\)\s+bad_mac: `).MatchString(r.stderr) {
		t.Errorf("stderr: %s", r.stderr)
	}
}

func TestVerifyReplayAcrossRuns(t *testing.T) {
	c := newCLI(t)
	l := newLine(t, c, "b1", 2)
	state := c.path("qa/state.json")
	if err := os.MkdirAll(c.path("qa"), 0o700); err != nil {
		t.Fatal(err)
	}
	urls := l.urlFile(c, "urls.txt", 0, 1)
	l.verify(c, 0, "--urls", urls, "--state", state)

	// The same URLs on a later run: the state file remembers them.
	r := l.verify(c, 4, "--urls", urls, "--state", state, "--json")
	rep := parseReport(t, r.stdout)
	for _, res := range rep.Results {
		if res.Reason != qa.ReasonCounterReplay || !strings.Contains(res.Detail, "qa saw") {
			t.Fatalf("result: %+v", res)
		}
	}
	// The URLs the station read back at encoding are replays of the
	// journal's own counter; encode --json lines are read as URLs.
	var jl strings.Builder
	for i, u := range l.stationURLs {
		fmt.Fprintf(&jl, `{"reader":"sim0","uid":%q,"url":%q,"read_ctr":1}`+"\n", l.uids[i], u)
	}
	stationURLs := c.write("station.jsonl", jl.String(), 0o600)
	r = l.verify(c, 4, "--urls", stationURLs, "--state", c.path("fresh.json"), "--json")
	rep = parseReport(t, r.stdout)
	if rep.Counts.ByReason[qa.ReasonCounterReplay] != 2 || !strings.Contains(rep.Results[0].Detail, "journal") ||
		rep.Results[1].Line != 2 || rep.Results[0].URL != l.stationURLs[0] {
		t.Fatalf("station urls: %+v", rep.Results)
	}
	if !strings.Contains(r.stderr, "hint: the report lists each failing tag with its reason; counter_replay: ") {
		t.Errorf("stderr: %s", r.stderr)
	}
	// A damaged state file is refused rather than forgotten.
	c.write("qa/state.json", "{", 0o600)
	r = l.verify(c, 1, "--urls", urls, "--state", state)
	if !strings.Contains(r.stderr, "qa state file") || !strings.Contains(r.stderr, "hint: ") {
		t.Errorf("stderr: %s", r.stderr)
	}
}

func TestVerifySampleAndMissing(t *testing.T) {
	c := newCLI(t)
	l := newLine(t, c, "b1", 4)
	all := l.urlFile(c, "all.txt", 0, 1, 2, 3)
	r := l.verify(c, 0, "--urls", all, "--sample", "2", "--seed", "7", "--json")
	rep := parseReport(t, r.stdout)
	if rep.Mode != qa.ModeSample || rep.Sampling == nil || rep.Sampling.Seed != 7 || rep.Counts.Pass != 2 || rep.Counts.Skipped != 2 {
		t.Fatalf("sample report: %+v %+v", rep.Counts, rep.Sampling)
	}
	// Without a seed a URL file gets a random one, named for reproducing.
	r = l.verify(c, 0, "--urls", l.urlFile(c, "all2.txt", 0, 1, 2, 3), "--defect-rate", "50%", "--confidence", "0.5")
	if !regexp.MustCompile(`sample seed \d+ chosen at random \(--seed \d+ reproduces`).MatchString(r.stderr) {
		t.Errorf("stderr: %s", r.stderr)
	}
	// Full inspection with a tag never presented: missing, exit 4; CSV to
	// a file next to the text report.
	r = l.verify(c, 4, "--urls", l.urlFile(c, "three.txt", 0, 1, 2), "--csv", c.path("qa.csv"))
	if !strings.Contains(r.stdout, "QA FAIL") || !strings.Contains(r.stderr, "missing 1") {
		t.Errorf("%s", r)
	}
	raw, err := os.ReadFile(c.path("qa.csv"))
	if err != nil || !strings.Contains(string(raw), string(l.uids[3])+",fail,missing") {
		t.Errorf("csv: %s %v", raw, err)
	}
}

func TestVerifyReaderSim(t *testing.T) {
	c := newCLI(t)
	l := newLine(t, c, "b1", 3)
	r := l.verify(c, 0, "--reader", "sim", "--check-keys", "--json")
	rep := parseReport(t, r.stdout)
	if !rep.Passed || !rep.KeysChecked || rep.Counts.Pass != 3 || rep.Results[0].Source != qa.SourceTag {
		t.Fatalf("report: %+v", rep)
	}
	if !strings.Contains(r.stderr, "simulated copies") {
		t.Errorf("no sim note: %s", r.stderr)
	}
	// New copies start from the journal's counter again: with the same
	// state file they are clones, and QA says so.
	r = l.verify(c, 4, "--reader", "sim")
	if n := len(regexp.MustCompile(`(?m)^FAIL  04[0-9A-F]{12}  counter_replay: `).FindAllString(r.stderr, -1)); n != 3 {
		t.Errorf("%d counter_replay lines:\n%s", n, r.stderr)
	}
	// The reader may come from the config file.
	cfg := c.write("config.toml", "reader = \"sim\"\n", 0o600)
	l.verify(c, 0, "--config", cfg, "--state", c.path("other.json"), "--sample", "1", "--seed", "3")
}

func TestVerifyUsageErrors(t *testing.T) {
	c := newCLI(t)
	l := newLine(t, c, "b1", 1)
	urls := l.urlFile(c, "urls.txt", 0)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--batch", "nope", "--urls", urls}, "tagline batch list"},
		{[]string{"--urls", urls, "--reader", "sim"}, "exclude each other"},
		{[]string{"--urls", urls, "--json", "--csv", "x.csv"}, "exclude each other"},
		{[]string{"--urls", urls, "--check-keys"}, "--check-keys needs --reader"},
		{[]string{"--urls", urls, "--seed", "3"}, "--seed only applies to a sample"},
		{[]string{"--urls", urls, "--sample", "0"}, "--sample must be at least 1"},
		{[]string{"--urls", urls, "--sample", "1", "--defect-rate", "1%"}, "--sample and --defect-rate exclude each other"},
		{[]string{"--urls", urls, "--defect-rate", "2"}, "not a rate between 0 and 1"},
		{[]string{"--urls", urls, "--sample", "1", "--confidence", "95"}, "not between 0 and 1"},
		{[]string{"--urls", c.path("missing.txt")}, "--urls: "},
		{[]string{}, "no reader and no URL file"},
		{[]string{"--reader", "pcsc:"}, "needs a reader name"},
	} {
		args := append([]string{"verify", "--journal", l.journal, "--master-key-file", l.keyFile}, tc.args...)
		if !strings.Contains(strings.Join(tc.args, " "), "--batch") {
			args = append(args, "--batch", "b1")
		}
		r := c.must(2, args...)
		if !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, "\nhint: ") {
			t.Errorf("%v: stderr %q lacks %q or a hint", tc.args, r.stderr, tc.want)
		}
	}
	c.must(2, "verify", "--urls", urls)
	// Another master key: refused before any tag is checked.
	other := c.write("other.key", strings.Repeat("ab", 16), 0o600)
	r := c.must(2, "verify", "--batch", "b1", "--journal", l.journal, "--master-key-file", other, "--urls", urls)
	if !strings.Contains(r.stderr, "master key does not match the batch") {
		t.Errorf("stderr: %s", r.stderr)
	}
	// No journal: exit 5.
	c.must(5, "verify", "--batch", "b1", "--journal", c.path("none.db"), "--master-key-file", l.keyFile, "--urls", urls)
}

func TestQAExitCodes(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{fmt.Errorf("x: %w", qa.ErrConfig), 2},
		{fmt.Errorf("x: %w", qa.ErrSampling), 2},
		{fmt.Errorf("x: %w", qa.ErrEmptyBatch), 2},
		{fmt.Errorf("x: %w", qa.ErrWrongMaster), 2},
		{fmt.Errorf("x: %w", qa.ErrState), 1},
		{withCode(ExitVerify, errors.New("batch b1 did not pass qa"), ""), 4},
	} {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

// verify --urls FILE --sample N verifies N of the URLs it was given: the
// sample is drawn from the file, not from the journal.
func TestVerifyURLSampleIsDrawnFromTheFile(t *testing.T) {
	c := newCLI(t)
	l := newLine(t, c, "b1", 6)
	// Tags 2 and 5: seed 7 draws two others from the journal.
	journalDraw := qa.SelectSample(l.uids, 2, 7)
	if slices.Contains(journalDraw, manifest.UID(l.uids[2])) || slices.Contains(journalDraw, manifest.UID(l.uids[5])) {
		t.Fatalf("pick other tags than the journal's draw %v", journalDraw)
	}
	r := l.verify(c, 0, "--urls", l.urlFile(c, "two.txt", 2, 5), "--sample", "2", "--seed", "7", "--json")
	rep := parseReport(t, r.stdout)
	if rep.Counts.Pass != 2 || rep.Sampling.From != "urls" || rep.Sampling.DrawnFrom != 2 || !rep.Sampling.Proven {
		t.Fatalf("%+v %+v", rep.Counts, rep.Sampling)
	}
	// Without a seed: a random one, reported; the two URLs are the sample.
	r = l.verify(c, 0, "--urls", l.urlFile(c, "two2.txt", 2, 5), "--sample", "2")
	if !strings.Contains(r.stderr, "chosen at random") || !strings.Contains(r.stdout, "QA PASS") {
		t.Fatalf("%s", r)
	}
	// A larger file: two of its tags are verified, the others skipped.
	r = l.verify(c, 0, "--urls", l.urlFile(c, "four.txt", 0, 1, 2, 5), "--sample", "2", "--seed", "7", "--json")
	if rep = parseReport(t, r.stdout); rep.Counts.Pass != 2 || rep.Counts.Skipped != 2 || rep.Sampling.DrawnFrom != 4 {
		t.Fatalf("%+v %+v", rep.Counts, rep.Sampling)
	}
	// Too few tags in the file: the run does not pass and says why.
	r = l.verify(c, 4, "--urls", l.urlFile(c, "one.txt", 4), "--sample", "2")
	if !strings.Contains(r.stdout, "INCOMPLETE: the url file holds 1 tag of the batch") ||
		!strings.Contains(r.stderr, "hint: ") || !strings.Contains(r.stderr, "the url file holds 1 of the 2 tags the sample needs") {
		t.Fatalf("%s", r)
	}
}

// The URL input is bounded: an endless or oversized file or standard
// input is refused with exit 2 before any tag is checked.
func TestVerifyURLInputIsBounded(t *testing.T) {
	c := newCLI(t)
	l := newLine(t, c, "b1", 1)
	url := l.phoneRead(0)
	for _, tc := range []struct {
		name, stdin, want string
	}{
		{"long line", url + "\n" + strings.Repeat("A", 16<<10+1) + "\n", "line 2 is longer than 16384 bytes"},
		{"many lines", url + "\n" + strings.Repeat("\n", 1_000_000), "more than 1000000 lines"},
	} {
		c.stdin = tc.stdin
		r := l.verify(c, 2, "--urls", "-", "--state", c.path(tc.name+".json"))
		if !strings.Contains(r.stderr, "tagline: --urls -: url input too large: "+tc.want) || !strings.Contains(r.stderr, "\nhint: ") ||
			strings.Contains(r.stderr, "PASS") {
			t.Errorf("%s: %s", tc.name, r.stderr)
		}
		if _, err := os.Stat(c.path(tc.name + ".json")); err == nil {
			t.Errorf("%s: counters recorded from a refused input", tc.name)
		}
	}
	c.stdin = ""
	r := l.verify(c, 2, "--urls", c.dir)
	if !strings.Contains(r.stderr, "is a directory") || !strings.Contains(r.stderr, "\nhint: ") {
		t.Errorf("directory: %s", r.stderr)
	}
}
