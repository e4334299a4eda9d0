package qa

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tagline-station/tagline/apdu"
	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/encoder"
	"github.com/tagline-station/tagline/internal/errkind"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/lines"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/sdm"
)

// Errors of the verifier itself (not of a tag): the CLI maps them to its
// usage, journal and key exit codes.
var (
	// ErrConfig: the configuration is unusable.
	ErrConfig = errkind.New(errkind.Usage, "bad qa configuration")
	// ErrEmptyBatch: the batch has no bound tag to verify.
	ErrEmptyBatch = errkind.New(errkind.Usage, "batch has no bound tags")
	// ErrWrongMaster: no binding of the batch was made with this master
	// key (its check value differs), so every tag would fail bad_mac.
	ErrWrongMaster = errkind.New(errkind.Usage, "master key does not match the batch")
	// ErrFinished: Finish was called; the verifier takes no more tags.
	ErrFinished = errors.New("qa run is finished")
	// ErrInputLimit: a URL file exceeds URLLimits; nothing of it was
	// verified.
	ErrInputLimit = errors.New("url input too large")
)

// Sampling configures ModeSample. Give either N, or DefectRate and
// Confidence to have N computed with SampleSize.
type Sampling struct {
	// N is the number of tags to verify; 0 means SampleSize(M, DefectRate,
	// Confidence). It is capped at the batch size M.
	N int
	// DefectRate p and Confidence c: the claim a passing sample makes is
	// "fewer than ceil(p·M) tags are defective, with confidence c".
	// Confidence defaults to 0.95. When N is given, DefectRate is optional
	// and only reported against.
	DefectRate float64
	Confidence float64
	// Seed chooses the sampled UIDs from the journal's list, or with
	// FromURLs from the file's (SelectSample), so the same seed reproduces
	// the same sample. Tags and URLs of the
	// batch outside the sample are reported as skipped.
	Seed uint64
	// OperatorPick: the operator pulls the sample physically at random
	// from the line and presents it; the first N distinct tags of the batch
	// verified make the sample and Seed is not used. Only for presented
	// tags: a URL file needs a seed.
	OperatorPick bool
	// FromURLs draws the sample with Seed from the tags of the batch whose
	// URLs verify in the file given to VerifyURLs (one file per run), not
	// from the journal: a QA person who captured N tags with a phone
	// verifies those N, and one who captured more verifies N of them,
	// reproducibly. Fewer than N tags of the batch in the file leave the
	// run incomplete. The statement about the batch then assumes the
	// file's tags were taken at random from the batch, or are all of it.
	FromURLs bool
}

// URLLimits bound what VerifyURLs reads; beyond them it returns
// ErrInputLimit before verifying anything. Zero fields take the defaults.
type URLLimits struct {
	// MaxLineBytes bounds a line (default 16 KiB: a SUN URL a tag can
	// hold is a few hundred bytes, a JSON line of encode --json under 1 KiB).
	MaxLineBytes int
	// MaxLines bounds the lines, blank and comment lines included
	// (default 1,000,000).
	MaxLines int
	// MaxBytes bounds the whole input (default 64 MiB).
	MaxBytes int64
}

// Default URL input bounds.
const (
	DefaultMaxURLLineBytes       = 16 << 10
	DefaultMaxURLLines           = 1_000_000
	DefaultMaxURLBytes     int64 = 64 << 20
)

func (l URLLimits) withDefaults() URLLimits {
	if l.MaxLineBytes <= 0 {
		l.MaxLineBytes = DefaultMaxURLLineBytes
	}
	if l.MaxLines <= 0 {
		l.MaxLines = DefaultMaxURLLines
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxURLBytes
	}
	return l
}

