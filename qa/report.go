package qa

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// ReportFormat names the JSON layout of a Report. Version 2 writes the
// sample seed as a string; ReadJSON also reads version 1 (seed as a
// number).
const ReportFormat = "tagline-qa-report/2"

const reportFormatV1 = "tagline-qa-report/1"

// SampleMethod names the statistics behind a sampling statement.
const SampleMethod = "hypergeometric, zero failures"

// Report is the outcome of one QA run. Its JSON field names are stable;
// it holds check values, UIDs, counters and public URLs, never key bytes.
type Report struct {
	Format      string    `json:"format"`
	Batch       string    `json:"batch"`
	SKU         string    `json:"sku"`
	KeyVersion  int       `json:"key_version"`
	MasterKCV   string    `json:"master_kcv"`
	Mode        Mode      `json:"mode"`
	KeysChecked bool      `json:"keys_checked"`
	BatchSize   int       `json:"batch_size"`
	StartedAt   time.Time `json:"started_at"`
	FinishedAt  time.Time `json:"finished_at"`
	// Passed is OK() at the time the report was made.
	Passed    bool          `json:"passed"`
	Statement string        `json:"statement"`
	Counts    Counts        `json:"counts"`
	Sampling  *SampleReport `json:"sampling,omitempty"`
	Results   []TagResult   `json:"results"`
}

// Counts sums the results. Fail counts failing results (missing tags
// included); ByReason splits Fail by each result's first reason, so its
// values add up to Fail.
type Counts struct {
	Results int `json:"results"`
	Pass    int `json:"pass"`
	Fail    int `json:"fail"`
	Skipped int `json:"skipped"`
	Missing int `json:"missing"`
	// Verified is the number of distinct planned tags verified (pass or
	// fail): the tags of the batch in full mode, the sample otherwise.
	Verified int `json:"verified"`
	// Planned is M in full mode, N in sample mode.
	Planned  int            `json:"planned"`
	ByReason map[Reason]int `json:"by_reason"`
}

// SampleReport is the sampling plan and what the run proved with it.
type SampleReport struct {
	Method string `json:"method"`
	// Population is M, Planned is N.
	Population int `json:"population"`
	Planned    int `json:"planned"`
	// Pick is "seed" (SelectSample with Seed) or "operator".
	Pick string `json:"pick"`
	// Seed is written as a decimal string (see Seed).
	Seed Seed `json:"seed"`
	// From says what a seeded sample was drawn from: "journal" (the
	// batch's tags) or "urls" (the DrawnFrom tags of the batch whose URLs
	// were in the file, Sampling.FromURLs).
	From      string `json:"from,omitempty"`
	DrawnFrom int    `json:"drawn_from,omitempty"`
	// DefectRate is the target p (0 when only N was given); Confidence c.
	DefectRate float64 `json:"defect_rate,omitempty"`
	Confidence float64 `json:"confidence"`
	// BinomialN is the binomial approximation's sample size for p and c,
	// for comparison (0 when p was not given).
	BinomialN int `json:"binomial_n,omitempty"`
	// Verified is the number of distinct sampled tags verified.
	Verified int `json:"verified"`
	// Proven says the zero-failure claim holds: the whole sample was
	// verified and nothing failed. Then fewer than FewerThan of the
	// Population tags are defective (a fraction below BoundRate) with
	// confidence Confidence.
	Proven    bool    `json:"proven"`
	FewerThan int     `json:"fewer_than,omitempty"`
	BoundRate float64 `json:"bound_rate,omitempty"`
	// AchievedConfidence is, when DefectRate is given, the confidence
	// with which the run proves "fraction below DefectRate":
	// 1 - P0(M, ceil(p·M), Verified).
	AchievedConfidence float64 `json:"achieved_confidence,omitempty"`
}

// OK reports a run in which no result failed and the plan was fulfilled
// (every planned tag verified). The CLI exits 4 when it is false.
func (r *Report) OK() bool {
	if r.Counts.Fail > 0 {
		return false
	}
	if r.Sampling != nil {
		return r.Sampling.Verified >= r.Sampling.Planned
	}
	return r.Counts.Verified >= r.Counts.Planned
}

func (v *Verifier) report() *Report {
	r := &Report{
		Format: ReportFormat, Batch: v.b.ID, SKU: v.sku, KeyVersion: int(v.b.KeyVersion),
		MasterKCV: v.kcv, Mode: v.cfg.Mode, KeysChecked: v.cfg.CheckKeys, BatchSize: len(v.uids),
		StartedAt: v.started, FinishedAt: v.now(),
		Results: append([]TagResult(nil), v.results...),
	}
	c := &r.Counts
	c.ByReason = map[Reason]int{}
	for _, res := range r.Results {
		c.Results++
		switch res.Verdict {
		case Pass:
			c.Pass++
		case Skipped:
			c.Skipped++
		case Fail:
			c.Fail++
			c.ByReason[res.Reason]++
			if res.Reason == ReasonMissing {
				c.Missing++
			}
		}
	}
	c.Planned = v.Planned()
	switch {
	case v.cfg.Mode == ModeFull:
		c.Verified = v.countCovered(v.uids)
	case v.inSample != nil:
		c.Verified = v.countCovered(v.sample)
	default:
		c.Verified = len(v.covered)
	}
	if v.cfg.Mode == ModeSample {
		r.Sampling = v.sampleReport(c.Verified, c.Fail == 0)
	}
	r.Passed = r.OK()
	r.Statement = v.statement(r)
	return r
}

