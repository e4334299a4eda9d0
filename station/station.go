package station

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tagline-station/tagline/apdu"
	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/encoder"
	"github.com/tagline-station/tagline/internal/errkind"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/sdm"
)

// Config is one batch being encoded.
type Config struct {
	Journal  *batch.Store
	Batch    batch.Batch
	Deriver  *keys.Deriver
	Template *sdm.Template
	// EncData is the plaintext mirrored by {enc}; default: the SKU padded
	// or cut to 16 bytes.
	EncData  []byte
	Reencode bool
	Rand     io.Reader
	Now      func() time.Time
	// ExchangeTimeout bounds one exchange with a tag (0: the encoder's
	// default, 2 s): a card that stops answering fails with a reason and
	// the lane goes on.
	ExchangeTimeout time.Duration
	// Genuine are the keys a tag's NXP originality signature must verify
	// with before any key is tried (encoder.Job.Genuine): cmd gives NXP's
	// key, and the simulator's test key only for simulated readers. A tag
	// that fails is refused with nothing written. Nil skips the check.
	Genuine []*ecdsa.PublicKey
}

// ErrBoundButBlank: the journal binds the tag's UID, but the tag in front
// of the reader is not personalised, so it is not the tag that was bound.
var ErrBoundButBlank = errkind.New(errkind.Tag, "journal binds this uid but the tag is not personalised")

// BoundButBlankError names the binding of a tag that is blank again. It
// holds the journal's refusal rather than a copy of its fields, and does
// not unwrap to it: the tag is not a duplicate.
type BoundButBlankError struct{ Bound *batch.DuplicateError }

func (e *BoundButBlankError) Error() string {
	return fmt.Sprintf("the journal binds %s (batch %s, %s) but the tag's key 0 is the factory key: a cloned uid or a tag reset elsewhere",
		e.Bound.UID, e.Bound.BatchID, e.Bound.Completed.UTC().Format(time.RFC3339))
}
func (e *BoundButBlankError) Unwrap() error { return ErrBoundButBlank }

// Result is what the operator sees for one tag.
type Result struct {
	Reader    string           `json:"reader,omitempty"`
	UID       manifest.UID     `json:"uid,omitempty"`
	SKU       string           `json:"sku"`
	Batch     string           `json:"batch"`
	Outcome   manifest.Outcome `json:"outcome"`
	URL       string           `json:"url,omitempty"`
	ReadCtr   uint32           `json:"read_ctr"`
	Exchanges int              `json:"exchanges"`
	Duration  time.Duration    `json:"duration_ns"`
	Reason    string           `json:"reason,omitempty"`
	Hint      string           `json:"hint,omitempty"`
	Err       error            `json:"-"`
}

// Station encodes tags of one batch.
type Station struct {
	cfg  Config
	job  encoder.Job
	kcv  string
	hash string
}

