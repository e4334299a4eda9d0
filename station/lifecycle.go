package station

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/encoder"
	"github.com/tagline-station/tagline/internal/errkind"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/sdm"
)

// The station's side of key rotation and reclaim: the encoder's Rekey and
// Reset flows with the journal's proof that a tag is ours, its operation
// recorded before the first change and its outcome after the read-back.

// ErrBoundButFactory: the journal binds the tag and records no reset, but
// the tag is factory: not the tag that was bound, or reset elsewhere.
var ErrBoundButFactory = errkind.New(errkind.Tag, "journal binds this uid but the tag is factory")

// errAlready marks a tag the journal shows finished; it stops the flow
// before any exchange beyond the reads.
var errAlready = errors.New("nothing to do")

// LifeResult reports one tag.
type LifeResult struct {
	Reader    string           `json:"reader,omitempty"`
	UID       manifest.UID     `json:"uid,omitempty"`
	Batch     string           `json:"batch,omitempty"`
	Outcome   manifest.Outcome `json:"outcome"`
	From      byte             `json:"from_version"`
	To        byte             `json:"to_version"`
	Slots     string           `json:"key_versions,omitempty"` // as read, key 0 first
	URL       string           `json:"url,omitempty"`
	ReadCtr   uint32           `json:"read_ctr,omitempty"`
	Exchanges int              `json:"exchanges"`
	Duration  time.Duration    `json:"-"`
	Reason    string           `json:"reason,omitempty"`
	Err       error            `json:"-"`
}

// LifeConfig is one rekey or reset run.
type LifeConfig struct {
	Journal *batch.Store
	// Master is the station's master key; each tag's keys are derived
	// with its batch's derivation at the version its binding records.
	Master keys.Master
	// Batch limits the run to one batch's tags: required for a rekey, a
	// filter for a reset.
	Batch *batch.Batch
	// ToVersion is a rekey's target key version.
	ToVersion byte
	Now       func() time.Time
	// ExchangeTimeout as in Config.
	ExchangeTimeout time.Duration
	Rand            io.Reader
}

// Life runs rekeys or resets of tags presented one at a time.
type Life struct {
	cfg  LifeConfig
	kcv  string
	tmpl *sdm.Template
	to   *keys.Deriver
}