func (v *Verifier) sampleReport(verified int, noFailure bool) *SampleReport {
	s := v.cfg.Sample
	m := len(v.uids)
	sr := &SampleReport{Method: SampleMethod, Population: m, Planned: v.planned, Pick: "seed", Seed: Seed(s.Seed),
		DefectRate: s.DefectRate, Confidence: s.Confidence, Verified: verified}
	switch {
	case s.OperatorPick:
		sr.Pick, sr.Seed = "operator", 0
	case s.FromURLs:
		sr.From, sr.DrawnFrom = "urls", v.drawFrom
	default:
		sr.From = "journal"
	}
	if s.DefectRate > 0 {
		sr.BinomialN, _ = BinomialSampleSize(s.DefectRate, s.Confidence)
	}
	n := min(verified, m)
	if noFailure && verified >= v.planned && n > 0 {
		sr.Proven = true
		sr.FewerThan, _ = MaxDefective(m, n, s.Confidence)
		sr.BoundRate = float64(sr.FewerThan) / float64(m)
		if s.DefectRate > 0 {
			sr.AchievedConfidence = 1 - ZeroFailureProb(m, DefectThreshold(m, s.DefectRate), n)
		}
	}
	return sr
}

func (v *Verifier) statement(r *Report) string {
	c := r.Counts
	if s := r.Sampling; s != nil {
		pick := fmt.Sprintf("chosen from the journal with seed %d", s.Seed)
		switch {
		case s.Pick == "operator":
			pick = "picked at random by the operator"
		case s.From == "urls":
			pick = fmt.Sprintf("chosen with seed %d from the %d tags of the batch in the url file", s.Seed, s.DrawnFrom)
		}
		switch {
		case c.Fail > 0:
			return fmt.Sprintf("FAIL: %d result(s) failed (%s); the batch fails QA and the zero-failure bound does not apply.", c.Fail, reasonList(c.ByReason))
		case s.From == "urls" && s.DrawnFrom < s.Planned:
			return fmt.Sprintf("INCOMPLETE: the url file holds %d %s of the batch whose url verifies and the sample needs %d; nothing failed, but the sample does not prove the bound: capture urls of more tags, or sample fewer.",
				s.DrawnFrom, plural(s.DrawnFrom, "tag", "tags"), s.Planned)
		case !s.Proven:
			return fmt.Sprintf("INCOMPLETE: %d of the %d sampled tags were verified; nothing failed, but the sample does not prove the bound until all %d are.", s.Verified, s.Planned, s.Planned)
		}
		msg := fmt.Sprintf("PASS: %d of %d tags (%s) verified with zero failures. Hypergeometric bound, zero failures: were %d or more of the %d tags defective, a random sample of %d would have shown no failure with probability at most %s; so with %s confidence at most %d of the %d tags (%s) are defective, a fraction below %s.",
			s.Verified, s.Population, pick, s.FewerThan, s.Population, s.Verified, pct(1-s.Confidence), pct(s.Confidence),
			s.FewerThan-1, s.Population, pct(float64(s.FewerThan-1)/float64(s.Population)), pct(s.BoundRate))
		if s.DefectRate > 0 {
			msg += fmt.Sprintf(" Against the target: the defective fraction is below %s with confidence %s.", pct(s.DefectRate), pct(s.AchievedConfidence))
		}
		return msg
	}
	switch {
	case c.Fail > 0:
		return fmt.Sprintf("FAIL: full inspection of %d bound tags: %d verified, %d result(s) failed (%s).", r.BatchSize, c.Verified, c.Fail, reasonList(c.ByReason))
	case c.Verified < c.Planned:
		return fmt.Sprintf("INCOMPLETE: full inspection of %d bound tags: %d verified.", r.BatchSize, c.Verified)
	}
	return fmt.Sprintf("PASS: full inspection: all %d tags bound to batch %s were verified and none failed.", r.BatchSize, r.Batch)
}

// pct formats a fraction as a percentage with enough digits to be honest
// about small values (0.05 → "5%", 0.0099 → "0.99%").
func pct(f float64) string {
	p := f * 100
	s := strconv.FormatFloat(p, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "0" && p > 0 {
		s = strconv.FormatFloat(p, 'g', 2, 64)
	}
	return s + "%"
}

func reasonList(by map[Reason]int) string {
	var parts []string
	for _, r := range Reasons {
		if n := by[r]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", r, n))
		}
	}
	for r, n := range by {
		if precedence(r) == len(Reasons) && n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", r, n))
		}
	}
	return strings.Join(parts, ", ")
}

