package cmd

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/encoder"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/qa"
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/reader/sim"
	"github.com/tagline-station/tagline/sdm"
	"github.com/tagline-station/tagline/station"
)

type verifyOptions struct {
	batchID       string
	reader        string
	urls          string
	sample        int
	defectRate    string
	confidence    string
	seed          uint64
	checkKeys     bool
	state         string
	sku           string
	json          bool
	csv           string
	journal       string
	masterKeyFile string
	kdf           string
}

func newVerifyCmd(e *env) *cobra.Command {
	o := &verifyOptions{}
	c := &cobra.Command{
		Use:   "verify --batch ID [--reader NAME | --urls FILE|-] [--sample N | --defect-rate P [--confidence C]] [--seed S]",
		Short: "Prove that the tags of a batch are good (QA)",
		Long: `verify is quality control of a personalised batch. It checks tags presented
to a reader (--reader), read as a phone reads them, or SUN URLs that phones
captured (--urls, one per line, or the JSON lines of tagline encode --json; - reads
standard input):

  the URL fits the batch's template and its SUN message verifies with keys
  derived from the master key (else url_mismatch, bad_mac); the UID is bound
  in the journal to this batch and SKU (unknown_uid, wrong_batch,
  wrong_sku); the read counter moves past every value known for the tag
  (counter_replay); with --check-keys, for presented tags, the factory keys
  are gone (factory_key_present, wrong_key_version, wrong_key).

By default every tag bound to the batch must be verified (full inspection);
the ones never verified are reported missing. --sample N verifies N tags;
--defect-rate P (with --confidence C, default 95%) instead computes N so that a
sample without failure shows, with confidence C, that fewer than P of the
batch is defective (exact hypergeometric). With --urls the sample is drawn
from the tags of the batch whose URLs are in the file: a file of N captured
tags is the sample; of a larger file, N are drawn with --seed S (a random
seed, reported, when none is given), reproducibly. The statement about the
batch then assumes the captured tags were taken at random from the batch
(or are all of it); a file with fewer than N of its tags does not pass. On
a reader, --seed S draws the sample from the journal and lists the tags to
pull; without --seed the operator draws it at random from the line.

A URL file or standard input may hold at most 1,000,000 lines and 64 MiB,
each line at most 16 KiB; beyond that verify refuses it (exit 2) before
checking anything.

The journal is only read. The counters QA saw are kept in the state file
(--state, default <journal>.qa-state.json) so that a URL replayed on a
later run is caught; keep it with the journal. The batch's template and key
version come from its record; the master key and --kdf resolve as for
encode.

--reader sim presents simulated copies of the batch's tags, personalised
in memory with the same keys as the station would: a try-out of QA
without hardware that proves nothing about the physical tags. Each run
makes new copies, so a second run with the same state file sees their
counters again and reports counter_replay, as it would for cloned tags.

The report goes to stdout as text, --json, or CSV (--csv FILE, - for
stdout); without --json, one line per tag goes to stderr as it is checked.
verify exits 0 when the batch passes and 4 when a tag failed or a planned
tag was not verified.`,
		Example: `  tagline verify --batch 20250101-001 --reader 'pcsc:ACS ACR122U PICC Interface 00 00' --check-keys
  tagline verify --batch 20250101-001 --urls captured.txt --json > qa-report.json
  tagline verify --batch 20250101-001 --urls - --sample 50 --seed 7 --csv qa.csv < captured.txt
  tagline verify --batch 20250101-001 --reader libnfc --defect-rate 1% --confidence 95%
  tagline verify --batch demo-20250101-120000 --journal tagline-demo.db \
    --master-key-file tagline-demo.key --reader sim --check-keys`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVerify(cmd, e, o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.batchID, "batch", "", "batch `ID` to verify (tagline batch list shows them)")
	f.StringVar(&o.reader, "reader", "", "`READER` to present tags on: sim, pcsc:NAME, NAME or libnfc[:CONNSTRING] (default: reader in the config file)")
	f.StringVar(&o.urls, "urls", "", "verify the SUN URLs in `FILE`, one per line or JSON lines with a url field (- for standard input)")
	f.IntVar(&o.sample, "sample", 0, "verify a sample of `N` tags instead of every tag")
	f.StringVar(&o.defectRate, "defect-rate", "", "sample size for a defective fraction below `P` (e.g. 1% or 0.01)")
	f.StringVar(&o.confidence, "confidence", "", "confidence `C` of the sampling statement (e.g. 95% or 0.95; default 95%)")
	f.Uint64Var(&o.seed, "seed", 0, "draw the sample with `SEED`, reproducibly: from the journal on a reader, from the file with --urls")
	f.BoolVar(&o.checkKeys, "check-keys", false, "for presented tags, prove the factory keys are gone (one authentication with our key 0)")
	f.StringVar(&o.state, "state", "", "QA state `FILE` of the counters seen (default <journal>.qa-state.json)")
	f.StringVar(&o.sku, "sku", "", "`SKU` the tags must be bound as (default: the batch's)")
	f.BoolVar(&o.json, "json", false, "print the report as JSON")
	f.StringVar(&o.csv, "csv", "", "write the report as CSV to `FILE` (- for stdout)")
	journalFlag(f, &o.journal)
	masterKeyFileFlag(f, &o.masterKeyFile)
	kdfFlag(f, &o.kdf)
	exclusive(c, "give --reader to present tags or --urls to check captured URLs", "reader", "urls")
	exclusive(c, "pick one report format", "json", "csv")
	// Both would fix the sample size; taking one silently would state a
	// bound the operator did not ask for.
	exclusive(c, "give --sample N to verify N tags, or --defect-rate P (with --confidence C) to have the sample size computed, not both", "sample", "defect-rate")
	return c
}

func runVerify(cmd *cobra.Command, e *env, o *verifyOptions) error {
	if err := requireFlags(cmd, "batch"); err != nil {
		return err
	}
	if o.checkKeys && o.urls != "" {
		return usageErrorf("keys can only be checked on tags presented to a reader", "--check-keys needs --reader, not --urls")
	}
	mode, sampling, err := verifySampling(cmd, o)
	if err != nil {
		return err
	}
	spec, err := e.verifyReaderSpec(o)
	if err != nil {
		return err
	}
	jpath, err := e.journalPath(o.journal)
	if err != nil {
		return err
	}
	master, err := e.loadStationMaster(o.kdf, o.masterKeyFile)
	if err != nil {
		return err
	}
	store, err := e.openJournalRO(jpath)
	if err != nil {
		return err
	}
	defer store.Close()
	b, err := store.GetBatch(o.batchID)
	if err != nil {
		return err
	}
	scheme, err := e.batchScheme(o.kdf, b)
	if err != nil {
		return err
	}
	deriver, err := keys.NewDeriver(scheme, master, b.KeyVersion)
	if err != nil {
		return err
	}
	info := cmd.ErrOrStderr()
	if err := pickSample(cmd, o, mode, &sampling, info); err != nil {
		return err
	}
	statePath := o.state
	if statePath == "" {
		statePath = jpath + ".qa-state.json"
	}
	v, err := qa.New(qa.Config{
		Journal: store, BatchID: b.ID, SKU: o.sku, Deriver: deriver,
		Mode: mode, Sample: sampling, StatePath: statePath, CheckKeys: o.checkKeys, Now: e.now,
		Genuine: verifyGenuine(o.urls, spec, b.Test),
	})
	if err != nil {
		return err
	}
	e.log.Info("qa starting", "batch", b.ID, "mode", string(mode), "planned", v.Planned(), "batch_size", v.BatchSize(),
		"state", statePath, "kdf", string(scheme), "master_kcv", master.KCV(), "check_keys", o.checkKeys)
	progress := info
	if o.json {
		progress = io.Discard
	}
	announceQA(progress, v, b, scheme, master.KCV(), mode, o.urls == "" && spec.Kind != reader.KindSim)
	if o.urls != "" {
		err = e.verifyURLFile(cmd, v, o.urls, progress)
	} else {
		err = e.verifyReader(cmd, v, spec, verifySim{store: store, batch: b, deriver: deriver}, progress)
	}
	if err != nil {
		// The counters seen so far are already durable in the state file.
		return err
	}
	return e.finishQA(cmd, v, b, o)
}

// verifyReaderSpec is the reader tags are presented to: --reader, else
// the config file's; none with --urls.
func (e *env) verifyReaderSpec(o *verifyOptions) (readerSpec, error) {
	if o.urls != "" {
		return readerSpec{}, nil
	}
	raw, _, err := e.lookup(settingReader, o.reader)
	if err != nil {
		return readerSpec{}, err
	}
	if raw == "" {
		return readerSpec{}, usageErrorf("present tags with --reader NAME (tagline readers lists them), or check phone-captured URLs with --urls FILE",
			"nothing to verify: no reader and no URL file")
	}
	spec, err := parseReaderSpec(raw)
	if err != nil {
		return readerSpec{}, usageErrorf("tagline readers lists the readers", "--reader %q: %w", raw, err)
	}
	return spec, nil
}

// pickSample says where a sample comes from: a URL file is sampled with a
// seed (chosen at random, and named, when none is given), since it cannot
// be drawn from physically; presented tags without --seed are the
// operator's pick.
func pickSample(cmd *cobra.Command, o *verifyOptions, mode qa.Mode, sampling *qa.Sampling, info io.Writer) error {
	if mode != qa.ModeSample {
		return nil
	}
	// The QA person verifies the URLs they captured: the sample is drawn
	// from the file, never from tags they may not have.
	sampling.FromURLs = o.urls != ""
	switch {
	case cmd.Flags().Changed("seed"):
	case o.urls != "":
		var s [8]byte
		if _, err := rand.Read(s[:]); err != nil {
			return err
		}
		sampling.Seed = binary.BigEndian.Uint64(s[:]) >> 1
		fmt.Fprintf(info, "verify: sample seed %d chosen at random (--seed %d reproduces this sample)\n", sampling.Seed, sampling.Seed)
	default:
		sampling.OperatorPick = true
	}
	return nil
}

// announceQA says what the run verifies, and which tags to pull for an
// operator's sample presented to a real reader.
func announceQA(w io.Writer, v *qa.Verifier, b batch.Batch, scheme keys.Scheme, kcv string, mode qa.Mode, pull bool) {
	what := fmt.Sprintf("every one of the %d %s bound to it", v.Planned(), plural(v.Planned(), "tag", "tags"))
	if mode == qa.ModeSample {
		what = fmt.Sprintf("a sample of %d of its %d tags", v.Planned(), v.BatchSize())
	}
	fmt.Fprintf(w, "verify: batch %s (SKU %s, key version %d, kdf %s, master kcv %s): %s\n", b.ID, b.SKU, b.KeyVersion, scheme, kcv, what)
	if s := v.Sample(); len(s) > 0 && pull {
		fmt.Fprintf(w, "pull these %d tags from the batch and present them: %s\n", len(s), joinUIDs(s))
	}
}

// finishQA writes the report and exits 4 when the batch did not pass.
func (e *env) finishQA(cmd *cobra.Command, v *qa.Verifier, b batch.Batch, o *verifyOptions) error {
	rep, err := v.Finish()
	if err != nil {
		return err
	}
	if err := writeQAReport(cmd, rep, o); err != nil {
		return err
	}
	e.log.Info("qa finished", "batch", b.ID, "passed", rep.OK(), "pass", rep.Counts.Pass, "fail", rep.Counts.Fail,
		"missing", rep.Counts.Missing, "skipped", rep.Counts.Skipped)
	if !rep.OK() {
		return withCode(ExitVerify, fmt.Errorf("batch %s did not pass qa: %s", b.ID, qaFailureSummary(rep)), qaFailureHint(rep))
	}
	return nil
}

// verifySampling turns --sample, --defect-rate, --confidence and --seed
// into a qa mode and plan.
func verifySampling(cmd *cobra.Command, o *verifyOptions) (qa.Mode, qa.Sampling, error) {
	flags := cmd.Flags()
	var s qa.Sampling
	sampled := flags.Changed("sample") || o.defectRate != ""
	if !sampled {
		for _, n := range []string{"confidence", "seed"} {
			if flags.Changed(n) {
				return "", s, usageErrorf("sample with --sample N or --defect-rate P", "--%s only applies to a sample", n)
			}
		}
		return qa.ModeFull, s, nil
	}
	if flags.Changed("sample") && o.sample < 1 {
		return "", s, usageErrorf("drop --sample to verify every tag", "--sample must be at least 1, got %d", o.sample)
	}
	s.N = o.sample
	var err error
	if o.defectRate != "" {
		if s.DefectRate, err = parseFraction(o.defectRate); err != nil || s.DefectRate <= 0 || s.DefectRate >= 1 {
			return "", s, usageErrorf("a defect rate is a fraction between 0 and 1, e.g. 1% or 0.01", "--defect-rate %q is not a rate between 0 and 1", o.defectRate)
		}
	}
	if o.confidence != "" {
		if s.Confidence, err = parseFraction(o.confidence); err != nil || s.Confidence <= 0 || s.Confidence >= 1 {
			return "", s, usageErrorf("a confidence is a fraction between 0 and 1, e.g. 95% or 0.95", "--confidence %q is not between 0 and 1", o.confidence)
		}
	}
	s.Seed = o.seed
	return qa.ModeSample, s, nil
}

// parseFraction reads "1%" as 0.01 and "0.01" as itself.
func parseFraction(s string) (float64, error) {
	s = strings.TrimSpace(s)
	pct := strings.HasSuffix(s, "%")
	f, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil {
		return 0, err
	}
	if pct {
		f /= 100
	}
	return f, nil
}

// verifyURLFile checks a file of captured SUN URLs (qa reads the JSON
// lines of tagline demo, encode and verify --json as their url field).
func (e *env) verifyURLFile(cmd *cobra.Command, v *qa.Verifier, path string, progress io.Writer) error {
	var r io.Reader = cmd.InOrStdin()
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return usageErrorf("--urls takes a file of SUN URLs, one per line, or - for standard input", "--urls: %w", err)
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil && fi.IsDir() {
			return usageErrorf("--urls takes a file of SUN URLs, one per line, or - for standard input", "--urls: %s is a directory", path)
		}
		r = f
	}
	results, err := v.VerifyURLs(r)
	for _, res := range results {
		writeQALine(progress, res)
	}
	if errors.Is(err, qa.ErrInputLimit) {
		return usageErrorf("give the file of URLs captured by phones, one per line (or encode --json lines); split a larger one and verify each part",
			"--urls %s: %w", path, err)
	}
	if err != nil {
		return fmt.Errorf("verifying %s: %w", path, err)
	}
	return nil
}

