package readerpaths

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tagline-station/tagline/internal/transcript"
	"github.com/tagline-station/tagline/manifest"

	"github.com/tagline-station/tagline/apdu"
	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/encoder"
	"github.com/tagline-station/tagline/internal/pcscdtest"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/reader/sim"
	"github.com/tagline-station/tagline/sdm"
	"github.com/tagline-station/tagline/station"
)

// TestMain points libpcsclite at pcscdtest's per-process socket before the
// first PC/SC call (the client library caches the name once per process)
// and keeps libnfc quiet (it reads LIBNFC_LOG_LEVEL once, at nfc_init).
// Neither variable needs cgo to be set, so this file has no build tag.
func TestMain(m *testing.M) {
	pcscdtest.UseSocket()
	if os.Getenv("LIBNFC_LOG_LEVEL") == "" {
		os.Setenv("LIBNFC_LOG_LEVEL", "0")
	}
	os.Exit(m.Run())
}

const (
	masterHex   = "C9EB67DF090AFF47C3B19A2516680B9D"
	templateURL = "https://brand.example/t?picc_data={picc}&cmac={mac}"
	keyVersion  = 1
)

// testTimeout bounds every wait of one test step. It is generous for a
// loaded 2-core CI machine: pcscd notices vpcd insertions and removals on
// its 400 ms poll, and the exchanges themselves take milliseconds.
const testTimeout = 30 * time.Second

func testCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	tb.Cleanup(cancel)
	return ctx
}

// fixture is the batch's key material and template, shared by every path.
type fixture struct {
	deriver  *keys.Deriver
	template *sdm.Template
}

func newFixture(tb testing.TB) fixture {
	tb.Helper()
	b, _ := hex.DecodeString(masterHex)
	m, err := keys.NewMaster(b)
	if err != nil {
		tb.Fatal(err)
	}
	d, err := keys.NewDeriver(keys.SchemeTagline, m, keyVersion)
	if err != nil {
		tb.Fatal(err)
	}
	tp, err := sdm.ParseTemplate(templateURL)
	if err != nil {
		tb.Fatal(err)
	}
	return fixture{deriver: d, template: tp}
}

// job is the encoding job for a tag whose reader reported readerUID (empty
// behind vpcd: the encoder then asks the tag).
func (f fixture) job(readerUID []byte) encoder.Job {
	return encoder.Job{Deriver: f.deriver, Template: f.template, ReaderUID: readerUID}
}

// uidN is a distinct, recognisable 7-byte UID per test tag.
func uidN(series, n byte) []byte { return []byte{0x04, 0x7A, 0x6C, series, 0x00, 0x00, n} }

// checkOurKeys asserts that the tag holds exactly the five keys derived
// from the master key for its UID, all with our key version, and that no
// authentication ever failed on it.
func (f fixture) checkOurKeys(tb testing.TB, tag *sim.Tag) {
	tb.Helper()
	ks, err := f.deriver.Tag(tag.UID())
	if err != nil {
		tb.Fatal(err)
	}
	if !tag.IsPersonalisedWith(ks.Keys) {
		tb.Fatalf("tag %X does not hold the keys derived from the master key (kcv %v)", tag.UID(), tag.Snapshot().KeyKCV)
	}
	s := tag.Snapshot()
	for n, v := range s.KeyVersion {
		if v != keyVersion {
			tb.Errorf("tag %X: key %d has version %d, want %d", tag.UID(), n, v, keyVersion)
		}
	}
	if s.TotFailCtr != [sim.NumKeys]int{} {
		tb.Errorf("tag %X: failed authentications %v", tag.UID(), s.TotFailCtr)
	}
	if s.ChainedWrites != 0 {
		tb.Errorf("tag %X: %d chained (not tear-protected) writes", tag.UID(), s.ChainedWrites)
	}
}

// verifyURL checks a SUN URL with the batch's keys and returns what it
// proves, failing unless it names uid.
func (f fixture) verifyURL(tb testing.TB, url string, uid []byte) sdm.Verified {
	tb.Helper()
	v, err := f.template.Verify(url, f.deriver)
	if err != nil {
		tb.Fatalf("sun url %s does not verify: %v", url, err)
	}
	if !bytes.Equal(v.UID, uid) {
		tb.Fatalf("sun url %s names uid %X, want %X", url, v.UID, uid)
	}
	return v
}