// Config is one QA run over one batch.
type Config struct {
	// Journal is the station's journal (open it with batch.Options
	// ReadOnly); the verifier only reads it.
	Journal *batch.Store
	BatchID string
	// SKU is the SKU the batch must be; empty means the batch record's.
	SKU string
	// Deriver derives tag keys from the master key; its version must be
	// the batch's key version.
	Deriver *keys.Deriver
	// Mode is ModeFull (the default) or ModeSample.
	Mode   Mode
	Sample Sampling
	// StatePath is QA's own file of the last counters it saw per UID. It
	// is required: it is what catches a URL replayed on a later run.
	StatePath string
	// CheckKeys proves, for presented tags, that the factory keys are
	// gone: key versions 0 to 4 must be the batch's, then one
	// AuthenticateEV2First with our key 0 must succeed. The factory key
	// is never tried.
	CheckKeys bool
	// Genuine, when set, has each presented tag's NXP originality
	// signature checked over its UID with these keys (genuine.go): NXP's,
	// and the simulator's test key only for simulated readers.
	Genuine []*ecdsa.PublicKey
	// URLLimits bound the URL files VerifyURLs reads.
	URLLimits URLLimits
	// Now is the clock (default time.Now); Rand supplies RndA for the
	// authentication (default crypto/rand).
	Now  func() time.Time
	Rand io.Reader
}

// TagResult is the verdict on one presented tag, one URL, or one missing
// tag. It never holds key material.
type TagResult struct {
	// UID is upper-case hex: the UID of the verified SUN message, else
	// the reader's anticollision UID, else empty (a URL that does not
	// verify names no UID we can trust).
	UID     manifest.UID `json:"uid"`
	Verdict Verdict      `json:"result"`
	// Reason is the first failure in order of precedence; Reasons are all
	// of them (see the Reason constants).
	Reason  Reason   `json:"reason,omitempty"`
	Reasons []Reason `json:"reasons,omitempty"`
	// ReadCtr is the SDM read counter of a verified SUN message.
	ReadCtr *uint32 `json:"read_ctr,omitempty"`
	URL     string  `json:"url,omitempty"`
	Source  Source  `json:"source"`
	// Line is the line number in a URL file (1-based).
	Line int `json:"line,omitempty"`
	// BoundBatch and BoundSKU are what the journal's binding says.
	BoundBatch string `json:"bound_batch,omitempty"`
	BoundSKU   string `json:"bound_sku,omitempty"`
	// Detail says in plain words what failed.
	Detail string    `json:"detail,omitempty"`
	At     time.Time `json:"at,omitzero"`

	// KeyVersion is the key version whose keys verified the SUN message
	// (the batch's, or the one tagline rekey moved the tag to).
	KeyVersion int `json:"key_version,omitempty"`
	// Tamper is the TagTamper loop's status (closed, opened, invalid)
	// that a {tt} template's SUN message proves; reported, not judged.
	Tamper sdm.Tamper `json:"tamper,omitempty"`
}

// OK reports a passing result.
func (r TagResult) OK() bool { return r.Verdict == Pass }

func (r *TagResult) fail(reason Reason, format string, args ...any) {
	r.Reasons = append(r.Reasons, reason)
	msg := fmt.Sprintf(format, args...)
	if r.Detail == "" {
		r.Detail = msg
	} else {
		r.Detail += "; " + msg
	}
}

// settle orders the reasons and sets Verdict and Reason.
func (r *TagResult) settle() {
	if len(r.Reasons) == 0 {
		if r.Verdict == "" {
			r.Verdict = Pass
		}
		return
	}
	slices.SortStableFunc(r.Reasons, func(a, b Reason) int { return precedence(a) - precedence(b) })
	r.Reasons = slices.Compact(r.Reasons)
	r.Verdict, r.Reason = Fail, r.Reasons[0]
}

// Verifier runs one QA pass over a batch. Its methods are safe for
// concurrent use; tags are verified one at a time.
type Verifier struct {
	mu       sync.Mutex
	cfg      Config
	b        batch.Batch
	sku      string
	tmpl     *sdm.Template
	kcv      string
	rekeyed  []*keys.Deriver       // key versions of rekeyed tags (rekeyedVersions)
	uids     []manifest.UID        // bound tags of the batch, in binding order
	planned  int                   // sample size N (sample mode)
	sample   []manifest.UID        // seeded sample, in selection order
	inSample map[manifest.UID]bool // nil unless seeded sampling
	toDraw   bool                  // FromURLs: the sample is drawn by VerifyURLs
	drawFrom int                   // FromURLs: distinct tags of the batch in the file
	covered  map[manifest.UID]bool // distinct tags of the batch verified (in scope)
	results  []TagResult
	st       *state
	started  time.Time
	done     bool
}