// verifySim is what the simulated reader needs to make copies of the
// batch's tags.
type verifySim struct {
	store   *batch.Store
	batch   batch.Batch
	deriver *keys.Deriver
}

// verifyReader verifies the tags presented to one reader until every
// planned tag was verified or the operator stops (Ctrl-C).
func (e *env) verifyReader(cmd *cobra.Command, v *qa.Verifier, spec readerSpec, vs verifySim, progress io.Writer) error {
	ctx := cmd.Context()
	readers, err := e.openReaders(ctx, []readerSpec{spec}, false, simFeederOptions{})
	if err != nil {
		return err
	}
	defer readers.Close()
	l := readers.lanes[0]
	var copies []manifest.UID
	simReader, isSim := l.r.(*sim.Reader)
	if isSim {
		if copies = v.Sample(); copies == nil {
			if copies, err = boundUIDs(vs.store, vs.batch.ID); err != nil {
				return err
			}
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "tagline: note: reader %s presents simulated copies of batch %s's tags, personalised in memory; this proves nothing about the physical tags\n", l.name, vs.batch.ID)
	}
	for v.Remaining() > 0 {
		if isSim {
			if len(copies) == 0 {
				break
			}
			tag, err := simCopy(ctx, vs, copies[0])
			if err != nil {
				return err
			}
			copies = copies[1:]
			if e.simPresented != nil {
				e.simPresented(tag)
			}
			simReader.Present(tag)
		} else {
			fmt.Fprintf(progress, "present a tag on %s (%d planned %s to go; Ctrl-C to finish)\n", l.name, v.Remaining(), plural(v.Remaining(), "tag", "tags"))
		}
		t, err := l.r.WaitTag(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return err
		}
		// A tag in progress is finished even after Ctrl-C: the check
		// reads, and at most authenticates once, so it is short.
		vctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		res, err := v.VerifyTag(vctx, t)
		cancel()
		_ = t.Close()
		if err != nil {
			return err
		}
		e.log.Info("qa tag", "uid", res.UID, "result", string(res.Verdict), "reason", string(res.Reason))
		writeQALine(progress, res)
		if isSim {
			simReader.Remove()
			continue
		}
		if v.Remaining() == 0 {
			// The last planned tag: the report does not wait for it to
			// be taken away.
			break
		}
		fmt.Fprintln(progress, "remove the tag")
		if err := l.r.WaitRemoved(ctx); err != nil {
			if ctx.Err() != nil {
				break
			}
			return err
		}
	}
	if n := v.Remaining(); n > 0 && ctx.Err() != nil {
		fmt.Fprintf(progress, "stopped with %d planned %s not verified\n", n, plural(n, "tag", "tags"))
	}
	return nil
}

