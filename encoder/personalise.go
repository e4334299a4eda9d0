package encoder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tagline-station/tagline/apdu"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/sdm"
)

// Errors the station branches on.
var (
	// ErrForeignTag: the tag's keys are neither factory nor ours.
	ErrForeignTag = errors.New("tag belongs to another system")
	// ErrWrongKey: key 0 carries our key version but our key for this UID
	// does not open it (wrong master key, derivation or key version).
	ErrWrongKey = errors.New("tag has our key version but not our key")
	// ErrAlreadyOurs: the tag is fully personalised with our keys.
	ErrAlreadyOurs = errors.New("tag is already personalised with our keys")
	// ErrReadBack: the SUN message read back does not verify.
	ErrReadBack = errors.New("read-back sun message does not verify")
	// ErrJob: the job itself is unusable.
	ErrJob = errors.New("bad encoding job")
)

// Step names where the flow stood, for errors and the operator screen.
type Step string

const (
	StepSelect     Step = "select application"
	StepInspect    Step = "read existing ndef"
	StepKeyVersion Step = "read key versions"
	StepAuth       Step = "authenticate"
	StepUID        Step = "read uid"
	StepJournal    Step = "journal intent"
	StepWriteNDEF  Step = "write ndef"
	StepSettings   Step = "change file settings"
	StepChangeKeys Step = "change keys"
	StepChangeKey0 Step = "change key 0"
	StepReadBack   Step = "read back"
)

// StepError says at which step the flow stopped; Unwrap gives the cause,
// so errors.Is(err, reader.ErrTagRemoved) and friends work.
type StepError struct {
	Step Step
	Err  error
}

func (e *StepError) Error() string {
	msg := e.Err.Error()
	// Commands already name themselves ("change key 0: ..."); say the
	// step only when it adds something.
	if strings.HasPrefix(msg, string(e.Step)) {
		return msg
	}
	return string(e.Step) + ": " + msg
}
func (e *StepError) Unwrap() error { return e.Err }

// Found is what the flow found on the tag before changing anything.
type Found string

const (
	FoundFactory Found = "factory" // factory keys, nothing of ours on it
	FoundPartial Found = "partial" // started by us and torn; finished now
	FoundOurs    Found = "ours"    // complete with our keys
)

// Job is what to write on each tag of a batch.
type Job struct {
	Deriver  *keys.Deriver
	Template *sdm.Template
	// EncData is the plaintext that {enc} mirrors encrypted (16 bytes).
	EncData []byte
	// ReaderUID is the anticollision UID the reader reported, if any. When
	// absent (or not 7 bytes: a random-ID tag) the flow asks the tag.
	ReaderUID []byte
	// BeforeWrite runs once the UID is known and before the first write to
	// the tag; the journal makes its intent durable here. An error stops
	// the flow with the tag untouched.
	BeforeWrite func(ctx context.Context, uid []byte, found Found) error
	// Reencode rewrites the NDEF file and settings of a tag that already
	// holds our keys instead of reporting ErrAlreadyOurs. Keys are kept.
	Reencode bool
}

// Result reports one tag.
type Result struct {
	UID        []byte
	Found      Found
	URL        string // the SUN URL read back as a phone would
	ReadCtr    uint32
	KeyVersion byte
	Exchanges  int
}

func (j Job) check() error {
	switch {
	case j.Deriver == nil || j.Template == nil:
		return fmt.Errorf("%w: no keys or template", ErrJob)
	case j.Deriver.Version() == 0:
		return fmt.Errorf("%w: key version 0 is the factory version; use 1 to 255 so a personalised tag can be told apart", ErrJob)
	case j.Template.HasEnc() && len(j.EncData) != sdm.EncDataLen:
		return fmt.Errorf("%w: the template mirrors {enc}: give %d bytes of file data", ErrJob, sdm.EncDataLen)
	}
	return nil
}

