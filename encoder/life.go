package encoder

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/tagline-station/tagline/apdu"
	"github.com/tagline-station/tagline/internal/errkind"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/sdm"
)

// Rekey and Reset share what Personalise learnt to do safely: decide from
// what costs no authentication (the NDEF file, the five key versions, the
// journal) whether the tag is ours and which key 0 it holds, authenticate
// once with that one key, record the journal's operation before the first
// change, change keys 1 to 4 and key 0 last. Because each ChangeKey is
// atomic on the tag and carries a version, the versions read on the next
// presentation tell exactly which slots moved: a torn tag is finished
// with no key tried twice and no failed authentication.

// More errors the lifecycle flows branch on.
var (
	// ErrNoUID: neither the reader nor a SUN message that verifies names
	// the tag, and no key can be derived without its UID.
	ErrNoUID = errkind.New(errkind.Tag, "tag's uid is unknown")
	// ErrResetCheck: the tag read back after a reset is not in the
	// factory state.
	ErrResetCheck = errkind.New(errkind.Verification, "tag read back after reset is not factory")
)

// Steps of the lifecycle flows.
const (
	StepBound      Step = "look the tag up in the journal"
	StepResetFiles Step = "reset the ndef file"
)

// Bound is what the journal says of a tag the flow found: the deriver at
// the key version its binding records. An error refuses the tag before
// any authentication; Rekey and Reset pass it on unchanged.
type Bound func(ctx context.Context, uid []byte) (*keys.Deriver, error)

// LifeResult reports one rekeyed or reset tag.
type LifeResult struct {
	UID []byte
	// From is the key version the journal bound the tag with, To the one
	// it moves to (0 for a reset).
	From, To byte
	// Versions are the five key versions as read before any change
	// (VersionsRead says they were).
	Versions     [keys.NumSlots]byte
	VersionsRead bool
	// AlreadyDone: the tag was presented finished (key 0 had moved, or
	// the tag was factory); nothing was written and no key tried.
	AlreadyDone bool
	// Moved are the slots this presentation changed, key 0 last.
	Moved []byte
	// URL and ReadCtr are the SUN message read back after a rekey.
	URL       string
	ReadCtr   uint32
	Exchanges int
}

// lifeFlow is the part the two flows share.
type lifeFlow struct {
	c    *Conn
	res  LifeResult
	uid  []byte
	ndef []byte // the NDEF file as read, before any change
	rid  bool   // the run may hold random-ID tags (life_randomid.go)
}

func (f *lifeFlow) fail(step Step, err error) error {
	f.res.Exchanges = f.c.count
	return &StepError{Step: step, Err: err}
}

// start selects the application, reads n bytes of the NDEF file (0: all)
// and learns the UID: the reader's, else the one a SUN message names that
// verifies with one of known (a random-ID tag, whose reader UID is not
// its own).
func (f *lifeFlow) start(ctx context.Context, readerUID []byte, tmpl *sdm.Template, known []*keys.Deriver, n int) error {
	c := f.c
	if err := c.SelectApplication(ctx); err != nil {
		var sw apdu.StatusWord
		if errors.As(err, &sw) {
			err = fmt.Errorf("%w: it has no ndef application of one (%w)", ErrNotNTAG424, err)
		}
		return f.fail(StepSelect, err)
	}
	content, err := c.ReadData(ctx, 2, 0, n, Plain)
	if err != nil {
		if errors.Is(err, apdu.ErrPermission) || errors.Is(err, apdu.ErrAuthFailed) {
			err = fmt.Errorf("%w: its ndef file cannot be read without a key (%w)", ErrForeignTag, err)
		}
		return f.fail(StepInspect, err)
	}
	f.ndef = content
	sunUID, picc := sunUIDs(content, tmpl, known)
	switch {
	case len(readerUID) == 7 && sunUID != nil && !bytes.Equal(sunUID, readerUID):
		return f.fail(StepInspect, fmt.Errorf("%w: the reader saw %X, the tag's sun message names %X", ErrUIDChanged, readerUID, sunUID))
	case len(readerUID) == 7:
		f.uid = bytes.Clone(readerUID)
	case sunUID != nil:
		f.uid = sunUID
	default:
		// A reader that gives no UID (a PC/SC stack that does not answer
		// GET DATA), and a SUN message that no longer verifies (keys 1
		// and 2 of different versions, or SDM already off): the chip
		// names its UID in GetVersion, plain, before any key.
		v, err := f.c.GetVersion(ctx)
		if err != nil {
			return f.fail(StepUID, err)
		}
		switch {
		case len(v.UID) == 7 && !isZero(v.UID):
			f.uid = bytes.Clone(v.UID)
		case picc != nil:
			// A random-ID tag: the PICCData that one of our meta-read
			// keys decrypts names it; the journal must still vouch.
			f.uid = picc
		case f.rid && len(v.UID) == 7:
			// A random-ID tag without a SUN message of ours.
			if f.uid, err = f.sessionUID(ctx, known); err != nil {
				return err
			}
		default:
			return f.fail(StepInspect, fmt.Errorf("%w: neither the reader nor the tag's version nor a sun message of ours names it; nothing was tried", ErrNoUID))
		}
	}
	f.res.UID = f.uid
	return nil
}

