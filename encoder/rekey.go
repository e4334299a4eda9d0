package encoder

import (
	"bytes"
	"context"
	"fmt"

	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/sdm"
)

// RekeyJob moves the tags of a batch to another key version of the same
// master key.
type RekeyJob struct {
	// To derives the keys of the target version.
	To       *keys.Deriver
	Template *sdm.Template
	// EncData is the {enc} plaintext, as for Job.
	EncData   []byte
	ReaderUID []byte
	// LRP says the batch's tags are in LRP mode: their NDEF file has
	// Template's LRP layout, which the read-back expects.
	LRP bool
	// RandomID: the run's tags may have random ID on, so one that says so
	// and that no SUN message of Known names is named through its key 1
	// (life_randomid.go).
	RandomID bool
	// Known are derivers whose SUN messages may name a tag whose reader
	// UID is not its own (random ID); To is tried as well.
	Known []*keys.Deriver
	// Bound proves the tag ours and names the version it holds.
	Bound Bound
	// BeforeWrite records the journal's operation; it runs after the
	// tag was found ours and before the first change. An error stops the
	// flow with the tag untouched.
	BeforeWrite func(ctx context.Context, uid []byte) error
}

// Rekey moves one tag's keys from the version its binding records to
// job.To's: select, read the NDEF file, learn the UID, ask the journal,
// read the five key versions, then, unless key 0 already moved (the tag
// is done), journal hook, one authentication with key 0 of the old
// version, keys 1 to 4 that still hold it, key 0 last, and read back as
// a phone does with the new keys.
func Rekey(ctx context.Context, card reader.Card, job RekeyJob, opts Options) (LifeResult, error) {
	f := &lifeFlow{c: New(card, opts), rid: job.RandomID}
	if job.To == nil || job.Template == nil || job.To.Version() == 0 {
		return f.res, fmt.Errorf("%w: a rekey needs the new keys (version 1 to 255) and the template", ErrJob)
	}
	to := job.To.Version()
	f.res.To = to
	pj := Job{Deriver: job.To, Template: job.Template, EncData: job.EncData, LRP: job.LRP}
	expected, err := job.Template.NDEF(job.EncData)
	if err != nil {
		return f.res, err
	}
	if err := f.start(ctx, job.ReaderUID, job.Template, append([]*keys.Deriver{job.To}, job.Known...), len(expected)); err != nil {
		return f.res, err
	}
	from, old, err := f.bound(ctx, job.Bound)
	if err != nil {
		return f.res, err
	}
	if from.Version() == to {
		return f.res, f.fail(StepBound, fmt.Errorf("%w: the journal binds it with key version %d already", ErrJob, to))
	}
	if err := f.versions(ctx); err != nil {
		return f.res, err
	}
	if f.res.Versions[0] == to {
		// Key 0 moves last: the tag is done, only the journal may lag.
		return f.readBack(ctx, pj)
	}
	if err := f.checkSlots(from.Version(), to); err != nil {
		return f.res, err
	}
	nw, err := job.To.Tag(f.uid)
	if err != nil {
		return f.res, f.fail(StepBound, err)
	}
	if job.BeforeWrite != nil {
		if err := job.BeforeWrite(ctx, f.uid); err != nil {
			return f.res, f.fail(StepJournal, err)
		}
	}
	if err := f.authenticate(ctx, old.Keys[keys.SlotAppMaster]); err != nil {
		return f.res, err
	}
	if err := f.changeKeys(ctx, from.Version(), old, nw, to); err != nil {
		return f.res, err
	}
	return f.readBack(ctx, pj)
}

// readBack proves the new keys as a phone would: the SUN message verifies
// with them and names the tag.
func (f *lifeFlow) readBack(ctx context.Context, pj Job) (LifeResult, error) {
	if len(f.res.Moved) == 0 {
		f.res.AlreadyDone = true
		for n := 1; n < keys.NumSlots; n++ {
			if f.res.Versions[n] != f.res.To {
				return f.res, f.fail(StepKeyVersion, fmt.Errorf("%w: key 0 has version %d but key %d has %d; rekey changes key 0 last", ErrForeignTag, f.res.To, n, f.res.Versions[n]))
			}
		}
	}
	url, ctr, err := ReadBack(ctx, f.c, pj)
	if err != nil {
		return f.res, f.fail(StepReadBack, err)
	}
	if !bytes.Equal(url.UID, f.uid) {
		return f.res, f.fail(StepReadBack, fmt.Errorf("%w: it was %X, the sun message read back names %X", ErrUIDChanged, f.uid, url.UID))
	}
	f.res.URL, f.res.ReadCtr = url.URL, ctr
	return f.done(), nil
}
