package encoder

import (
	"bytes"
	"context"
	"fmt"

	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/sdm"
)

// FactoryNDEFSettings are the NDEF file's settings as NXP delivers the
// tag (datasheet 8.2.3): plain, read, write and read-write free, change
// with key 0, no SDM.
var FactoryNDEFSettings = sdm.FileSettings{
	CommMode: sdm.CommModePlain,
	FileSize: sdm.NDEFFileSize,
	Access:   sdm.AccessRights{Read: sdm.AccessFree, Write: sdm.AccessFree, ReadWrite: sdm.AccessFree, Change: keys.SlotAppMaster},
}

// ResetJob returns our tags to the factory state.
type ResetJob struct {
	ReaderUID []byte
	// Template and Known let a random-ID tag be named by its SUN message.
	Template *sdm.Template
	Known    []*keys.Deriver
	// Bound proves the tag ours and names the version it holds.
	Bound Bound
	// BeforeWrite records the journal's operation before the first change.
	BeforeWrite func(ctx context.Context, uid []byte) error
	// RandomID is RekeyJob.RandomID.
	RandomID bool
}

// Reset brings one of our tags back to the factory state: keys all zero
// with version 0, SDM off, the NDEF file zeroed, its access rights as
// delivered. Order: the NDEF file (with key 3, the file's write key, as
// personalisation wrote it), its settings (key 0), keys 1 to 4, key 0
// last, then a read-back of versions, settings and content. The files go
// first because they need our keys 0 and 3; a tag whose key 0 is the
// factory's is therefore done, and a torn one is finished by running
// Reset again, with the one key 0 its version names.
func Reset(ctx context.Context, card reader.Card, job ResetJob, opts Options) (LifeResult, error) {
	f := &lifeFlow{c: New(card, opts), rid: job.RandomID}
	if err := f.start(ctx, job.ReaderUID, job.Template, job.Known, 0); err != nil {
		return f.res, err
	}
	from, old, err := f.bound(ctx, job.Bound)
	if err != nil {
		return f.res, err
	}
	if err := f.versions(ctx); err != nil {
		return f.res, err
	}
	if f.res.Versions == [keys.NumSlots]byte{} {
		f.res.AlreadyDone = true
		return f.checkFactory(ctx)
	}
	if err := f.checkSlots(from.Version(), 0); err != nil {
		return f.res, err
	}
	if job.BeforeWrite != nil {
		if err := job.BeforeWrite(ctx, f.uid); err != nil {
			return f.res, f.fail(StepJournal, err)
		}
	}
	if err := f.authenticate(ctx, old.Keys[keys.SlotAppMaster]); err != nil {
		return f.res, err
	}
	if err := f.resetFile(ctx, from.Version(), old); err != nil {
		return f.res, err
	}
	if err := f.changeKeys(ctx, from.Version(), old, keys.KeySet{}, 0); err != nil {
		return f.res, err
	}
	return f.checkFactory(ctx)
}

// resetFile zeroes the NDEF file and restores its settings, skipping what
// an earlier, torn attempt finished.
func (f *lifeFlow) resetFile(ctx context.Context, from byte, old keys.KeySet) error {
	c := f.c
	cur, err := c.GetFileSettings(ctx, 2)
	if err != nil {
		return f.fail(StepResetFiles, err)
	}
	factory := bytes.Equal(cur.ChangeData(), FactoryNDEFSettings.ChangeData())
	if !isZero(f.ndef) {
		if err := f.zeroFile(ctx, cur.Access.Write, from, old); err != nil {
			return err
		}
	}
	if factory {
		return nil
	}
	if err := c.ChangeFileSettings(ctx, 2, FactoryNDEFSettings); err != nil {
		return f.fail(StepResetFiles, err)
	}
	return nil
}

// zeroFile writes zeros over the whole NDEF file, NLEN first so that no
// reader sees a length over half-cleared content. The session switches
// to the file's write key when that is not key 0 and back after.
func (f *lifeFlow) zeroFile(ctx context.Context, write, from byte, old keys.KeySet) error {
	c := f.c
	other := write != sdm.AccessFree && write != keys.SlotAppMaster
	if other {
		if write >= keys.NumSlots || f.res.Versions[write] != from {
			return f.fail(StepResetFiles, fmt.Errorf("%w: the ndef file's write right is key %d, which holds no key of ours", ErrForeignTag, write))
		}
		if err := reauthenticate(ctx, c, write, old.Keys[write]); err != nil {
			return f.fail(StepResetFiles, err)
		}
	}
	if err := c.writeChunks(ctx, 2, 0, make([]byte, sdm.NDEFFileSize), Plain, false); err != nil {
		return f.fail(StepResetFiles, err)
	}
	if other {
		if err := reauthenticate(ctx, c, keys.SlotAppMaster, old.Keys[keys.SlotAppMaster]); err != nil {
			return f.fail(StepResetFiles, err)
		}
	}
	return nil
}

// checkFactory reads the tag back without a key: five key versions 0, the
// NDEF file's settings as delivered and its content zero.
func (f *lifeFlow) checkFactory(ctx context.Context) (LifeResult, error) {
	c := f.c
	if c.Authenticated() {
		if err := c.SelectApplication(ctx); err != nil {
			return f.res, f.fail(StepReadBack, err)
		}
	}
	for n := byte(0); n < keys.NumSlots; n++ {
		v, err := c.GetKeyVersion(ctx, n)
		if err != nil {
			return f.res, f.fail(StepReadBack, err)
		}
		if v != 0 {
			return f.res, f.fail(StepReadBack, fmt.Errorf("%w: key %d has version %d", ErrResetCheck, n, v))
		}
	}
	cur, err := c.GetFileSettings(ctx, 2)
	if err != nil {
		return f.res, f.fail(StepReadBack, err)
	}
	if !bytes.Equal(cur.ChangeData(), FactoryNDEFSettings.ChangeData()) {
		what := "its settings are not as delivered"
		if f.res.AlreadyDone {
			return f.res, f.fail(StepReadBack, fmt.Errorf("%w: its keys are factory but %s; a reset leaves no such tag", ErrForeignTag, what))
		}
		return f.res, f.fail(StepReadBack, fmt.Errorf("%w: %s", ErrResetCheck, what))
	}
	content, err := c.ReadData(ctx, 2, 0, 0, Plain)
	if err != nil {
		return f.res, f.fail(StepReadBack, err)
	}
	if !isZero(content) {
		if f.res.AlreadyDone {
			return f.res, f.fail(StepReadBack, fmt.Errorf("%w: its keys are factory but its ndef file is not empty; a reset leaves no such tag", ErrForeignTag))
		}
		return f.res, f.fail(StepReadBack, fmt.Errorf("%w: the ndef file is not empty", ErrResetCheck))
	}
	return f.done(), nil
}

func isZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}