// New checks the configuration against the journal, loads the batch's
// list of bound UIDs and the state file, and plans the sample.
func New(cfg Config) (*Verifier, error) {
	if cfg.Journal == nil || cfg.Deriver == nil {
		return nil, fmt.Errorf("%w: qa needs the journal and the master key", ErrConfig)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Mode == "" {
		cfg.Mode = ModeFull
	}
	if cfg.Mode != ModeFull && cfg.Mode != ModeSample {
		return nil, fmt.Errorf("%w: mode %q; use %q or %q", ErrConfig, cfg.Mode, ModeFull, ModeSample)
	}
	b, err := cfg.Journal.GetBatch(cfg.BatchID)
	if err != nil {
		return nil, err
	}
	if cfg.Deriver.Version() != b.KeyVersion {
		return nil, fmt.Errorf("%w: batch %s uses key version %d, the keys are version %d", ErrConfig, b.ID, b.KeyVersion, cfg.Deriver.Version())
	}
	if b.Template == "" {
		return nil, fmt.Errorf("%w: batch %s has no url template", ErrConfig, b.ID)
	}
	tmpl, err := sdm.ParseTemplate(b.Template)
	if err != nil {
		return nil, fmt.Errorf("batch %s: %w", b.ID, err)
	}
	v := &Verifier{cfg: cfg, b: b, sku: cfg.SKU, tmpl: tmpl, kcv: cfg.Deriver.MasterKCV(),
		covered: map[manifest.UID]bool{}}
	if v.sku == "" {
		v.sku = b.SKU
	}
	bound, err := boundTags(cfg.Journal, b.ID)
	if err != nil {
		return nil, err
	}
	if len(bound) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrEmptyBatch, b.ID)
	}
	if v.rekeyed, err = rekeyedVersions(cfg.Deriver, bound); err != nil {
		return nil, err
	}
	ours, other := 0, ""
	for _, bd := range bound {
		v.uids = append(v.uids, bd.UID)
		switch {
		case strings.EqualFold(bd.MasterKCV, v.kcv):
			ours++
		case bd.MasterKCV != "":
			other = bd.MasterKCV
		}
	}
	// Refuse only when the journal names another key and never ours: a
	// batch bound partly under another key is a finding (bad_mac), not a
	// configuration error.
	if ours == 0 && other != "" {
		return nil, fmt.Errorf("%w: the key has check value %s, the tags of batch %s were bound under %s", ErrWrongMaster, v.kcv, b.ID, other)
	}
	if cfg.Mode == ModeSample {
		if err := v.plan(); err != nil {
			return nil, err
		}
	}
	if v.st, err = loadState(cfg.StatePath); err != nil {
		return nil, err
	}
	v.started = v.now()
	return v, nil
}

func (v *Verifier) now() time.Time { return v.cfg.Now().UTC() }

func (v *Verifier) plan() error {
	s := &v.cfg.Sample
	m := len(v.uids)
	if s.Confidence == 0 {
		s.Confidence = 0.95
	}
	switch {
	case s.N < 0:
		return fmt.Errorf("%w: sample size %d", ErrSampling, s.N)
	case s.N > 0:
		if err := checkConfidence(s.Confidence); err != nil {
			return err
		}
		if s.DefectRate != 0 {
			if err := checkDefectRate(s.DefectRate); err != nil {
				return err
			}
		}
		v.planned = min(s.N, m)
	default:
		n, err := SampleSize(m, s.DefectRate, s.Confidence)
		if err != nil {
			return err
		}
		v.planned = n
	}
	if s.OperatorPick && s.FromURLs {
		return fmt.Errorf("%w: a sample is drawn from a url file with a seed or picked by the operator, not both", ErrConfig)
	}
	if s.FromURLs {
		v.inSample, v.toDraw = map[manifest.UID]bool{}, true
		return nil
	}
	if !s.OperatorPick {
		v.sample = SelectSample(v.uids, v.planned, s.Seed)
		v.inSample = make(map[manifest.UID]bool, len(v.sample))
		for _, u := range v.sample {
			v.inSample[u] = true
		}
	}
	return nil
}

// BatchSize is M, the number of tags bound to the batch when the run began.
func (v *Verifier) BatchSize() int { return len(v.uids) }