// phoneRead reads the tag as an NFC Forum Type 4 reader (a phone) does, on
// a fresh activation: select the NDEF application, read the capability
// container for the NDEF file's ID, select that file, read NLEN and then
// the message. No authentication, so the tag mirrors a fresh SUN message.
func phoneRead(ctx context.Context, card reader.Card) (string, error) {
	c := encoder.New(card, encoder.Options{})
	if err := c.SelectApplication(ctx); err != nil {
		return "", err
	}
	if err := c.SelectFile(ctx, apdu.FIDCC); err != nil {
		return "", err
	}
	cc, err := c.ReadBinary(ctx, 0, 15)
	if err != nil {
		return "", err
	}
	// CCLEN(2) version(1) MLe(2) MLc(2), then the NDEF file control TLV
	// T=04 L=06 FileID(2) MaxSize(2) Read(1) Write(1).
	if len(cc) < 15 || cc[7] != 0x04 || cc[8] != 0x06 {
		return "", fmt.Errorf("capability container % X has no ndef file control tlv", cc)
	}
	fid := uint16(cc[9])<<8 | uint16(cc[10])
	if cc[13] != 0x00 {
		return "", fmt.Errorf("capability container says the ndef file %04X is not freely readable (% X)", fid, cc)
	}
	if err := c.SelectFile(ctx, fid); err != nil {
		return "", err
	}
	nlen, err := c.ReadBinary(ctx, 0, 2)
	if err != nil {
		return "", err
	}
	n := int(nlen[0])<<8 | int(nlen[1])
	if n == 0 || n > 254 {
		return "", fmt.Errorf("ndef message length %d", n)
	}
	body, err := c.ReadBinary(ctx, 2, n)
	if err != nil {
		return "", err
	}
	return sdm.URLFromNDEF(append(nlen, body...))
}

// checkPhoneRead reads the tag as a phone and verifies the SUN message: it
// names the tag and its counter has moved past afterCtr (the encoder's own
// read-back).
func (f fixture) checkPhoneRead(tb testing.TB, card reader.Card, uid []byte, afterCtr uint32) string {
	tb.Helper()
	url, err := phoneRead(testCtx(tb), card)
	if err != nil {
		tb.Fatalf("phone read: %v", err)
	}
	v := f.verifyURL(tb, url, uid)
	if uint32(v.Ctr) <= afterCtr {
		tb.Fatalf("phone read counter %d, not past the read-back's %d", v.Ctr, afterCtr)
	}
	return url
}

// reactivate is a fresh activation of tag, as when a tag is brought back
// into a field: it loses its session and selection, and a tag that left
// the field through its own fault hook (sim.Tag.RemoveDuring) comes back.
//
// reader/sim exports this only through Reader.Present, and neither
// vpcd.Insert nor pn532emu.SetTag does it: a sim.Tag taken out by its own
// fault hook answers nothing behind vpcd, and pn532emu takes it out again
// at once. See the package documentation.
func reactivate(tag *sim.Tag) {
	sim.NewReader("reactivate").Present(tag)
}

// cmdID is a command's CLA and INS, what identifies it in a flow.
type cmdID [2]byte

func (c cmdID) String() string { return fmt.Sprintf("%02X%02X", c[0], c[1]) }

func idOf(capdu []byte) cmdID {
	if len(capdu) < 2 {
		return cmdID{}
	}
	return cmdID{capdu[0], capdu[1]}
}

// NTAG 424 DNA native commands (CLA 90) that the tests look for.
var (
	cmdGetCardUID = cmdID{0x90, apdu.InsGetCardUID}
	cmdAuthPart2  = cmdID{0x90, 0xAF}
	cmdWriteData  = cmdID{0x90, 0x8D}
	cmdChangeKey  = cmdID{0x90, 0xC4}
)

// flow is the command sequence of one personalisation.
type flow struct {
	cmds [][]byte
}

func (fl flow) ids() []cmdID {
	ids := make([]cmdID, len(fl.cmds))
	for i, c := range fl.cmds {
		ids[i] = idOf(c)
	}
	return ids
}

// index is the 1-based exchange number of the n-th (from 1) command with
// id, for which match (if not nil) holds; it fails the test when there is
// none.
func (fl flow) index(tb testing.TB, id cmdID, n int, match func([]byte) bool) int {
	tb.Helper()
	seen := 0
	for i, c := range fl.cmds {
		if idOf(c) == id && (match == nil || match(c)) {
			seen++
			if seen == n {
				return i + 1
			}
		}
	}
	tb.Fatalf("reference flow has no command %s number %d: %v", id, n, fl.ids())
	return 0
}