// New checks the configuration against the batch.
func New(cfg Config) (*Station, error) {
	if cfg.Journal == nil || cfg.Deriver == nil || cfg.Template == nil {
		return nil, errors.New("station needs a journal, keys and a template")
	}
	if cfg.Deriver.Version() != cfg.Batch.KeyVersion {
		return nil, fmt.Errorf("batch %s uses key version %d, the keys are version %d", cfg.Batch.ID, cfg.Batch.KeyVersion, cfg.Deriver.Version())
	}
	kdf := cfg.Batch.KDF
	if kdf == "" {
		kdf = batch.DefaultKDF
	}
	if string(cfg.Deriver.Scheme()) != kdf {
		return nil, fmt.Errorf("batch %s is keyed with the %s derivation, the keys are %s; use its derivation or a new batch", cfg.Batch.ID, kdf, cfg.Deriver.Scheme())
	}
	if cfg.Batch.Status == batch.StatusClosed {
		return nil, fmt.Errorf("%w: batch %s; create a new batch", batch.ErrBatchClosed, cfg.Batch.ID)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.EncData == nil && cfg.Template.HasEnc() {
		cfg.EncData = DefaultEncData(cfg.Batch.SKU)
	}
	s := &Station{cfg: cfg, kcv: cfg.Deriver.MasterKCV(), hash: cfg.Template.Hash()}
	s.job = encoder.Job{Deriver: cfg.Deriver, Template: cfg.Template, EncData: cfg.EncData, Reencode: cfg.Reencode, LRP: cfg.Batch.LRP, Genuine: cfg.Genuine, RandomID: cfg.Batch.RandomID}
	return s, nil
}

// DefaultEncData is the SKU as 16 bytes of file data, space padded.
func DefaultEncData(sku string) []byte {
	b := []byte(fmt.Sprintf("%-16.16s", sku))
	return b
}

// Encode personalises the tag in front of one reader and journals it.
func (s *Station) Encode(ctx context.Context, tag reader.Tag, readerName string) (res Result) {
	start := s.cfg.Now()
	res = Result{Reader: readerName, SKU: s.cfg.Batch.SKU, Batch: s.cfg.Batch.ID}
	job := s.job
	job.ReaderUID = tag.UID()
	began := false
	job.Journal = s.known
	// counted: the journal already counted this tag's failure or
	// duplicate (FailIntent, or BeginIntent's refusal); otherwise the
	// result is counted at the end, so that batch show agrees with the
	// screen.
	counted := false
	job.BeforeWrite = func(ctx context.Context, uid []byte, found encoder.Found) error {
		// A tag reclaimed by tagline reset is encoded again like a
		// re-encode: its old binding moves to history.
		_, reclaimed, err := s.cfg.Journal.Reclaimed(manifest.UIDOf(uid))
		if err != nil {
			return err
		}
		err = s.cfg.Journal.BeginIntent(batch.Intent{
			UID: manifest.UIDOf(uid), BatchID: s.cfg.Batch.ID, SKU: s.cfg.Batch.SKU,
			KeyVersion: s.cfg.Deriver.Version(), MasterKCV: s.kcv, TemplateHash: s.hash,
			Reencode: s.cfg.Reencode || reclaimed,
		})
		began = err == nil
		counted = errors.Is(err, batch.ErrDuplicate)
		var dup *batch.DuplicateError
		if errors.As(err, &dup) && found != encoder.FoundOurs {
			// A bound tag has our key 0; this one has the factory's.
			return &BoundButBlankError{Bound: dup}
		}
		return err
	}
	defer func() {
		if !counted {
			s.count(res)
		}
	}()
	r, err := encoder.Personalise(ctx, tag, job, encoder.Options{Rand: s.cfg.Rand, ExchangeTimeout: s.cfg.ExchangeTimeout})
	res.Exchanges, res.ReadCtr, res.URL = r.Exchanges, r.ReadCtr, r.URL
	if r.UID != nil {
		res.UID = manifest.UIDOf(r.UID)
	}
	switch {
	case err == nil:
		res.Outcome = manifest.Encoded
		if r.Found == encoder.FoundPartial {
			res.Outcome = manifest.Finished
		}
		if jerr := s.complete(res); jerr != nil {
			return s.fail(res, jerr)
		}
		res.Duration = s.cfg.Now().Sub(start)
		return res
	case errors.Is(err, encoder.ErrAlreadyOurs):
		res = s.alreadyOurs(res)
		res.Duration = s.cfg.Now().Sub(start)
		return res
	}
	if began {
		// KeysUntouched removes the intent only on its first attempt;
		// the journal keeps it when an earlier attempt may have written.
		ks := batch.KeysUntouched
		var se *encoder.StepError
		if errors.As(err, &se) && wroteSomething(se.Step) {
			ks = batch.KeysMayHaveChanged
		}
		if ferr := s.cfg.Journal.FailIntent(res.UID, err.Error(), ks); ferr != nil {
			err = fmt.Errorf("%w (and the journal refused the failure record: %w)", err, ferr)
		} else {
			counted = true
		}
	}
	res = s.fail(res, err)
	if !began {
		res = s.refuse(res, r.TagKeyVersion)
	}
	res.Duration = s.cfg.Now().Sub(start)
	return res
}

// known answers the encoder's question about a UID from the journal.
func (s *Station) known(_ context.Context, uid []byte) (encoder.Known, error) {
	u := manifest.UIDOf(uid)
	_, bound, err := s.cfg.Journal.Lookup(u)
	if err != nil {
		return encoder.Known{}, err
	}
	open, err := s.cfg.Journal.HasIntent(u)
	return encoder.Known{Intent: open, Bound: bound}, err
}

// refuse sharpens the reason for a tag refused as not ours with what the
// journal knows of its UID: our own tag of another batch is done, not
// foreign; a bound tag whose keys are not ours is not the tag we bound;
// and only a tag this journal bound with another master key points at
// the master key file.
func (s *Station) refuse(res Result, tagVersion byte) Result {
	err := res.Err
	if res.UID == "" || !(errors.Is(err, encoder.ErrForeignTag) || errors.Is(err, encoder.ErrWrongKey) || errors.Is(err, encoder.ErrOtherVersion)) {
		return res
	}
	b, ok, lerr := s.cfg.Journal.Lookup(res.UID)
	if lerr != nil || !ok {
		return res
	}
	done := b.CompletedAt.UTC().Format(time.RFC3339)
	switch {
	case tagVersion != 0 && tagVersion == b.KeyVersion && strings.EqualFold(b.MasterKCV, s.kcv) && !errors.Is(err, encoder.ErrWrongKey):
		res.Outcome = manifest.Duplicate
		res.Reason = fmt.Sprintf("already encoded in batch %s with key version %d at %s", b.BatchID, b.KeyVersion, done)
		res.Hint = "set this tag aside; it is done"
		res.Err = &batch.DuplicateError{UID: res.UID, BatchID: b.BatchID, Completed: b.CompletedAt}
	case !strings.EqualFold(b.MasterKCV, s.kcv):
		res.Reason = fmt.Sprintf("this journal encoded the tag in batch %s with master key KCV %s; this station's master key is KCV %s", b.BatchID, b.MasterKCV, s.kcv)
		res.Hint = "check the master key file (tagline keys check prints its KCV)"
	default:
		res.Reason = fmt.Sprintf("the journal binds this UID (batch %s, %s) but the tag does not carry the keys it was given: a cloned UID or a tag re-keyed elsewhere", b.BatchID, done)
		res.Hint = "set this tag aside and report it"
	}
	return res
}

// count records a failed or duplicate result that the journal has not
// counted yet. A journal that refuses it has refused, or will refuse, more
// than a counter; the result the operator sees stays as it is.
func (s *Station) count(res Result) {
	if res.Outcome == manifest.Failed || res.Outcome == manifest.Duplicate {
		_ = s.cfg.Journal.CountOutcome(s.cfg.Batch.ID, res.Outcome)
	}
}

// alreadyOurs handles a tag whose keys are ours: bound already (a
// duplicate), or torn after its last key change (finish the binding).
func (s *Station) alreadyOurs(res Result) Result {
	b, ok, err := s.cfg.Journal.Lookup(res.UID)
	if err != nil {
		return s.fail(res, err)
	}
	if ok {
		res.Outcome = manifest.Duplicate
		res.Reason = fmt.Sprintf("already encoded in batch %s at %s", b.BatchID, b.CompletedAt.UTC().Format(time.RFC3339))
		res.Hint = "set this tag aside; it is done (use --reencode to encode it again)"
		res.Err = &batch.DuplicateError{UID: res.UID, BatchID: b.BatchID, Completed: b.CompletedAt}
		return res
	}
	open, err := s.cfg.Journal.HasIntent(res.UID)
	if err != nil {
		return s.fail(res, err)
	}
	if !open {
		res.Outcome = manifest.Failed
		res.Reason = "tag already carries this station's keys but is in no journal record"
		res.Hint = "set it aside and report it: it was encoded with this master key elsewhere"
		res.Err = encoder.ErrAlreadyOurs
		return res
	}
	// The keys are all ours and the SUN message verified: the torn
	// attempt reached its last key change. Resume the intent and bind.
	if err := s.cfg.Journal.BeginIntent(batch.Intent{
		UID: res.UID, BatchID: s.cfg.Batch.ID, SKU: s.cfg.Batch.SKU,
		KeyVersion: s.cfg.Deriver.Version(), MasterKCV: s.kcv, TemplateHash: s.hash,
	}); err != nil {
		return s.fail(res, err)
	}
	res.Outcome = manifest.Finished
	if err := s.complete(res); err != nil {
		return s.fail(res, err)
	}
	return res
}

func (s *Station) complete(res Result) error {
	return s.cfg.Journal.Complete(manifest.Binding{
		UID: res.UID, BatchID: s.cfg.Batch.ID, SKU: s.cfg.Batch.SKU,
		KeyVersion: s.cfg.Deriver.Version(), MasterKCV: s.kcv, TemplateHash: s.hash,
		Outcome: manifest.Verified, ReadCtr: res.ReadCtr, CompletedAt: s.cfg.Now(),
	})
}

// wroteSomething reports steps at or after the first write to the tag.
func wroteSomething(st encoder.Step) bool {
	switch st {
	case encoder.StepSelect, encoder.StepInspect, encoder.StepKeyVersion, encoder.StepAuth, encoder.StepUID, encoder.StepJournal:
		return false
	}
	return true
}

func (s *Station) fail(res Result, err error) Result {
	res.Err = err
	res.Outcome = manifest.Failed
	var dup *batch.DuplicateError
	if errors.As(err, &dup) {
		res.Outcome = manifest.Duplicate
	}
	res.Reason, res.Hint = Explain(err)
	return res
}

// Explain turns an error into plain words and an instruction for the
// operator. It is the one place where errors meet the line.
func Explain(err error) (reason, hint string) {
	var dup *batch.DuplicateError
	var se *encoder.StepError
	step := ""
	if errors.As(err, &se) {
		step = " during " + string(se.Step)
	}
	switch {
	case err == nil:
		return "", ""
	case errors.As(err, &dup):
		return fmt.Sprintf("tag belongs to batch %s (encoded %s)", dup.BatchID, dup.Completed.UTC().Format(time.RFC3339)),
			"set this tag aside; it is already done"
	case errors.Is(err, reader.ErrTagRemoved):
		return "tag moved away" + step, "present the same tag again to finish it"
	case errors.Is(err, apdu.ErrAuthDelay):
		return "tag refuses authentication for now (too many failed attempts)", "set this tag aside and report it; do not retry it"
	case errors.Is(err, encoder.ErrNotGenuine):
		why := strings.TrimPrefix(detail(err), encoder.ErrNotGenuine.Error()+": ")
		return "not a genuine NXP chip (" + why + ")", "set this tag aside and report it; nothing was written to it"
	case errors.Is(err, ErrBoundButBlank):
		return detail(err), "set this tag aside and report it; do not encode it"
	case errors.Is(err, encoder.ErrHalfKeyed):
		return "tag was half-keyed at another station: " + detail(err),
			"set this tag aside: it belongs to another station's unfinished work; finish it at the station whose journal holds its intent"
	case errors.Is(err, encoder.ErrOtherVersion):
		return "tag is ours from another batch: " + detail(err), "set this tag aside; it was encoded in a batch of that key version (tagline batch list)"
	case errors.Is(err, encoder.ErrForeignTag):
		return "tag belongs to another system: " + detail(err), "set this tag aside; it cannot be encoded here"
	case errors.Is(err, encoder.ErrWrongKey):
		return "tag carries our key version but another master key: " + detail(err),
			"set this tag aside; it was encoded at a station with another master key (if tags this station encoded fail so too, check the master key file)"
	case errors.Is(err, encoder.ErrNoTagTamper):
		return "not a TagTamper chip: " + detail(err), "this batch's template mirrors the tamper loop ({tt}): load NTAG 424 DNA TT tags, and present this one to a batch without {tt}"
	case errors.Is(err, encoder.ErrLRPMode):
		return "tag is in LRP mode: " + detail(err), "set this tag aside for an LRP batch (tagline batch new --lrp); nothing was written to it"
	case errors.Is(err, encoder.ErrNotNTAG424):
		return "not an NTAG 424 DNA: " + detail(err), "set it aside; this station encodes NTAG 424 DNA tags only"
	case errors.Is(err, encoder.ErrUIDChanged):
		return "the tag's UID changed during encoding: " + detail(err), "set this tag aside and report it; do not present it again"
	case errors.Is(err, encoder.ErrTimeout):
		return "tag stopped answering" + step, "remove the tag and present it again; if it times out twice set it aside"
	case errors.Is(err, apdu.ErrMalformed):
		return "the tag gave a malformed answer" + step, "present the tag again; if it fails twice set it aside: it may not be an NTAG 424 DNA"
	case errors.Is(err, batch.ErrBatchClosed):
		return "batch is closed", "create a new batch with tagline batch new"
	case errors.Is(err, batch.ErrIntentOpen):
		return "tag was started in another batch", "finish it in the batch that started it (tagline journal check lists open intents)"
	case errors.Is(err, encoder.ErrReadBack):
		return "the tag's SUN message did not verify" + step, "present the tag again; if it fails twice set it aside"
	case errors.Is(err, apdu.ErrIntegrity):
		return "communication error" + step, "present the tag again"
	case errors.Is(err, batch.ErrWriteFailed):
		return "the journal could not be written (disk full or I/O error)" + step,
			"every lane holds: free space on the journal's disk (or fix it), then resume; present this tag again to finish it"
	case errkind.Of(err) == errkind.Journal, errkind.Of(err) == errkind.Busy, errors.Is(err, batch.ErrInvalid):
		return "journal error: " + err.Error(), "stop the line and run tagline journal check"
	case errors.Is(err, reader.ErrNoReader), errors.Is(err, reader.ErrStackUnavailable):
		return "reader lost", "check the reader's cable; tagline picks it up again"
	case errors.Is(err, apdu.ErrPermission), errors.Is(err, apdu.ErrAuthFailed):
		return "tag refused a command" + step, "set this tag aside and report it"
	case errors.Is(err, apdu.ErrTag), errors.Is(err, apdu.ErrLength):
		return "tag answered with an error" + step + " (" + detail(err) + ")", "present the tag again; if it fails twice set it aside"
	}
	return strings.TrimSpace(err.Error()), "present the tag again; if it fails twice set it aside"
}

// detail is an error's own words without the step that StepError adds.
func detail(err error) string {
	var se *encoder.StepError
	if errors.As(err, &se) {
		err = se.Err
	}
	return err.Error()
}