// WriteJSON writes the report as one indented JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // URLs keep their plain ampersands
	return enc.Encode(r)
}

// ReadJSON parses what WriteJSON wrote.
func ReadJSON(rd io.Reader) (*Report, error) {
	var r Report
	dec := json.NewDecoder(rd)
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("qa report: %w", err)
	}
	if r.Format != ReportFormat && r.Format != reportFormatV1 {
		return nil, fmt.Errorf("qa report: format %q, expected %q", r.Format, ReportFormat)
	}
	return &r, nil
}

// Seed is a sample seed. In JSON it is a decimal string: seeds are 63-bit
// numbers, and the many JSON tools that read numbers as float64
// (JavaScript, jq) round anything above 2^53, so a seed taken from a
// report they passed through would draw another sample. A JSON number is
// read too (reports written before), from its exact digits.
type Seed uint64

// MarshalJSON writes the seed as a decimal string.
func (s Seed) MarshalJSON() ([]byte, error) {
	return strconv.AppendQuote(nil, strconv.FormatUint(uint64(s), 10)), nil
}

// UnmarshalJSON reads a decimal string or a JSON number; a number is
// parsed from its digits, never through float64.
func (s *Seed) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return nil
	}
	text := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &text); err != nil {
			return fmt.Errorf("qa seed: %w", err)
		}
	}
	n, err := strconv.ParseUint(text, 10, 64)
	if err != nil {
		return fmt.Errorf("qa seed %.40q is not a whole number from 0 to %d: %w", text, uint64(1<<64-1), err)
	}
	*s = Seed(n)
	return nil
}

// CSVColumns are the columns of WriteCSV, in order.
var CSVColumns = []string{"uid", "result", "reason", "read_ctr", "url"}

// WriteCSV writes one row per result (RFC 4180, header row first): uid,
// result (pass, fail, skipped), reason (the first reason, empty on pass),
// read_ctr (empty when no SUN message verified) and url.
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVColumns); err != nil {
		return err
	}
	for _, res := range r.Results {
		ctr := ""
		if res.ReadCtr != nil {
			ctr = strconv.FormatUint(uint64(*res.ReadCtr), 10)
		}
		if err := cw.Write([]string{string(res.UID), string(res.Verdict), string(res.Reason), ctr, res.URL}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteText writes a summary for people: the verdict, the statement, the
// counts by reason and one line per failing result.
func (r *Report) WriteText(w io.Writer) error {
	verdict := "PASS"
	if !r.OK() {
		verdict = "FAIL"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "QA %s — batch %s (SKU %s, key version %d, master key KCV %s)\n", verdict, r.Batch, r.SKU, r.KeyVersion, r.MasterKCV)
	mode := "full inspection"
	if s := r.Sampling; s != nil {
		mode = fmt.Sprintf("sample of %d from %d (%s", s.Planned, s.Population, s.Method)
		if s.Pick == "seed" {
			mode += fmt.Sprintf(", seed %d)", s.Seed)
		} else {
			mode += ", picked by the operator)"
		}
	}
	keyNote := "keys not checked"
	if r.KeysChecked {
		keyNote = "factory keys checked on presented tags"
	}
	fmt.Fprintf(&b, "mode:     %s; %s\n", mode, keyNote)
	fmt.Fprintf(&b, "time:     %s to %s (%s)\n", r.StartedAt.UTC().Format(time.RFC3339), r.FinishedAt.UTC().Format(time.RFC3339), r.FinishedAt.Sub(r.StartedAt).Round(time.Second))
	c := r.Counts
	fmt.Fprintf(&b, "tags:     %d of %d planned verified; %d pass, %d fail, %d skipped, %d missing\n", c.Verified, c.Planned, c.Pass, c.Fail, c.Skipped, c.Missing)
	if c.Fail > 0 {
		fmt.Fprintf(&b, "failures: %s\n", reasonList(c.ByReason))
	}
	fmt.Fprintf(&b, "\n%s\n", r.Statement)
	if c.Fail > 0 {
		b.WriteString("\n")
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "UID\tREASON\tCTR\tWHERE\tDETAIL")
		for _, res := range r.Results {
			if res.Verdict != Fail {
				continue
			}
			uid, ctr, where := res.UID, "-", string(res.Source)
			if uid == "" {
				uid = "?"
			}
			if res.ReadCtr != nil {
				ctr = strconv.FormatUint(uint64(*res.ReadCtr), 10)
			}
			if res.Line > 0 {
				where = fmt.Sprintf("line %d", res.Line)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", uid, res.Reason, ctr, where, res.Detail)
		}
		tw.Flush()
	}
	_, err := io.WriteString(w, b.String())
	return err
}