var (
	refOnce sync.Once
	refFlow [2]flow // [0] without the reader's UID, [1] with it
	refErr  error
)

// referenceFlow is the personalisation of a factory tag on the in-process
// path (reader/sim), recorded once: what the same encoder sends through
// every other stack.
func referenceFlow(tb testing.TB, withReaderUID bool) flow {
	tb.Helper()
	refOnce.Do(func() {
		f := newFixture(tb)
		for i, with := range []bool{false, true} {
			tag := sim.New(sim.Options{UID: uidN(0xFF, byte(i))})
			r := sim.NewReader("reference")
			r.Present(tag)
			card, err := r.WaitTag(context.Background())
			if err != nil {
				refErr = err
				return
			}
			rec := transcript.NewRecorder(card)
			var uid []byte
			if with {
				uid = card.UID()
			}
			if _, err := encoder.Personalise(context.Background(), rec, f.job(uid), encoder.Options{}); err != nil {
				refErr = fmt.Errorf("in-process reference personalisation: %w", err)
				return
			}
			for _, e := range rec.Transcript().Exchanges {
				refFlow[i].cmds = append(refFlow[i].cmds, []byte(e.C))
			}
		}
	})
	if refErr != nil {
		tb.Fatal(refErr)
	}
	if withReaderUID {
		return refFlow[1]
	}
	return refFlow[0]
}

// tearPoint is where a tag leaves the field, as an exchange of the
// reference flow.
type tearPoint struct {
	name string
	step encoder.Step // where Personalise must say it stopped
	// at is the 1-based encoder exchange the tag leaves during.
	at func(tb testing.TB, fl flow) int
}

func keyNo(n byte) func([]byte) bool {
	return func(c []byte) bool { return len(c) > 5 && c[5] == n }
}

// tearPoints are the places across the flow where removal is tested:
// during authentication, during the NDEF write, between two ChangeKeys, at
// key 0 (before it when the command is lost, after it when only the answer
// is), and on the first command after key 0 (the read-back).
var tearPoints = []tearPoint{
	{"authenticate", encoder.StepAuth, func(tb testing.TB, fl flow) int { return fl.index(tb, cmdAuthPart2, 1, nil) }},
	{"write-ndef", encoder.StepWriteNDEF, func(tb testing.TB, fl flow) int { return fl.index(tb, cmdWriteData, 1, nil) }},
	{"changekey-2", encoder.StepChangeKeys, func(tb testing.TB, fl flow) int { return fl.index(tb, cmdChangeKey, 1, keyNo(2)) }},
	{"changekey-0", encoder.StepChangeKey0, func(tb testing.TB, fl flow) int { return fl.index(tb, cmdChangeKey, 1, keyNo(0)) }},
	{"after-key-0", encoder.StepReadBack, func(tb testing.TB, fl flow) int { return fl.index(tb, cmdChangeKey, 1, keyNo(0)) + 1 }},
}

// tearCase is one tear point with one way of leaving.
type tearCase struct {
	tearPoint
	// executed is true when the tag executes the command and its answer
	// is lost (sim.Tag.RemoveDuring, pn532emu.RemoveDuring), false when
	// the command never reaches the tag (vpcd RemoveAfter,
	// pn532emu.RemoveAfter).
	executed bool
}

func (c tearCase) String() string {
	if c.executed {
		return "answer-lost/" + c.name
	}
	return "command-lost/" + c.name
}

func tearCases() []tearCase {
	var cs []tearCase
	for _, executed := range []bool{false, true} {
		for _, p := range tearPoints {
			cs = append(cs, tearCase{p, executed})
		}
	}
	return cs
}