// Planned is the number of tags the run must verify: M in full mode, N
// in sample mode.
func (v *Verifier) Planned() int {
	if v.cfg.Mode == ModeSample {
		return v.planned
	}
	return len(v.uids)
}

// Sample returns the seeded sample's UIDs in selection order (nil in full
// mode and with OperatorPick), for the operator to pull from the line.
func (v *Verifier) Sample() []manifest.UID { return slices.Clone(v.sample) }

// Remaining is how many planned tags have not been verified yet.
func (v *Verifier) Remaining() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	switch {
	case v.cfg.Mode == ModeFull:
		return len(v.uids) - v.countCovered(v.uids)
	case v.toDraw:
		return v.planned
	case v.inSample != nil:
		return len(v.sample) - v.countCovered(v.sample)
	}
	return max(0, v.planned-len(v.covered))
}

func (v *Verifier) countCovered(uids []manifest.UID) int {
	n := 0
	for _, u := range uids {
		if v.covered[u] {
			n++
		}
	}
	return n
}

// VerifyTag reads the tag in front of the reader as a phone would,
// verifies it, and with Config.CheckKeys proves its factory keys are gone.
// The counter it saw is durable in the state file before it returns. The
// error is for the run, not the tag (the journal or the state file
// failed); a failing tag is a TagResult with Verdict Fail.
func (v *Verifier) VerifyTag(ctx context.Context, tag reader.Tag) (TagResult, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.done {
		return TagResult{}, ErrFinished
	}
	if v.cfg.Sample.FromURLs {
		return TagResult{}, fmt.Errorf("%w: the sample is drawn from a url file; presented tags need a sample from the journal or the operator", ErrConfig)
	}
	res := TagResult{Source: SourceTag}
	readerUID := tag.UID()
	if len(readerUID) == 7 {
		res.UID = manifest.UIDOf(readerUID)
	} else {
		readerUID = nil
	}
	c := encoder.New(tag, encoder.Options{Rand: v.cfg.Rand})
	url, err := c.ReadURL(ctx)
	if err != nil {
		if errors.Is(err, ErrNoURL) {
			res.fail(ReasonURLMismatch, "%v", err)
		} else {
			res.fail(ReasonUnreadable, "reading the ndef file: %v", err)
		}
		return v.record(res, false), nil
	}
	res.URL = url
	ver, outside, err := v.check(&res, readerUID)
	if err != nil {
		return TagResult{}, err
	}
	v.checkGenuine(ctx, c, readerUID, ver, &res)
	if ver != nil && v.cfg.CheckKeys {
		v.checkKeys(ctx, c, ver.UID, byte(res.KeyVersion), &res)
	}
	res = v.record(res, outside)
	return res, v.st.save()
}

// VerifyURL verifies one SUN URL captured by a phone. The counter is
// durable in the state file before it returns.
func (v *Verifier) VerifyURL(url string) (TagResult, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	res, err := v.verifyURL(url, 0)
	if err != nil {
		return res, err
	}
	return res, v.st.save()
}

func (v *Verifier) verifyURL(url string, line int) (TagResult, error) {
	if v.done {
		return TagResult{}, ErrFinished
	}
	if v.cfg.Mode == ModeSample && v.inSample == nil {
		return TagResult{}, fmt.Errorf("%w: sampling urls needs a seed to choose the sample from the journal, not an operator's pick", ErrConfig)
	}
	if v.toDraw {
		return TagResult{}, fmt.Errorf("%w: the sample is drawn from a url file: give the file to VerifyURLs", ErrConfig)
	}
	res := TagResult{Source: SourceURL, Line: line, URL: cleanText(url, 1024)}
	_, outside, err := v.check(&res, nil)
	if err != nil {
		return TagResult{}, err
	}
	return v.record(res, outside), nil
}