// simCopy makes a simulated tag as the station left the tag uid: a fresh
// tag personalised in memory by the encoder with the batch's keys and
// template (the journal is not written), then read as often as the
// journal's read counter says, so that the next phone read moves past it.
func simCopy(ctx context.Context, vs verifySim, uid manifest.UID) (*sim.Tag, error) {
	u := uid.Bytes()
	if len(u) != 7 {
		return nil, fmt.Errorf("journal uid %q is not 7 bytes of hex", uid)
	}
	tmpl, err := sdm.ParseTemplate(vs.batch.Template)
	if err != nil {
		return nil, fmt.Errorf("batch %s: %w", vs.batch.ID, err)
	}
	tag := sim.New(sim.Options{UID: u})
	r := sim.NewReader("copy")
	defer r.Close()
	r.Present(tag)
	c, err := r.WaitTag(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	bd, found, err := vs.store.Lookup(uid)
	if err != nil {
		return nil, err
	}
	d := vs.deriver
	if found && bd.KeyVersion != d.Version() {
		// Rekeyed: the copy carries the version its binding records.
		if d, err = d.ForVersion(bd.KeyVersion); err != nil {
			return nil, err
		}
	}
	job := encoder.Job{Deriver: d, Template: tmpl, ReaderUID: u, LRP: vs.batch.LRP}
	if tmpl.HasEnc() {
		job.EncData = station.DefaultEncData(vs.batch.SKU)
	}
	res, err := encoder.Personalise(ctx, c, job, encoder.Options{})
	if err != nil {
		return nil, fmt.Errorf("simulated copy of %s: %w", uid, err)
	}
	for ctr := res.ReadCtr; found && ctr < bd.ReadCtr && ctr < res.ReadCtr+100000; ctr++ {
		if _, err := qa.ReadURL(ctx, c); err != nil {
			return nil, fmt.Errorf("simulated copy of %s: %w", uid, err)
		}
	}
	r.Remove()
	return tag, nil
}

// boundUIDs lists the UIDs bound to a batch, in binding order, from its
// manifest.
func boundUIDs(store *batch.Store, id string) ([]manifest.UID, error) {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := store.Export(pw, id, batch.ExportOptions{})
		pw.CloseWithError(err)
		done <- err
	}()
	var uids []manifest.UID
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var rec struct {
			Type string       `json:"type"`
			UID  manifest.UID `json:"uid"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			pr.CloseWithError(err)
			<-done
			return nil, fmt.Errorf("reading the manifest of batch %s: %w", id, err)
		}
		if rec.Type == "binding" && !slices.Contains(uids, rec.UID) {
			uids = append(uids, rec.UID)
		}
	}
	if err := sc.Err(); err != nil {
		<-done
		return nil, err
	}
	return uids, <-done
}

// writeQALine prints one result as the operator follows it:
//
//	PASS  04A1B2C3D4E5F6  ctr 2
//	FAIL  04A1B2C3D4E5F6  counter_replay: read counter 1 does not move past 1, ...
//	SKIP  04A1B2C3D4E5F6  genuine tag of the batch, not in the sample
func writeQALine(w io.Writer, r qa.TagResult) {
	label := map[qa.Verdict]string{qa.Pass: "PASS", qa.Fail: "FAIL", qa.Skipped: "SKIP"}[r.Verdict]
	var b strings.Builder
	b.WriteString(label)
	if r.Line > 0 {
		fmt.Fprintf(&b, "  line %d", r.Line)
	}
	uid := r.UID
	if uid == "" {
		uid = "(no uid)"
	}
	fmt.Fprintf(&b, "  %-14s  ", uid)
	switch r.Verdict {
	case qa.Pass:
		if r.ReadCtr != nil {
			fmt.Fprintf(&b, "ctr %d", *r.ReadCtr)
		}
		if r.Tamper != "" {
			fmt.Fprintf(&b, ", seal %s", r.Tamper)
		}
	case qa.Skipped:
		b.WriteString(oneLine(r.Detail))
	default:
		fmt.Fprintf(&b, "%s: %s", r.Reason, oneLine(r.Detail))
	}
	fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
}

// writeQAReport writes the report in the format asked for.
func writeQAReport(cmd *cobra.Command, rep *qa.Report, o *verifyOptions) error {
	out := cmd.OutOrStdout()
	switch {
	case o.json:
		return rep.WriteJSON(out)
	case o.csv == "-":
		return rep.WriteCSV(out)
	case o.csv != "":
		f, err := os.OpenFile(o.csv, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return fmt.Errorf("writing the csv report: %w", err)
		}
		err = rep.WriteCSV(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("writing the csv report %s: %w", o.csv, err)
		}
	}
	return rep.WriteText(out)
}

// qaFailureSummary says in one line why a report is not OK.
func qaFailureSummary(rep *qa.Report) string {
	c := rep.Counts
	var parts []string
	for _, r := range qa.Reasons {
		if n := c.ByReason[r]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", r, n))
		}
	}
	s := fmt.Sprintf("%d of %d %s failed", c.Fail, c.Results, plural(c.Results, "result", "results"))
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}

// qaFailureHint says what to do about the failures of a report.
func qaFailureHint(rep *qa.Report) string {
	hints := []string{"the report lists each failing tag with its reason"}
	by := rep.Counts.ByReason
	if by[qa.ReasonCounterReplay] > 0 {
		hints = append(hints, "counter_replay: that read counter was seen before (the URL read back at encoding, or one verified on an earlier run), so verify fresh phone reads, or present the tags again")
	}
	if by[qa.ReasonMissing] > 0 {
		hints = append(hints, "missing: planned tags never verified; present them, or verify a sample with --sample or --defect-rate")
	}
	if s := rep.Sampling; s != nil && s.From == "urls" && s.DrawnFrom < s.Planned {
		hints = append(hints, fmt.Sprintf("the url file holds %d of the %d tags the sample needs: capture urls of more tags of the batch, or give a smaller --sample", s.DrawnFrom, s.Planned))
	}
	return strings.Join(hints, "; ")
}

// joinUIDs lists UIDs for the operator, separated by spaces.
func joinUIDs(us []manifest.UID) string {
	var b strings.Builder
	for i, u := range us {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(string(u))
	}
	return b.String()
}