// checkTorn checks the first, torn attempt: it failed with
// reader.ErrTagRemoved at the expected step, and wrote the tag or not as
// the tear point implies. It reports whether key 0 was changed (the torn
// exchange came after ChangeKey 0, or was ChangeKey 0 and was executed), in
// which case the second attempt finds the tag already ours.
func (c tearCase) checkTorn(tb testing.TB, fl flow, tag *sim.Tag, res encoder.Result, err error) (alreadyOurs bool) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("%v: no error although the tag left during exchange %d (%d exchanges)", c, c.at(tb, fl), res.Exchanges)
	}
	if !errors.Is(err, reader.ErrTagRemoved) {
		tb.Fatalf("%v: error %v does not say the tag was removed", c, err)
	}
	var se *encoder.StepError
	if !errors.As(err, &se) {
		tb.Fatalf("%v: error %v names no step", c, err)
	}
	if se.Step != c.step {
		tb.Errorf("%v: stopped at step %q, want %q (%v)", c, se.Step, c.step, err)
	}
	k := c.at(tb, fl)
	key0 := fl.index(tb, cmdChangeKey, 1, keyNo(0))
	ndef := fl.index(tb, cmdWriteData, 1, nil)
	written := k > ndef || k == ndef && c.executed
	if fresh := tag.IsFactoryFresh(); fresh == written {
		tb.Errorf("%v: tag factory-fresh %v after a tear at exchange %d (ndef write is %d)", c, fresh, k, ndef)
	}
	return k > key0 || k == key0 && c.executed
}

// checkSecond checks the attempt on the same tag presented again: it
// finishes the tag, or says it is already ours when only the read-back
// was lost.
func (c tearCase) checkSecond(tb testing.TB, f fixture, tag *sim.Tag, alreadyOurs, wasFresh bool, res encoder.Result, err error) {
	tb.Helper()
	switch {
	case alreadyOurs:
		if !errors.Is(err, encoder.ErrAlreadyOurs) || res.Found != encoder.FoundOurs {
			tb.Fatalf("%v: second attempt: %v (found %q), want ErrAlreadyOurs", c, err, res.Found)
		}
	case err != nil:
		tb.Fatalf("%v: second attempt: %v", c, err)
	default:
		want := encoder.FoundPartial
		if wasFresh {
			want = encoder.FoundFactory
		}
		if res.Found != want {
			tb.Errorf("%v: second attempt found %q, want %q", c, res.Found, want)
		}
	}
	if !bytes.Equal(res.UID, tag.UID()) {
		tb.Errorf("%v: second attempt uid %X, tag is %X", c, res.UID, tag.UID())
	}
	if res.URL != "" {
		f.verifyURL(tb, res.URL, tag.UID())
	}
	f.checkOurKeys(tb, tag)
}

// journal opens a fresh journal with one open batch for the fixture.
func (f fixture) journal(tb testing.TB, id string, target int) (*batch.Store, *station.Station) {
	tb.Helper()
	s, err := batch.Open(filepath.Join(tb.TempDir(), "journal.db"), batch.Options{StationID: "readerpaths"})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	b, err := s.CreateBatch(batch.Batch{ID: id, SKU: "SKU-" + id, Target: target, Template: templateURL, KeyVersion: keyVersion})
	if err != nil {
		tb.Fatal(err)
	}
	st, err := station.New(station.Config{Journal: s, Batch: b, Deriver: f.deriver, Template: f.template})
	if err != nil {
		tb.Fatal(err)
	}
	return s, st
}

// checkJournal asserts the journal binds exactly the given tags, verified,
// with no open intent, and that Check finds nothing wrong.
func (f fixture) checkJournal(tb testing.TB, s *batch.Store, batchID string, tags []*sim.Tag) {
	tb.Helper()
	for _, tag := range tags {
		uid := fmt.Sprintf("%X", tag.UID())
		b, ok, err := s.Lookup(manifest.UID(uid))
		if err != nil || !ok {
			tb.Errorf("tag %s not bound in the journal (%v)", uid, err)
			continue
		}
		if b.BatchID != batchID || b.KeyVersion != keyVersion || b.MasterKCV != f.deriver.MasterKCV() || b.Outcome != manifest.Verified {
			tb.Errorf("binding %+v", b)
		}
	}
	st, err := s.Stats(batchID)
	if err != nil {
		tb.Fatal(err)
	}
	if st.Done != len(tags) || st.OpenIntents != 0 || st.Failed != 0 {
		tb.Errorf("batch stats %+v, want %d done and nothing open or failed", st, len(tags))
	}
	rep, err := s.Check()
	if err != nil || !rep.OK() {
		tb.Errorf("journal check: %v %v", err, rep.Problems)
	}
	if rep.Bindings != len(tags) || rep.OpenIntents != 0 {
		tb.Errorf("journal check report %+v", rep)
	}
}
