package encoder

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"strings"

	"github.com/tagline-station/tagline/apdu"
	"github.com/tagline-station/tagline/internal/errkind"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/sdm"
)

// Errors the station branches on.
var (
	// ErrForeignTag: the tag's keys are neither factory nor ours.
	ErrForeignTag = errkind.New(errkind.Tag, "tag belongs to another system")
	// ErrWrongKey: the tag carries our key version and a URL of our
	// template, but our keys do not open it (another master key or
	// derivation with the same key version).
	ErrWrongKey = errkind.New(errkind.Tag, "tag has our key version but not our key")
	// ErrOtherVersion: the tag's SUN message verifies with our master key
	// at another key version: our own tag, from a batch of that version.
	ErrOtherVersion = errkind.New(errkind.Tag, "tag carries our keys of another key version")
	// ErrHalfKeyed: some keys carry our key version, key 0 is still the
	// factory's, and the journal holds no intent for the tag: it was torn
	// at another station, whose master key may differ; finishing it here
	// would mix two stations' keys.
	ErrHalfKeyed = errkind.New(errkind.Tag, "tag was half-keyed by another station")
	// ErrNotNTAG424: the card has no NDEF application of an NTAG 424 DNA.
	ErrNotNTAG424 = errkind.New(errkind.Tag, "card is not an NTAG 424 DNA")
	// ErrUIDChanged: the tag named two UIDs during one flow.
	ErrUIDChanged = errkind.New(errkind.Tag, "tag's uid changed during encoding")
	// ErrAlreadyOurs: the tag is fully personalised with our keys.
	ErrAlreadyOurs = errkind.New(errkind.Tag, "tag is already personalised with our keys")
	// ErrReadBack: the SUN message read back does not verify.
	ErrReadBack = errkind.New(errkind.Verification, "read-back sun message does not verify")
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

// Known is what the journal knows of a UID.
type Known struct {
	Intent bool // an open intent: this journal started the tag
	Bound  bool // a binding: this journal finished the tag
}

// Job is what to write on each tag of a batch.
type Job struct {
	Deriver  *keys.Deriver
	Template *sdm.Template
	// EncData is the plaintext that {enc} mirrors encrypted (16 bytes).
	EncData []byte
	// ReaderUID is the anticollision UID the reader reported, if any. When
	// absent (or not 7 bytes: a random-ID tag) the flow asks the tag.
	ReaderUID []byte
	// Journal tells what the journal knows of a UID. The flow asks it,
	// before authenticating where the UID is known by then, about any
	// tag that carries our key version without a SUN message proving it
	// ours: without an intent or a binding such a tag is not ours and is
	// refused untouched. Nil (tools without a journal) takes such a tag
	// as ours to finish.
	Journal func(ctx context.Context, uid []byte) (Known, error)
	// BeforeWrite runs once the UID is known and before the first write to
	// the tag; the journal makes its intent durable here. An error stops
	// the flow with the tag untouched.
	BeforeWrite func(ctx context.Context, uid []byte, found Found) error
	// Reencode rewrites the NDEF file and settings of a tag that already
	// holds our keys instead of reporting ErrAlreadyOurs. Keys are kept.
	Reencode bool
	// LRP switches each tag to LRP mode for good once it is complete
	// (personalise_lrp.go); Template's LRP layout is written.
	LRP bool
	// Genuine are the keys a tag's originality signature may verify with
	// (origin.go): NXP's, plus the simulator's test key for simulated
	// tags. Checked before any key is tried; nil skips the check.
	Genuine []*ecdsa.PublicKey
	// RandomID turns on random ID (UID privacy) as the tag's last change
	// before the switch to LRP and the read-back (randomid.go); for good.
	RandomID bool
}

// Result reports one tag. UID is set as soon as the flow knows it, also
// when it fails, so that the caller can look the tag up.
type Result struct {
	UID        []byte
	Found      Found
	URL        string // the SUN URL read back as a phone would
	ReadCtr    uint32
	KeyVersion byte
	// TagKeyVersion is key 0's version as read from the tag (0: factory).
	TagKeyVersion byte
	Exchanges     int
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

// inspection is what the flow learnt from the NDEF file.
type inspection struct {
	fresh    bool   // NLEN 0: nothing was ever written
	url      string // the URL in the file, if it holds one
	sunOK    bool   // the URL is a SUN message that verifies with our keys
	ourShape bool   // the URL has our template's shape (verified or not)
	sunUID   []byte // the UID the verified SUN message names
	ctr      uint32
	// unswitched: an LRP job's tag, personalised but still in AES mode
	// (personalise_lrp.go); its SUN message verified all the same.
	unswitched bool
}

func inspect(content []byte, job Job) inspection {
	in := inspection{fresh: isEmptyNDEF(content)}
	if in.fresh {
		return in
	}
	url, err := sdm.URLFromNDEF(content)
	if err != nil {
		return in
	}
	in.url = url
	v, err := job.Template.Verify(url, job.Deriver)
	switch {
	case err == nil:
		in.sunOK, in.ourShape, in.sunUID, in.ctr = true, true, v.UID, uint32(v.Ctr)
	case !errors.Is(err, sdm.ErrURLMismatch) && !errors.Is(err, sdm.ErrURLField):
		in.ourShape = true
	}
	if !in.sunOK && job.LRP {
		inspectUnswitched(&in, url, job)
	}
	return in
}

// Personalise brings one tag from factory (or from a torn earlier attempt)
// to personalised, and proves it by reading the tag back as a phone would.
//
// Order: select, read the NDEF file (an existing SUN message that verifies
// tells us the UID and that keys 1 and 2 are ours), read key versions and
// decide, before any authentication, whether the tag is ours to touch,
// authenticate once with the one candidate key 0, journal hook, NDEF, file
// settings, keys 1 to 4, key 0 last, the switch to LRP mode for an LRP
// job (personalise_lrp.go), read back. Because key 0 changes
// last, a tag whose key 0 is ours is complete, and one whose key 0 is
// factory can be finished by running the same function again.
func Personalise(ctx context.Context, card reader.Card, job Job, opts Options) (Result, error) {
	res := Result{KeyVersion: job.Deriver.Version()}
	if err := job.check(); err != nil {
		return res, err
	}
	job, err := lrpJob(job)
	if err != nil {
		return res, err
	}
	p := &personalisation{c: New(card, opts), job: job, res: res, version: job.Deriver.Version()}
	if p.expected, err = job.Template.NDEF(job.EncData); err != nil {
		return p.res, err
	}
	// Each step runs only if the one before succeeded, so the exchanges
	// go to the tag in the order the comment above gives.
	for _, step := range []func(context.Context) error{p.selectAndInspect, p.readSignature, p.readKeyVersions, p.authenticate, p.checkGenuine} {
		if err := step(ctx); err != nil {
			return p.res, err
		}
	}
	if p.d.ours && p.in.sunOK && !p.in.unswitched && !p.randomIDPending() && !job.Reencode {
		p.res.Found = FoundOurs
		p.res.Exchanges = p.c.count
		return p.res, ErrAlreadyOurs
	}
	for _, step := range []func(context.Context) error{p.askJournal, p.writeFile, p.changeKeys, p.enableRandomID, p.switchLRP, p.readBack} {
		if err := step(ctx); err != nil {
			return p.res, err
		}
	}
	p.res.Exchanges = p.c.count
	return p.res, nil
}

// personalisation is what the steps of Personalise learn about one tag
// and hand to the steps after them.
type personalisation struct {
	c        *Conn
	job      Job
	res      Result
	version  byte
	expected []byte // the NDEF file as it must end up
	in       inspection
	uid      []byte
	vers     [keys.NumSlots]byte
	known    bool // vers holds every slot, not just key 0
	d        decision
	tagKeys  keys.KeySet
	lrp      bool   // the tag is in LRP mode (personalise_lrp.go)
	sig      []byte // the originality signature (origin.go)
	genuine  bool   // sig verified over uid
}

// fail records the exchanges so far and names the step that failed.
func (p *personalisation) fail(step Step, err error) error {
	p.res.Exchanges = p.c.count
	return &StepError{Step: step, Err: err}
}

// selectAndInspect selects the application and reads the NDEF file, which
// may name the UID before any authentication.
func (p *personalisation) selectAndInspect(ctx context.Context) error {
	c, job := p.c, p.job
	if err := c.SelectApplication(ctx); err != nil {
		var sw apdu.StatusWord
		if errors.As(err, &sw) {
			err = fmt.Errorf("%w: it has no ndef application of one (%w)", ErrNotNTAG424, err)
		}
		return p.fail(StepSelect, err)
	}
	content, err := c.ReadData(ctx, 2, 0, len(p.expected), Plain)
	if err == nil {
		content, err = readLRPLayout(ctx, c, job, content)
	}
	if err != nil {
		if errors.Is(err, apdu.ErrPermission) || errors.Is(err, apdu.ErrAuthFailed) {
			// We leave the NDEF file free to read; a tag that locks it
			// was set up by someone else.
			err = fmt.Errorf("%w: its ndef file cannot be read without a key (%w)", ErrForeignTag, err)
		}
		return p.fail(StepInspect, err)
	}
	p.in = inspect(content, job)
	p.uid = p.in.sunUID
	if len(job.ReaderUID) == 7 {
		if p.uid != nil && !bytes.Equal(p.uid, job.ReaderUID) {
			return p.fail(StepInspect, fmt.Errorf("%w: the reader saw %X, the tag's sun message names %X", ErrUIDChanged, job.ReaderUID, p.uid))
		}
		p.uid = bytes.Clone(job.ReaderUID)
	}
	p.res.UID = p.uid
	if p.in.sunOK {
		p.res.URL, p.res.ReadCtr = p.in.url, p.in.ctr
	}
	return nil
}

// readKeyVersions reads the key versions and decides which key 0 to try.
// Key versions are not secret and cost no authentication attempt: they
// decide whether the tag is ours to touch before any key is tried.
func (p *personalisation) readKeyVersions(ctx context.Context) error {
	var err error
	if p.vers[0], err = p.c.GetKeyVersion(ctx, 0); err != nil {
		return p.fail(StepKeyVersion, err)
	}
	p.res.TagKeyVersion = p.vers[0]
	if !p.in.fresh && p.vers[0] == 0 {
		for n := byte(1); n < keys.NumSlots; n++ {
			if p.vers[n], err = p.c.GetKeyVersion(ctx, n); err != nil {
				return p.fail(StepKeyVersion, err)
			}
		}
		p.known = true
	}
	if p.d, err = decide(ctx, p.job, p.in, p.uid, p.vers, p.known); err != nil {
		var v *otherVersion
		if errors.As(err, &v) && p.res.UID == nil {
			p.res.UID = v.uid
		}
		return p.fail(StepKeyVersion, err)
	}
	return nil
}

// authenticate authenticates once with the one candidate key 0, then
// learns the UID from the tag if the NDEF file did not name it, and
// derives the tag's keys.
func (p *personalisation) authenticate(ctx context.Context) error {
	var err error
	k0 := keys.FactoryKey
	if p.d.ours {
		if p.tagKeys, err = p.job.Deriver.Tag(p.uid); err != nil {
			return p.fail(StepKeyVersion, err)
		}
		k0 = p.tagKeys.Keys[keys.SlotAppMaster]
	}
	if err := p.c.AuthenticateFirst(ctx, 0, k0); err != nil {
		if errors.Is(err, apdu.ErrAuthFailed) {
			if p.d.ours {
				err = fmt.Errorf("%w (%w)", ErrWrongKey, err)
			} else {
				err = fmt.Errorf("%w: key 0 has the factory version but not the factory key (%w)", ErrForeignTag, err)
			}
		}
		return p.fail(StepAuth, err)
	}
	if err := p.checkMode(); err != nil {
		return err
	}
	if p.uid == nil {
		if p.uid, err = p.c.GetCardUID(ctx); err != nil {
			return p.fail(StepUID, err)
		}
		p.res.UID = p.uid
		if p.d.askJournal {
			// The UID became known only now; nothing was written yet.
			if err := checkHalfKeyed(ctx, p.job, p.uid, p.vers); err != nil {
				return p.fail(StepKeyVersion, err)
			}
		}
	}
	if p.tagKeys.Keys[0].IsZero() {
		if p.tagKeys, err = p.job.Deriver.Tag(p.uid); err != nil {
			return p.fail(StepUID, err)
		}
	}
	return nil
}

// askJournal says what was found, and lets the journal record its intent
// before the first write.
func (p *personalisation) askJournal(ctx context.Context) error {
	p.res.Found = FoundFactory
	if !p.in.fresh {
		p.res.Found = FoundPartial
	}
	if p.d.ours {
		p.res.Found = FoundOurs
	}
	if p.job.BeforeWrite != nil {
		if err := p.job.BeforeWrite(ctx, p.uid, p.res.Found); err != nil {
			return p.fail(StepJournal, err)
		}
	}
	return nil
}

// writeFile writes the NDEF file when it is not already ours, then its
// settings.
func (p *personalisation) writeFile(ctx context.Context) error {
	c := p.c
	want := p.job.Template.Settings(keys.SlotSDMMeta, keys.SlotSDMFile)
	// After personalisation anyone may read (a phone must), writing needs
	// the NDEF-write key, and only key 0 may change the settings again:
	// nothing is made permanent (no right set to F).
	want.Access = sdm.AccessRights{Read: sdm.AccessFree, Write: keys.SlotNDEFWrite, ReadWrite: keys.SlotNDEFWrite, Change: keys.SlotAppMaster}
	writeNDEF := true
	if !p.in.fresh {
		cur, err := c.GetFileSettings(ctx, 2)
		if err != nil {
			return p.fail(StepSettings, err)
		}
		// Settings are applied after the NDEF write: if they are ours,
		// the NDEF file is too, and its Write right now needs key 3.
		writeNDEF = !bytes.Equal(cur.ChangeData(), want.ChangeData()) || p.job.Reencode
	}
	if writeNDEF {
		if err := writeTemplate(ctx, c, p.expected, p.d.ours, p.tagKeys); err != nil {
			return p.fail(StepWriteNDEF, err)
		}
	}
	if err := c.ChangeFileSettings(ctx, 2, want); err != nil {
		if p.job.Template.HasTT() && errors.Is(err, apdu.SWParameterError) {
			err = fmt.Errorf("%w (%w)", ErrNoTagTamper, err)
		}
		return p.fail(StepSettings, err)
	}
	return nil
}

// changeKeys changes keys 1 to 4, skipping those already ours, and key 0
// last: a tag whose key 0 is ours is then complete.
func (p *personalisation) changeKeys(ctx context.Context) error {
	c, version := p.c, p.version
	for n := byte(1); n < keys.NumSlots; n++ {
		if !p.in.fresh {
			v := p.vers[n]
			if !p.known {
				var err error
				if v, err = c.GetKeyVersion(ctx, n); err != nil {
					return p.fail(StepChangeKeys, err)
				}
			}
			switch v {
			case version:
				continue
			case 0x00:
			default:
				return p.fail(StepChangeKeys, fmt.Errorf("%w: key %d has version %d", ErrForeignTag, n, v))
			}
		}
		if err := c.ChangeKey(ctx, n, keys.FactoryKey, p.tagKeys.Keys[n], version); err != nil {
			return p.fail(StepChangeKeys, err)
		}
	}
	if !p.d.ours {
		if err := c.ChangeKey(ctx, 0, keys.FactoryKey, p.tagKeys.Keys[0], version); err != nil {
			return p.fail(StepChangeKey0, err)
		}
	}
	return nil
}

// readBack reads the tag as a phone would, and checks that the SUN message
// names the tag that was personalised.
func (p *personalisation) readBack(ctx context.Context) error {
	url, ctr, err := ReadBack(ctx, p.c, p.job)
	if err != nil {
		var ch *uidChange
		if errors.As(err, &ch) && !bytes.Equal(ch.uid, p.uid) {
			err = fmt.Errorf("%w: it was %X, the sun message read back names %X", ErrUIDChanged, p.uid, ch.uid)
		}
		return p.fail(StepReadBack, err)
	}
	if !bytes.Equal(url.UID, p.uid) {
		return p.fail(StepReadBack, fmt.Errorf("%w: it was %X, the sun message read back names %X", ErrUIDChanged, p.uid, url.UID))
	}
	p.res.URL, p.res.ReadCtr = url.URL, ctr
	return nil
}

// decision is which key 0 the flow will try.
type decision struct {
	ours bool // our key 0 (else the factory key)
	// askJournal: keys carry our version but the UID is not known before
	// authenticating; the journal is asked once GetCardUID has told it.
	askJournal bool
}

// otherVersion carries the UID of our own tag of another key version.
type otherVersion struct {
	uid []byte
	err error
}

func (e *otherVersion) Error() string { return e.err.Error() }
func (e *otherVersion) Unwrap() error { return e.err }

// decide classifies the tag from what costs no authentication: the NDEF
// file, the key versions (vers[1:] only when known) and the journal. It
// refuses every tag it cannot prove is ours to touch, so that no
// authentication is spent on another station's or system's tag.
func decide(ctx context.Context, job Job, in inspection, uid []byte, vers [keys.NumSlots]byte, known bool) (decision, error) {
	version := job.Deriver.Version()
	switch vers[0] {
	case 0x00:
		if !known {
			// Empty NDEF file: tagline writes it before any key, so a
			// tag of ours has no key changed yet.
			return decision{}, nil
		}
		for n := 1; n < keys.NumSlots; n++ {
			if v := vers[n]; v != 0 && v != version {
				return decision{}, fmt.Errorf("%w: key %d has version %d and key 0 the factory version; this batch writes version %d", ErrForeignTag, n, v, version)
			}
		}
		if !hasVersion(vers, version) {
			return decision{}, nil
		}
		if uid == nil {
			return decision{askJournal: job.Journal != nil}, nil
		}
		return decision{}, checkHalfKeyed(ctx, job, uid, vers)
	case version:
		return decideOurVersion(ctx, job, in, uid)
	}
	// Another version: our own tag of an earlier batch if its SUN message
	// verifies with our master key at that version.
	if in.url != "" {
		if od, err := job.Deriver.ForVersion(vers[0]); err == nil {
			if v, err := job.Template.Verify(in.url, od); err == nil {
				return decision{}, &otherVersion{uid: v.UID, err: fmt.Errorf("%w: key version %d (tag %X); this batch writes version %d", ErrOtherVersion, vers[0], v.UID, version)}
			}
		}
	}
	return decision{}, fmt.Errorf("%w: key 0 has version %d, this batch writes version %d", ErrForeignTag, vers[0], version)
}

// decideOurVersion handles key 0 with our version: a verified SUN message
// or the journal must vouch for the tag before our key is tried on it.
func decideOurVersion(ctx context.Context, job Job, in inspection, uid []byte) (decision, error) {
	version := job.Deriver.Version()
	if in.sunOK {
		return decision{ours: true}, nil
	}
	if uid != nil && job.Journal != nil {
		// Our intent or binding vouches for the tag even when its NDEF
		// file does not: a re-encode torn in the middle of the write.
		k, err := job.Journal(ctx, uid)
		if err != nil {
			return decision{}, err
		}
		// A bound tag of our template that does not verify was not
		// bound with these keys: trying them would only spend an
		// attempt.
		if k.Intent || k.Bound && !in.ourShape {
			return decision{ours: true}, nil
		}
	}
	switch {
	case in.ourShape:
		// Our template's URL whose MAC fails: keys 1 and 2 are not ours,
		// so neither is key 0, which is changed after them.
		return decision{}, fmt.Errorf("%w: key 0 has our version %d and the ndef file holds our url, but its sun message does not verify with our keys: it was encoded with another master key", ErrWrongKey, version)
	case uid != nil && job.Journal == nil:
		return decision{ours: true}, nil
	}
	what := "an ndef message that is not ours"
	if in.fresh {
		what = "an empty ndef file (tagline writes it before any key)"
	}
	known := "this journal has no record of it"
	if uid == nil {
		known = "the reader gave no uid to look it up by"
	}
	return decision{}, fmt.Errorf("%w: key 0 has version %d like ours, but the tag holds %s and %s", ErrForeignTag, version, what, known)
}

// checkHalfKeyed refuses a tag with keys of our version but key 0 still
// the factory's unless the journal holds its intent.
func checkHalfKeyed(ctx context.Context, job Job, uid []byte, vers [keys.NumSlots]byte) error {
	if job.Journal == nil {
		return nil
	}
	k, err := job.Journal(ctx, uid)
	if err != nil {
		return err
	}
	if k.Intent {
		return nil
	}
	var slots []string
	for n := 1; n < keys.NumSlots; n++ {
		if vers[n] == job.Deriver.Version() {
			slots = append(slots, fmt.Sprint(n))
		}
	}
	return fmt.Errorf("%w: keys %s carry key version %d, key 0 is the factory key, and this journal holds no intent for %X", ErrHalfKeyed, strings.Join(slots, ", "), job.Deriver.Version(), uid)
}

func hasVersion(vers [keys.NumSlots]byte, v byte) bool {
	for _, x := range vers[1:] {
		if x == v {
			return true
		}
	}
	return false
}

// writeTemplate writes the NDEF file. On a tag that holds our keys the
// file's Write right is the NDEF-write key, so the session switches to that
// key for the write and back to key 0 for the settings (NonFirst keeps the
// transaction and its counter).
func writeTemplate(ctx context.Context, c *Conn, ndef []byte, ours bool, ks keys.KeySet) error {
	if ours {
		if err := reauthenticate(ctx, c, keys.SlotNDEFWrite, ks.Keys[keys.SlotNDEFWrite]); err != nil {
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
		return reauthenticate(ctx, c, keys.SlotAppMaster, ks.Keys[keys.SlotAppMaster])
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
	job, err := lrpJob(job)
	if err != nil {
		return ReadBackResult{}, 0, err
	}
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
		return ReadBackResult{}, 0, fmt.Errorf("%w: %w", ErrReadBack, err)
	}
	spy := &uidSpy{KeyLookup: job.Deriver}
	v, err := job.Template.Verify(url, spy)
	if err != nil {
		err = fmt.Errorf("%w: %w", ErrReadBack, err)
		if spy.uid != nil {
			return ReadBackResult{}, 0, &uidChange{uid: spy.uid, err: err}
		}
		return ReadBackResult{}, 0, err
	}
	return ReadBackResult{URL: url, UID: v.UID}, uint32(v.Ctr), nil
}

// uidSpy remembers the UID a SUN message names, which Verify learns
// before the MAC check: a message that fails only because it names
// another UID tells of a tag whose UID changed.
type uidSpy struct {
	sdm.KeyLookup
	uid []byte
}

func (s *uidSpy) FileRead(uid []byte) (keys.Key, error) {
	s.uid = bytes.Clone(uid)
	return s.KeyLookup.FileRead(uid)
}

// uidChange is a read-back that does not verify and names uid.
type uidChange struct {
	uid []byte
	err error
}

func (e *uidChange) Error() string { return e.err.Error() }
func (e *uidChange) Unwrap() error { return e.err }

// isEmptyNDEF reports a factory NDEF file: NLEN zero.
func isEmptyNDEF(b []byte) bool { return len(b) < 2 || (b[0] == 0 && b[1] == 0) }