// VerifyURLs verifies a file of SUN URLs, one per line. A line that is a
// JSON object with a "url" field (the output of tagline encode, demo and
// verify --json) stands for that URL; blank lines and lines starting with
// '#' are ignored, and surrounding white space is trimmed. The whole input
// is read first, within Config.URLLimits (else ErrInputLimit, and nothing
// is verified); with Sampling.FromURLs the sample is then drawn from it.
// It returns the results of this file in order; the counters are durable
// in the state file before it returns, also when it returns an error
// after some lines.
func (v *Verifier) VerifyURLs(r io.Reader) ([]TagResult, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.done {
		return nil, ErrFinished
	}
	if v.cfg.Sample.FromURLs && !v.toDraw {
		return nil, fmt.Errorf("%w: a sample drawn from a url file takes one file; put the urls in one file", ErrConfig)
	}
	lines, err := readURLLines(r, v.cfg.URLLimits.withDefaults())
	if err != nil {
		return nil, err
	}
	if v.toDraw {
		v.drawFromURLs(lines)
	}
	var out []TagResult
	for _, l := range lines {
		res, verr := v.verifyURL(l.url, l.n)
		if verr != nil {
			err = verr
			break
		}
		out = append(out, res)
	}
	if serr := v.st.save(); err == nil {
		err = serr
	}
	return out, err
}

// drawFromURLs draws the FromURLs sample: SelectSample over the distinct
// tags of the batch whose URLs verify. A forged URL names no tag, so it
// cannot steer the draw.
func (v *Verifier) drawFromURLs(lines []urlLine) {
	bound := make(map[manifest.UID]bool, len(v.uids))
	for _, u := range v.uids {
		bound[u] = true
	}
	var found []manifest.UID
	seen := map[manifest.UID]bool{}
	for _, l := range lines {
		ver, _, err := v.verifyAny(l.url)
		if err != nil {
			continue
		}
		if u := manifest.UIDOf(ver.UID); bound[u] && !seen[u] {
			seen[u] = true
			found = append(found, u)
		}
	}
	v.drawFrom = len(found)
	v.sample = SelectSample(found, v.planned, v.cfg.Sample.Seed)
	for _, u := range v.sample {
		v.inSample[u] = true
	}
	v.toDraw = false
}

// urlLine is a URL to verify and its line number in the file.
type urlLine struct {
	n   int
	url string
}

// readURLLines reads a URL file within the limits: the URLs of its lines,
// JSON lines replaced by their url field, blank and comment lines left
// out.
func readURLLines(r io.Reader, lim URLLimits) ([]urlLine, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var out []urlLine
	var total int64
	for n := 1; ; n++ {
		line, raw, err := readLine(br, lim.MaxLineBytes)
		if errors.Is(err, lines.ErrTooLong) {
			return nil, fmt.Errorf("%w: line %d is longer than %d bytes; a SUN url is a few hundred: is this a file of captured urls?", ErrInputLimit, n, lim.MaxLineBytes)
		}
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading the urls: %w", err)
		}
		if n > lim.MaxLines {
			return nil, fmt.Errorf("%w: more than %d lines; split the file", ErrInputLimit, lim.MaxLines)
		}
		if total += int64(raw); total > lim.MaxBytes {
			return nil, fmt.Errorf("%w: more than %d MiB; split the file", ErrInputLimit, lim.MaxBytes>>20)
		}
		if u, ok := urlOfLine(line); ok {
			out = append(out, urlLine{n: n, url: u})
		}
	}
}

// urlOfLine returns the URL a line stands for, if any.
func urlOfLine(line string) (string, bool) {
	t := strings.TrimSpace(line)
	if t == "" || strings.HasPrefix(t, "#") {
		return "", false
	}
	// Only valid UTF-8 is read as JSON: the decoder turns each bad byte
	// into a three-byte U+FFFD, so a line within the bound could yield a
	// URL beyond it. Such a line stays as it is and fails as a URL.
	if strings.HasPrefix(t, "{") && utf8.ValidString(t) {
		var obj struct {
			URL *string `json:"url"`
		}
		if json.Unmarshal([]byte(t), &obj) == nil && obj.URL != nil {
			return strings.TrimSpace(*obj.URL), true
		}
	}
	return t, true
}

// readLine returns one line without its end (LF or CRLF) and the bytes
// it took, lines.ErrTooLong as soon as it exceeds max bytes (the rest is
// not read), or io.EOF after the last line.
func readLine(br *bufio.Reader, max int) (string, int, error) {
	l, err := lines.Read(br, max)
	if err != nil {
		return "", 0, err
	}
	return string(lines.Trim(l)), len(l), nil
}