// Personalise brings one tag from factory (or from a torn earlier attempt)
// to personalised, and proves it by reading the tag back as a phone would.
//
// Order: select, read the NDEF file (an existing SUN message that verifies
// tells us the UID and that keys 1 and 2 are ours), pick key 0's candidate
// from its version, authenticate once, journal hook, NDEF, file settings,
// keys 1 to 4, key 0 last, read back. Because key 0 changes last, a tag
// whose key 0 is ours is complete, and one whose key 0 is factory can be
// finished by running the same function again.
func Personalise(ctx context.Context, card reader.Card, job Job, opts Options) (Result, error) {
	res := Result{KeyVersion: job.Deriver.Version()}
	if err := job.check(); err != nil {
		return res, err
	}
	c := New(card, opts)
	fail := func(step Step, err error) (Result, error) {
		res.Exchanges = c.count
		return res, &StepError{Step: step, Err: err}
	}
	expected, err := job.Template.NDEF(job.EncData)
	if err != nil {
		return res, err
	}
	version := job.Deriver.Version()

	if err := c.SelectApplication(ctx); err != nil {
		return fail(StepSelect, err)
	}
	content, err := c.ReadData(ctx, 2, 0, len(expected), Plain)
	if err != nil {
		return fail(StepInspect, err)
	}
	fresh := isEmptyNDEF(content)
	var uid []byte
	sunOK := false
	if !fresh {
		if url, err := sdm.URLFromNDEF(content); err == nil {
			if v, err := job.Template.Verify(url, job.Deriver); err == nil {
				uid, sunOK = v.UID, true
				res.URL, res.ReadCtr = url, uint32(v.Ctr)
			}
		}
	}
	if uid == nil && len(job.ReaderUID) == 7 {
		uid = bytes.Clone(job.ReaderUID)
	}

	// Which key 0 does the tag hold? A factory tag with an empty NDEF file
	// is taken as factory without asking; anything else is asked.
	k0Version := byte(0)
	if !fresh {
		if k0Version, err = c.GetKeyVersion(ctx, 0); err != nil {
			return fail(StepKeyVersion, err)
		}
	}
	var k0 keys.Key
	var tagKeys keys.KeySet
	ours := false
	switch k0Version {
	case 0x00:
		k0 = keys.FactoryKey
	case version:
		if uid == nil {
			return fail(StepKeyVersion, fmt.Errorf("%w: key 0 has our version %d but the tag's sun message does not verify with our keys", ErrWrongKey, version))
		}
		if tagKeys, err = job.Deriver.Tag(uid); err != nil {
			return fail(StepKeyVersion, err)
		}
		k0, ours = tagKeys.Keys[keys.SlotAppMaster], true
	default:
		return fail(StepKeyVersion, fmt.Errorf("%w: key 0 has version %d, this batch writes version %d", ErrForeignTag, k0Version, version))
	}
	if err := c.AuthenticateEV2First(ctx, 0, k0); err != nil {
		if errors.Is(err, apdu.ErrAuthFailed) {
			if ours {
				err = fmt.Errorf("%w (%v)", ErrWrongKey, err)
			} else {
				err = fmt.Errorf("%w: its key 0 is not the factory key (%v)", ErrForeignTag, err)
			}
		}
		return fail(StepAuth, err)
	}
	if uid == nil {
		if uid, err = c.GetCardUID(ctx); err != nil {
			return fail(StepUID, err)
		}
	}
	res.UID = uid
	if tagKeys.Keys[0].IsZero() {
		if tagKeys, err = job.Deriver.Tag(uid); err != nil {
			return fail(StepUID, err)
		}
	}

	if ours && sunOK && !job.Reencode {
		res.Found = FoundOurs
		res.Exchanges = c.count
		return res, ErrAlreadyOurs
	}
	res.Found = FoundFactory
	if !fresh {
		res.Found = FoundPartial
	}
	if ours {
		res.Found = FoundOurs
	}
	if job.BeforeWrite != nil {
		if err := job.BeforeWrite(ctx, uid, res.Found); err != nil {
			return fail(StepJournal, err)
		}
	}

	want := job.Template.Settings(keys.SlotSDMMeta, keys.SlotSDMFile)
	// After personalisation anyone may read (a phone must), writing needs
	// the NDEF-write key, and only key 0 may change the settings again:
	// nothing is made permanent (no right set to F).
	want.Access = sdm.AccessRights{Read: sdm.AccessFree, Write: keys.SlotNDEFWrite, ReadWrite: keys.SlotNDEFWrite, Change: keys.SlotAppMaster}
	writeNDEF := true
	if !fresh {
		cur, err := c.GetFileSettings(ctx, 2)
		if err != nil {
			return fail(StepSettings, err)
		}
		// Settings are applied after the NDEF write: if they are ours,
		// the NDEF file is too, and its Write right now needs key 3.
		writeNDEF = !bytes.Equal(cur.ChangeData(), want.ChangeData()) || job.Reencode
	}
	if writeNDEF {
		if err := writeTemplate(ctx, c, expected, ours, tagKeys); err != nil {
			return fail(StepWriteNDEF, err)
		}
	}
	if err := c.ChangeFileSettings(ctx, 2, want); err != nil {
		return fail(StepSettings, err)
	}

	for n := byte(1); n < keys.NumSlots; n++ {
		old := keys.FactoryKey
		if !fresh {
			v, err := c.GetKeyVersion(ctx, n)
			if err != nil {
				return fail(StepChangeKeys, err)
			}
			switch v {
			case version:
				continue
			case 0x00:
			default:
				return fail(StepChangeKeys, fmt.Errorf("%w: key %d has version %d", ErrForeignTag, n, v))
			}
		}
		if err := c.ChangeKey(ctx, n, old, tagKeys.Keys[n], version); err != nil {
			return fail(StepChangeKeys, err)
		}
	}
	if !ours {
		if err := c.ChangeKey(ctx, 0, keys.FactoryKey, tagKeys.Keys[0], version); err != nil {
			return fail(StepChangeKey0, err)
		}
	}

	url, ctr, err := ReadBack(ctx, c, job)
	if err != nil {
		return fail(StepReadBack, err)
	}
	if !bytes.Equal(url.UID, uid) {
		return fail(StepReadBack, fmt.Errorf("%w: it names uid %X, the tag is %X", ErrReadBack, url.UID, uid))
	}
	res.URL, res.ReadCtr = url.URL, ctr
	res.Exchanges = c.count
	return res, nil
}