// sunUIDs returns the UID of a SUN message in content that verifies with
// one of known, and else the UID its PICCData names when one of known's
// meta-read keys decrypts it but the MAC fails (a rekey torn between keys
// 1 and 2).
func sunUIDs(content []byte, tmpl *sdm.Template, known []*keys.Deriver) (verified, picc []byte) {
	if tmpl == nil || isEmptyNDEF(content) {
		return nil, nil
	}
	url, err := sdm.URLFromNDEF(content)
	if err != nil {
		return nil, nil
	}
	for _, d := range known {
		spy := &uidSpy{KeyLookup: d}
		if v, err := tmpl.Verify(url, spy); err == nil {
			return v.UID, nil
		}
		if picc == nil {
			picc = spy.uid
		}
	}
	return nil, picc
}

// bound asks the journal which keys the tag holds.
func (f *lifeFlow) bound(ctx context.Context, fn Bound) (*keys.Deriver, keys.KeySet, error) {
	if fn == nil {
		return nil, keys.KeySet{}, f.fail(StepBound, fmt.Errorf("%w: no journal to prove the tag ours", ErrJob))
	}
	d, err := fn(ctx, f.uid)
	if err != nil {
		return nil, keys.KeySet{}, f.fail(StepBound, err)
	}
	ks, err := d.Tag(f.uid)
	if err != nil {
		return nil, ks, f.fail(StepBound, err)
	}
	f.res.From = d.Version()
	return d, ks, nil
}

// versions reads the five key versions, free of any authentication.
func (f *lifeFlow) versions(ctx context.Context) error {
	for n := byte(0); n < keys.NumSlots; n++ {
		v, err := f.c.GetKeyVersion(ctx, n)
		if err != nil {
			return f.fail(StepKeyVersion, err)
		}
		f.res.Versions[n] = v
	}
	f.res.VersionsRead = true
	return nil
}

// checkSlots refuses a tag whose key 0 is not from, or whose keys 1 to 4
// hold a version other than from and to: not a state our flows leave.
func (f *lifeFlow) checkSlots(from, to byte) error {
	v := f.res.Versions
	if v[0] != from {
		return f.fail(StepKeyVersion, fmt.Errorf("%w: key 0 has version %d; the journal binds it with version %d", ErrForeignTag, v[0], from))
	}
	for n := 1; n < keys.NumSlots; n++ {
		if v[n] != from && v[n] != to {
			return f.fail(StepKeyVersion, fmt.Errorf("%w: key %d has version %d; ours are %d and %d", ErrForeignTag, n, v[n], from, to))
		}
	}
	return nil
}

// authenticate spends the one attempt, with our key 0 of version from, in
// the tag's mode (an LRP tag refuses EV2First before any cryptogram).
func (f *lifeFlow) authenticate(ctx context.Context, k0 keys.Key) error {
	if err := f.c.AuthenticateFirst(ctx, keys.SlotAppMaster, k0); err != nil {
		if errors.Is(err, apdu.ErrAuthFailed) {
			err = fmt.Errorf("%w (%w)", ErrWrongKey, err)
		}
		return f.fail(StepAuth, err)
	}
	return nil
}

// changeKeys moves keys 1 to 4 that still hold version from, then key 0,
// which ends the session.
func (f *lifeFlow) changeKeys(ctx context.Context, from byte, old, nw keys.KeySet, to byte) error {
	for n := byte(1); n < keys.NumSlots; n++ {
		if f.res.Versions[n] != from {
			continue
		}
		if err := f.c.ChangeKey(ctx, n, old.Keys[n], nw.Keys[n], to); err != nil {
			return f.fail(StepChangeKeys, err)
		}
		f.res.Moved = append(f.res.Moved, n)
	}
	if err := f.c.ChangeKey(ctx, keys.SlotAppMaster, old.Keys[0], nw.Keys[0], to); err != nil {
		return f.fail(StepChangeKey0, err)
	}
	f.res.Moved = append(f.res.Moved, 0)
	return nil
}

func (f *lifeFlow) done() LifeResult {
	f.res.Exchanges = f.c.count
	return f.res
}