// check verifies the SUN message in res.URL against the template, the
// keys, the journal and the counters. It returns the verified message (nil
// when it does not verify) and whether the tag is a tag of the batch
// outside the seeded sample (it is then skipped if it passes). The error
// is for the run.
func (v *Verifier) check(res *TagResult, readerUID []byte) (*sdm.Verified, bool, error) {
	ver, kv, err := v.verifyAny(res.URL)
	switch {
	case err == nil:
	case errors.Is(err, sdm.ErrURLMismatch), errors.Is(err, sdm.ErrURLField):
		res.fail(ReasonURLMismatch, "%v (template %s)", err, v.b.Template)
		return nil, false, nil
	default:
		// ErrBadMAC, ErrBadPICCData, and a UID of the wrong size in
		// PICCData: all say the message is not ours.
		res.fail(ReasonBadMAC, "sun message does not verify with keys of master %s: %v", v.kcv, err)
		return nil, false, nil
	}
	uid := manifest.UIDOf(ver.UID)
	res.UID = uid
	res.KeyVersion = int(kv)
	res.Tamper = ver.Tamper
	ctr := uint32(ver.Ctr)
	res.ReadCtr = &ctr
	if readerUID != nil && manifest.UIDOf(readerUID) != uid {
		res.fail(ReasonUIDMismatch, "the reader saw uid %s, the sun message names %s", manifest.UIDOf(readerUID), uid)
	}
	bd, found, err := v.cfg.Journal.Lookup(uid)
	if err != nil {
		return nil, false, fmt.Errorf("journal lookup of %s: %w", uid, err)
	}
	var seq uint64
	base, baseFrom := uint32(0), ""
	if !found {
		res.fail(ReasonUnknownUID, "uid %s has no binding in the journal", uid)
	} else {
		seq = bd.Seq
		res.BoundBatch, res.BoundSKU = bd.BatchID, bd.SKU
		if bd.BatchID != v.b.ID {
			res.fail(ReasonWrongBatch, "uid %s is bound to batch %s, not %s", uid, bd.BatchID, v.b.ID)
		}
		if bd.SKU != v.sku {
			res.fail(ReasonWrongSKU, "uid %s is bound as sku %q, expected %q", uid, bd.SKU, v.sku)
		}
		base, baseFrom = bd.ReadCtr, "the journal's read_ctr"
		if bd.KeyVersion != kv {
			res.fail(ReasonWrongKeyVersion, "uid %s answers with key version %d, the journal binds it with %d", uid, kv, bd.KeyVersion)
		}
	}
	seen, haveSeen := v.st.last(uid, seq)
	if haveSeen && (seen > base || !found) {
		base, baseFrom = seen, "the last counter qa saw"
	}
	replay := (found || haveSeen) && ctr <= base
	// Every genuine counter is remembered, also from failing tags; see
	// never lowers one.
	v.st.see(uid, seq, ctr)

	if replay {
		res.fail(ReasonCounterReplay, "read counter %d does not move past %d, %s", ctr, base, baseFrom)
	}
	inBatch := found && bd.BatchID == v.b.ID
	inScope := inBatch && (v.inSample == nil || v.inSample[uid])
	if inScope {
		v.covered[uid] = true
	}
	return &ver, inBatch && !inScope, nil
}

// checkKeys proves the factory keys are gone without spending the tag's
// failed-authentication budget on anything but our own key 0: key versions
// are free to read, and only when all five are the batch's is one
// authentication attempted, with the key derived for this UID.
func (v *Verifier) checkKeys(ctx context.Context, c *encoder.Conn, uid []byte, want byte, res *TagResult) {
	d := v.cfg.Deriver
	if want != d.Version() {
		var err error
		if d, err = d.ForVersion(want); err != nil {
			res.fail(ReasonBadMAC, "%v", err)
			return
		}
	}
	var factory, other []string
	for n := byte(0); n < keys.NumSlots; n++ {
		got, err := c.GetKeyVersion(ctx, n)
		if err != nil {
			res.fail(ReasonUnreadable, "reading key versions: %v", err)
			return
		}
		switch got {
		case want:
		case 0x00:
			factory = append(factory, fmt.Sprintf("key %d", n))
		default:
			other = append(other, fmt.Sprintf("key %d has version %02X", n, got))
		}
	}
	if len(factory) > 0 {
		res.fail(ReasonFactoryKey, "%s still %s the factory version 00 (batch writes %02X); no authentication was tried",
			strings.Join(factory, ", "), plural(len(factory), "has", "have"), want)
	}
	if len(other) > 0 {
		res.fail(ReasonWrongKeyVersion, "%s, the batch writes %02X", strings.Join(other, ", "), want)
	}
	if len(factory)+len(other) > 0 {
		return
	}
	ks, err := d.Tag(uid)
	if err != nil {
		res.fail(ReasonBadMAC, "%v", err)
		return
	}
	if err := c.AuthenticateFirst(ctx, keys.SlotAppMaster, ks.Keys[keys.SlotAppMaster]); err != nil {
		if errors.Is(err, apdu.ErrAuthFailed) {
			res.fail(ReasonWrongKey, "key 0 has version %02X but refuses the key derived for this uid: %v", want, err)
		} else {
			res.fail(ReasonUnreadable, "authenticating with key 0: %v", err)
		}
		return
	}
	c.Logout()
}