// NewLife checks the run before any tag is presented: the batch exists,
// holds tags bound with this master key, and (rekey) the derivation puts
// the key version into the keys.
func NewLife(cfg LifeConfig, rekey bool) (*Life, error) {
	if cfg.Journal == nil {
		return nil, errors.New("rekey and reset need the journal")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l := &Life{cfg: cfg, kcv: cfg.Master.KCV()}
	if cfg.Batch == nil {
		if rekey {
			return nil, errors.New("rekey needs a batch")
		}
		return l, nil
	}
	b := cfg.Batch
	if b.Template != "" {
		t, err := sdm.ParseTemplate(b.Template)
		if err != nil {
			return nil, fmt.Errorf("batch %s: %w", b.ID, err)
		}
		l.tmpl = t
	}
	if !rekey {
		return l, nil
	}
	if cfg.ToVersion == 0 {
		return nil, fmt.Errorf("%w: key version 0 is the factory version; rekey to 1 to 255 (tagline reset returns tags to the factory)", batch.ErrInvalid)
	}
	if l.tmpl == nil {
		return nil, fmt.Errorf("%w: batch %s has no template to read its tags back with", batch.ErrInvalid, b.ID)
	}
	d, err := l.deriver(*b, cfg.ToVersion)
	if err != nil {
		return nil, err
	}
	if d.Scheme() == keys.SchemeSDMBackend {
		return nil, fmt.Errorf("%w: batch %s uses the sdm-backend derivation, whose keys do not depend on the key version: rotating them needs a new master key, not a rekey", batch.ErrInvalid, b.ID)
	}
	l.to = d
	return l, nil
}

// deriver is the keys of batch b's tags at version v.
func (l *Life) deriver(b batch.Batch, v byte) (*keys.Deriver, error) {
	kdf := b.KDF
	if kdf == "" {
		kdf = batch.DefaultKDF
	}
	scheme, err := keys.ParseScheme(kdf)
	if err != nil {
		return nil, err
	}
	return keys.NewDeriver(scheme, l.cfg.Master, v)
}

// ourBinding is the binding that proves uid ours for this run, and the
// deriver at its key version.
func (l *Life) ourBinding(u manifest.UID) (manifest.Binding, *keys.Deriver, error) {
	bd, ok, err := l.cfg.Journal.Lookup(u)
	if err != nil {
		return bd, nil, err
	}
	if !ok {
		return bd, nil, fmt.Errorf("%w: no binding for tag %s: it was not encoded by this station, and no key of it was tried", batch.ErrNotOurs, u)
	}
	if l.cfg.Batch != nil && bd.BatchID != l.cfg.Batch.ID {
		return bd, nil, fmt.Errorf("%w: tag %s is bound in batch %s, not %s", batch.ErrNotOurs, u, bd.BatchID, l.cfg.Batch.ID)
	}
	if bd.MasterKCV != l.kcv {
		return bd, nil, fmt.Errorf("%w: tag %s was bound with the master key of kcv %s, not this one (kcv %s)", batch.ErrNotOurs, u, bd.MasterKCV, l.kcv)
	}
	b, err := l.cfg.Journal.GetBatch(bd.BatchID)
	if err != nil {
		return bd, nil, err
	}
	d, err := l.deriver(b, bd.KeyVersion)
	return bd, d, err
}

// openOp returns the tag's open operation, refusing one of another kind
// or target.
func (l *Life) openOp(u manifest.UID, kind batch.OpKind, to byte) (*batch.Op, error) {
	op, ok, err := l.cfg.Journal.LookupOp(u)
	if err != nil || !ok {
		return nil, err
	}
	if op.Kind != kind || op.ToVersion != to {
		return nil, fmt.Errorf("%w: tag %s has an open %s to key version %d since %s; finish it with tagline %s first",
			batch.ErrOpOpen, u, op.Kind, op.ToVersion, op.StartedAt.Format(time.RFC3339), op.Kind)
	}
	return &op, nil
}

// Rekey moves one presented tag of the batch to ToVersion.
func (l *Life) Rekey(ctx context.Context, tag reader.Tag, readerName string) LifeResult {
	start := l.cfg.Now()
	res := LifeResult{Reader: readerName, Batch: l.cfg.Batch.ID, To: l.cfg.ToVersion}
	var op *batch.Op
	bound := func(ctx context.Context, uid []byte) (*keys.Deriver, error) {
		u := manifest.UIDOf(uid)
		res.UID = u
		bd, d, err := l.ourBinding(u)
		if err != nil {
			return nil, err
		}
		if op, err = l.openOp(u, batch.OpRekey, l.cfg.ToVersion); err != nil {
			return nil, err
		}
		if op != nil {
			return d.ForVersion(op.FromVersion)
		}
		if _, done, err := l.cfg.Journal.Reclaimed(u); err != nil || done {
			if err == nil {
				err = fmt.Errorf("%w: tag %s was reset to the factory state; encode it again instead", batch.ErrReclaimed, u)
			}
			return nil, err
		}
		if bd.KeyVersion == l.cfg.ToVersion {
			return nil, errAlready
		}
		return d, nil
	}
	job := encoder.RekeyJob{To: l.to, Template: l.tmpl, ReaderUID: tag.UID(), Bound: bound,
		Known: l.known(), EncData: l.encData(), LRP: l.cfg.Batch.LRP, RandomID: l.randomIDRun()}
	began := false
	job.BeforeWrite = func(ctx context.Context, uid []byte) error {
		o, err := l.cfg.Journal.BeginOp(batch.Op{Kind: batch.OpRekey, UID: manifest.UIDOf(uid), BatchID: l.cfg.Batch.ID, ToVersion: l.cfg.ToVersion, MasterKCV: l.kcv})
		began = err == nil
		op = &o
		return err
	}
	r, err := encoder.Rekey(ctx, tag, job, l.encOpts())
	l.fill(&res, r)
	switch {
	case errors.Is(err, errAlready):
		res.Outcome, res.From = manifest.AlreadyDone, l.cfg.ToVersion
	case err != nil:
		l.failed(&res, err, began)
	case op != nil:
		if _, err := l.cfg.Journal.CompleteRekey(res.UID, r.ReadCtr, manifest.Verified); err != nil {
			res.Outcome, res.Err, res.Reason = manifest.Failed, err, err.Error()
		} else {
			res.Outcome = manifest.Rekeyed
		}
	default:
		// Key 0 had moved and the journal holds no rekey: not our
		// doing, since our operation is recorded before any change.
		err := fmt.Errorf("%w: tag %s carries key version %d but the journal binds version %d and recorded no rekey", encoder.ErrForeignTag, res.UID, l.cfg.ToVersion, r.From)
		res.Outcome, res.Err, res.Reason = manifest.Refused, err, err.Error()
	}
	res.Duration = l.cfg.Now().Sub(start)
	return res
}

// Reset returns one presented tag to the factory state.
func (l *Life) Reset(ctx context.Context, tag reader.Tag, readerName string) LifeResult {
	start := l.cfg.Now()
	res := LifeResult{Reader: readerName}
	var op *batch.Op
	reclaimed, quarantine := false, false
	bound := func(ctx context.Context, uid []byte) (*keys.Deriver, error) {
		u := manifest.UIDOf(uid)
		res.UID = u
		bd, d, err := l.ourBinding(u)
		if err != nil {
			quarantine = errors.Is(err, batch.ErrNotOurs) && bd.UID == ""
			return nil, err
		}
		res.Batch = bd.BatchID
		if op, err = l.openOp(u, batch.OpReset, 0); err != nil {
			return nil, err
		}
		if op != nil {
			return d.ForVersion(op.FromVersion)
		}
		if _, reclaimed, err = l.cfg.Journal.Reclaimed(u); err != nil {
			return nil, err
		}
		return d, nil
	}
	job := encoder.ResetJob{ReaderUID: tag.UID(), Template: l.tmpl, Known: l.known(), Bound: bound, RandomID: l.randomIDRun()}
	began := false
	job.BeforeWrite = func(ctx context.Context, uid []byte) error {
		if reclaimed {
			return fmt.Errorf("%w: tag %s was reset before, yet holds keys of ours again; report it", batch.ErrReclaimed, manifest.UIDOf(uid))
		}
		o, err := l.cfg.Journal.BeginOp(batch.Op{Kind: batch.OpReset, UID: manifest.UIDOf(uid), BatchID: res.Batch, MasterKCV: l.kcv})
		began = err == nil
		op = &o
		return err
	}
	r, err := encoder.Reset(ctx, tag, job, l.encOpts())
	l.fill(&res, r)
	switch {
	case err != nil && quarantine:
		res.Outcome, res.Err, res.Reason = manifest.Quarantined, err, err.Error()
		if _, qerr := l.cfg.Journal.QuarantineTag(res.UID, err.Error()); qerr != nil {
			res.Outcome, res.Err, res.Reason = manifest.Failed, qerr, qerr.Error()
		}
	case err != nil:
		l.failed(&res, err, began)
	case op != nil:
		if _, err := l.cfg.Journal.CompleteReset(res.UID); err != nil {
			res.Outcome, res.Err, res.Reason = manifest.Failed, err, err.Error()
		} else {
			res.Outcome = manifest.Reclaimed
		}
	case reclaimed:
		res.Outcome = manifest.AlreadyDone
	default:
		err := fmt.Errorf("%w: tag %s is bound (batch %s) and no reset was recorded, but it is factory: a cloned uid or a tag reset elsewhere; report it", ErrBoundButFactory, res.UID, res.Batch)
		res.Outcome, res.Err, res.Reason = manifest.Refused, err, err.Error()
	}
	res.Duration = l.cfg.Now().Sub(start)
	return res
}

// failed records a failed attempt: refused when nothing was journaled, and
// otherwise the operation stays open unless no change can have reached
// the tag on its first attempt.
func (l *Life) failed(res *LifeResult, err error, began bool) {
	res.Outcome, res.Err, res.Reason = manifest.Failed, err, err.Error()
	if !began {
		if errkind.Of(err) == errkind.Tag && !errors.Is(err, reader.ErrTagRemoved) && !errors.Is(err, encoder.ErrTimeout) {
			res.Outcome = manifest.Refused
		}
		return
	}
	state := batch.KeysMayHaveChanged
	var se *encoder.StepError
	if errors.As(err, &se) && (se.Step == encoder.StepJournal || se.Step == encoder.StepAuth) {
		state = batch.KeysUntouched
	}
	if ferr := l.cfg.Journal.FailOp(res.UID, err.Error(), state); ferr != nil {
		res.Err = errors.Join(err, ferr)
	}
}

func (l *Life) fill(res *LifeResult, r encoder.LifeResult) {
	if r.UID != nil {
		res.UID = manifest.UIDOf(r.UID)
	}
	if r.From != 0 {
		res.From = r.From
	}
	res.URL, res.ReadCtr, res.Exchanges = r.URL, r.ReadCtr, r.Exchanges
	if r.VersionsRead {
		res.Slots = hex.EncodeToString(r.Versions[:])
	}
}

// known are the derivers whose SUN messages may name a random-ID tag.
func (l *Life) known() []*keys.Deriver {
	if l.cfg.Batch == nil {
		return l.randomIDKnown()
	}
	d, err := l.deriver(*l.cfg.Batch, l.cfg.Batch.KeyVersion)
	if err != nil {
		return nil
	}
	return []*keys.Deriver{d}
}

func (l *Life) encData() []byte {
	if l.tmpl != nil && l.tmpl.HasEnc() {
		return DefaultEncData(l.cfg.Batch.SKU)
	}
	return nil
}

func (l *Life) encOpts() encoder.Options {
	return encoder.Options{Rand: l.cfg.Rand, ExchangeTimeout: l.cfg.ExchangeTimeout}
}