// writeTemplate writes the NDEF file. On a tag that holds our keys the
// file's Write right is the NDEF-write key, so the session switches to that
// key for the write and back to key 0 for the settings (NonFirst keeps the
// transaction and its counter).
func writeTemplate(ctx context.Context, c *Conn, ndef []byte, ours bool, ks keys.KeySet) error {
	if ours {
		if err := c.AuthenticateEV2NonFirst(ctx, keys.SlotNDEFWrite, ks.Keys[keys.SlotNDEFWrite]); err != nil {
			return err
		}
	}
	if err := c.writeChunks(ctx, 2, 0, ndef, Plain, true); err != nil {
		if errors.Is(err, apdu.ErrPermission) {
			err = fmt.Errorf("%w: the ndef file is write-protected by a key this flow does not hold", err)
		}
		return err
	}
	if ours {
		return c.AuthenticateEV2NonFirst(ctx, keys.SlotAppMaster, ks.Keys[keys.SlotAppMaster])
	}
	return nil
}

// ReadBackResult is a verified read of the NDEF file.
type ReadBackResult struct {
	URL string
	UID []byte
}

// ReadBack reads the NDEF file as a phone does (ISO select of the file,
// ISOReadBinary without authentication, which makes the tag mirror a fresh
// SUN message) and verifies the message.
func ReadBack(ctx context.Context, c *Conn, job Job) (ReadBackResult, uint32, error) {
	expected, err := job.Template.NDEF(job.EncData)
	if err != nil {
		return ReadBackResult{}, 0, err
	}
	if c.Authenticated() {
		// The tag refuses ISO reads within a session (datasheet table
		// 89); selecting the application ends it.
		if err := c.SelectApplication(ctx); err != nil {
			return ReadBackResult{}, 0, err
		}
	}
	if err := c.SelectFile(ctx, apdu.FIDNDEF); err != nil {
		return ReadBackResult{}, 0, err
	}
	content, err := c.ReadBinary(ctx, 0, len(expected))
	if err != nil {
		return ReadBackResult{}, 0, err
	}
	url, err := sdm.URLFromNDEF(content)
	if err != nil {
		return ReadBackResult{}, 0, fmt.Errorf("%w: %v", ErrReadBack, err)
	}
	v, err := job.Template.Verify(url, job.Deriver)
	if err != nil {
		return ReadBackResult{}, 0, fmt.Errorf("%w: %v", ErrReadBack, err)
	}
	return ReadBackResult{URL: url, UID: v.UID}, uint32(v.Ctr), nil
}

// isEmptyNDEF reports a factory NDEF file: NLEN zero.
func isEmptyNDEF(b []byte) bool { return len(b) < 2 || (b[0] == 0 && b[1] == 0) }