// record stamps, settles and keeps a result. A passing tag of the batch
// outside the seeded sample is skipped: it counts neither way. A failing
// one counts: a defect found is a defect, sampled or not.
func (v *Verifier) record(res TagResult, outside bool) TagResult {
	res.At = v.now()
	if outside && len(res.Reasons) == 0 {
		res.Verdict = Skipped
		res.Detail = "genuine tag of the batch, not in the sample"
	}
	res.settle()
	v.results = append(v.results, res)
	return res
}

// Finish ends the run: it adds the planned tags never presented as
// missing, writes the state file, and returns the report. Later calls
// return the same report again.
func (v *Verifier) Finish() (*Report, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.done {
		var want []manifest.UID
		switch {
		case v.cfg.Mode == ModeFull:
			want = v.uids
		case v.inSample != nil:
			want = v.sample
		}
		for _, u := range want {
			if v.covered[u] {
				continue
			}
			res := TagResult{UID: u, Source: SourceJournal}
			bound := "bound to the batch"
			if v.cfg.Mode == ModeSample {
				bound = "sampled"
			}
			res.fail(ReasonMissing, "%s but never verified", bound)
			res.settle()
			v.results = append(v.results, res)
		}
		v.done = true
	}
	if err := v.st.save(); err != nil {
		return nil, err
	}
	return v.report(), nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// cleanText bounds untrusted text and replaces control characters and
// invalid UTF-8, so that a line from a URL file cannot reach a terminal or
// a CSV cell as an escape sequence.
func cleanText(s string, max int) string {
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	s = strings.ToValidUTF8(s, "?")
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, s)
}

// boundTags lists the current bindings of a batch in binding order. The
// journal offers them through its manifest export; a tag re-encoded into
// another batch since appears there too and is left out here, since its
// current binding (Lookup) is elsewhere.
func boundTags(store *batch.Store, id string) ([]manifest.Binding, error) {
	pr, pw := io.Pipe()
	exported := make(chan error, 1)
	go func() {
		_, err := store.Export(pw, id, batch.ExportOptions{})
		pw.CloseWithError(err)
		exported <- err
	}()
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	seen := map[manifest.UID]bool{}
	var out []manifest.Binding
	var err error
	for sc.Scan() {
		var rec struct {
			Type string       `json:"type"`
			UID  manifest.UID `json:"uid"`
		}
		if err = json.Unmarshal(sc.Bytes(), &rec); err != nil {
			err = fmt.Errorf("reading the manifest of batch %s: %w", id, err)
			break
		}
		if rec.Type != "binding" || seen[rec.UID] {
			continue
		}
		seen[rec.UID] = true
		bd, ok, lerr := store.Lookup(rec.UID)
		if lerr != nil {
			err = fmt.Errorf("journal lookup of %s: %w", rec.UID, lerr)
			break
		}
		if ok && bd.BatchID == id {
			out = append(out, bd)
		}
	}
	if err == nil {
		err = sc.Err()
	}
	pr.CloseWithError(errors.New("qa: stopped reading the manifest"))
	if xerr := <-exported; err == nil && xerr != nil {
		err = xerr
	}
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b manifest.Binding) int {
		switch {
		case a.Seq < b.Seq:
			return -1
		case a.Seq > b.Seq:
			return 1
		}
		return 0
	})
	return out, nil
}
