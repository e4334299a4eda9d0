package sim

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/tagline-station/tagline/apdu"
	"github.com/tagline-station/tagline/ev2"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/sdm"
)

// NumKeys is the number of application keys of an NTAG 424 DNA.
const NumKeys = 5

// MaxFrameAPDU is the longest command APDU that fits one ISO/IEC 14443-4
// frame: FSC 128 (FSCI 7 in the ATS) minus PCB and the two CRC bytes.
const MaxFrameAPDU = 125

// Defaults of the failed-authentication model (see the package comment).
const (
	DefaultTotFailCtrLimit    = 1000
	DefaultTotFailCtrDecr     = 10
	DefaultAuthDelayAfter     = 50
	DefaultAuthDelayResponses = 10
)

// ats is the NTAG 424 DNA answer to select, TL included.
var ats = []byte{0x06, 0x77, 0x77, 0x71, 0x02, 0x80}

// GetVersion data (datasheet 10.5.2): HW and SW parts, then a made-up
// production batch, calendar week 0x26 and year 0x24 for part 3.
var (
	versionHW    = []byte{0x04, 0x04, 0x02, 0x30, 0x00, 0x11, 0x05}
	versionSW    = []byte{0x04, 0x04, 0x02, 0x01, 0x02, 0x11, 0x05}
	versionBatch = []byte{0x5A, 0x1B, 0x2C, 0x3D, 0x40, 0x26, 0x24}
)

// Timing is the optional air-time and EEPROM model. Process sleeps for
// ByteTime per byte of the command and of the response, plus EEPROMWrite per
// non-volatile write cycle of the command.
type Timing struct {
	ByteTime    time.Duration
	EEPROMWrite time.Duration
}

// Timing106 is the model at 106 kbit/s: about 85 µs per byte on air and
// about 1 ms per EEPROM write cycle.
func Timing106() *Timing {
	return &Timing{ByteTime: 85 * time.Microsecond, EEPROMWrite: time.Millisecond}
}

// Options configure a simulated tag. The zero value is a factory-fresh tag
// with a random UID, crypto/rand randomness and no timing model.
type Options struct {
	// UID is the 7-byte UID; empty means 04 followed by six random bytes
	// (from crypto/rand, never from Rand, so Rand's draw order is fixed).
	// New panics on a UID of another length; NewPersonalised returns an
	// error.
	UID []byte
	// Rand supplies RndB, TI and the PICCData padding; nil is crypto/rand.
	Rand io.Reader
	// Timing, when set, makes Process sleep for air time and EEPROM writes.
	Timing *Timing
	// TotFailCtrLimit locks a key after that many failed authentications
	// in total; 0 means DefaultTotFailCtrLimit.
	TotFailCtrLimit int
	// TotFailCtrDecr is subtracted from TotFailCtr on success; 0 means
	// DefaultTotFailCtrDecr, negative means 0.
	TotFailCtrDecr int
	// AuthDelayAfter is the number of consecutive failures after which
	// authentications get 91AD; 0 means DefaultAuthDelayAfter.
	AuthDelayAfter int
	// AuthDelayResponses is how many authentication attempts are answered
	// 91AD after each failure at or beyond AuthDelayAfter; 0 means
	// DefaultAuthDelayResponses.
	AuthDelayResponses int
	// LRP makes a tag that was already switched to LRP mode (lrp.go).
	LRP bool
	// TagTamper makes an NTAG 424 DNA TT, with its tamper loop closed
	// (tamper.go).
	TagTamper bool
}

// Personalisation describes a tag that was already personalised.
type Personalisation struct {
	Keys     [NumKeys]keys.Key
	Versions [NumKeys]byte
	// NDEF is the content of the NDEF file (file 02), at most 256 bytes;
	// the rest of the file is zero.
	NDEF []byte
	// NDEFSettings replaces the NDEF file's settings when not nil.
	NDEFSettings *sdm.FileSettings
	// SDMReadCtr is the NDEF file's SDM read counter.
	SDMReadCtr sdm.Counter
}

// keySlot is one application key with its version and failure counters.
type keySlot struct {
	key     keys.Key
	ver     byte
	totFail int
	seqFail int
	delay   int // 91AD answers still to give
}

// file is one StandardData file.
type file struct {
	no   byte
	fid  uint16
	data []byte
	set  sdm.FileSettings
	ctr  sdm.Counter
}

// pendingKind is the multi-frame command waiting for an AF frame.
type pendingKind int

const (
	pendNone pendingKind = iota
	pendAuthFirst
	pendAuthNonFirst
	pendVersion
)

type pending struct {
	kind   pendingKind
	keyNo  byte
	rndB   []byte
	pcdCap [6]byte
	// NonFirst keeps the transaction's TI and CmdCtr.
	ti  [4]byte
	ctr uint16
	// GetVersion: next part (2 or 3) and whether it is MACed.
	part  int
	maced bool
}

// readRun is the current sequence of reads of an SDM file (9.3.1).
type readRun struct {
	valid  bool
	iso    bool
	fileNo byte
	ctr    sdm.Counter
	pad    []byte
}

// Tag is a simulated NTAG 424 DNA. Create it with New or NewPersonalised.
type Tag struct {
	mu   sync.Mutex
	opts Options
	uid  []byte
	rnd  io.Reader

	keys  [NumKeys]keySlot
	files []*file

	appSelected bool
	selEF       *file
	sess        *ev2.Session
	lrp         bool   // LRP mode, for good (lrp.go)
	randomID    bool   // random ID on, for good (randomid.go)
	ridUID      []byte // this activation's random UID
	loopOpen    bool   // the tamper loop is open now (tamper.go)
	loopWasOpen bool   // it was ever open
	pend        pending
	run         readRun
	keepRun     bool

	// faults and bookkeeping
	exchanges int
	removeAt  int // exchange number that finds the tag gone
	loseAt    int // exchange executed but its answer lost
	corruptAt int
	tamperAt  int
	tamper    Fault
	always    Fault
	stallAt   int
	stallFor  time.Duration
	uidAt     int
	nextUID   []byte
	removed   bool
	left      chan struct{}
	chained   int
	nvm       int // EEPROM cycles of the current command

	sigOverride []byte // Read_Sig's answer when set (originality.go)
}

// New returns a factory-fresh tag.
func New(opts Options) *Tag {
	t, err := newTag(opts)
	if err != nil {
		// Only a malformed UID fails; New documents 7 bytes.
		panic(err)
	}
	return t
}

// NewPersonalised returns a tag that already went through a personalisation:
// the given keys and versions, NDEF content and, optionally, NDEF settings.
func NewPersonalised(opts Options, p Personalisation) (*Tag, error) {
	t, err := newTag(opts)
	if err != nil {
		return nil, err
	}
	for i := range t.keys {
		t.keys[i].key = p.Keys[i]
		t.keys[i].ver = p.Versions[i]
	}
	f := t.file(apdu.FileNDEF)
	if len(p.NDEF) > len(f.data) {
		return nil, fmt.Errorf("sim: ndef content of %d bytes exceeds the %d-byte file", len(p.NDEF), len(f.data))
	}
	copy(f.data, p.NDEF)
	if p.NDEFSettings != nil {
		s := *p.NDEFSettings
		if err := validateSettings(s, uint32(len(f.data))); err != nil {
			return nil, fmt.Errorf("sim: ndef settings: %w", err)
		}
		s.FileType, s.FileSize = 0, uint32(len(f.data))
		f.set = s
	}
	f.ctr = p.SDMReadCtr
	return t, nil
}

func newTag(opts Options) (*Tag, error) {
	uid := append([]byte(nil), opts.UID...)
	if len(uid) == 0 {
		uid = make([]byte, 7)
		if _, err := io.ReadFull(rand.Reader, uid[1:]); err != nil {
			return nil, err
		}
		uid[0] = 0x04
	}
	if len(uid) != 7 {
		return nil, fmt.Errorf("sim: uid must be 7 bytes, got %d", len(uid))
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if opts.TotFailCtrLimit <= 0 {
		opts.TotFailCtrLimit = DefaultTotFailCtrLimit
	}
	switch {
	case opts.TotFailCtrDecr == 0:
		opts.TotFailCtrDecr = DefaultTotFailCtrDecr
	case opts.TotFailCtrDecr < 0:
		opts.TotFailCtrDecr = 0
	}
	if opts.AuthDelayAfter <= 0 {
		opts.AuthDelayAfter = DefaultAuthDelayAfter
	}
	if opts.AuthDelayResponses <= 0 {
		opts.AuthDelayResponses = DefaultAuthDelayResponses
	}
	t := &Tag{opts: opts, uid: uid, rnd: opts.Rand, files: factoryFiles(), left: make(chan struct{}), lrp: opts.LRP}
	return t, nil
}

// factoryFiles are the three files of the NDEF application at delivery
// (datasheet 8.2.3, confirmed by dumps of fresh tags): CC, NDEF, proprietary.
func factoryFiles() []*file {
	cc := make([]byte, 32)
	copy(cc, factoryCC)
	return []*file{
		{no: apdu.FileCC, fid: apdu.FIDCC, data: cc, set: settings(sdm.CommModePlain, sdm.AccessFree, 0, 0, 0, 32)},
		{no: apdu.FileNDEF, fid: apdu.FIDNDEF, data: make([]byte, 256),
			set: settings(sdm.CommModePlain, sdm.AccessFree, sdm.AccessFree, sdm.AccessFree, 0, 256)},
		{no: apdu.FileProprietary, fid: apdu.FIDProprietary, data: make([]byte, 128), set: settings(sdm.CommModeFull, 2, 3, 3, 0, 128)},
	}
}

// factoryCC is the capability container as shipped: CCLEN 0017, mapping
// version 2.0, MLe 0100, MLc 00FF, NDEF file control TLV (E104, 256 bytes,
// read and write free) and proprietary file control TLV (E105, 128 bytes,
// read 82 and write 83: key-protected).
var factoryCC = []byte{
	0x00, 0x17, 0x20, 0x01, 0x00, 0x00, 0xFF,
	0x04, 0x06, 0xE1, 0x04, 0x01, 0x00, 0x00, 0x00,
	0x05, 0x06, 0xE1, 0x05, 0x00, 0x80, 0x82, 0x83,
}

func settings(mode, read, write, rw, change byte, size uint32) sdm.FileSettings {
	return sdm.FileSettings{CommMode: mode, FileSize: size,
		Access: sdm.AccessRights{Read: read, Write: write, ReadWrite: rw, Change: change}}
}

func (t *Tag) file(no byte) *file {
	for _, f := range t.files {
		if f.no == no {
			return f
		}
	}
	return nil
}

func (t *Tag) fileByFID(fid uint16) *file {
	for _, f := range t.files {
		if f.fid == fid {
			return f
		}
	}
	return nil
}

// UID is what the tag answers at anticollision: its 7-byte UID, or with
// random ID on this activation's random one (randomid.go).
func (t *Tag) UID() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.randomID {
		if t.ridUID == nil {
			t.drawRandomID()
		}
		return append([]byte(nil), t.ridUID...)
	}
	return append([]byte(nil), t.uid...)
}

// ATS is 06 77 77 71 02 80.
func (t *Tag) ATS() []byte { return append([]byte(nil), ats...) }

// Process answers one command APDU (data || SW1 SW2). It returns nil once
// the tag has left the field (see RemoveAfter).
func (t *Tag) Process(capdu []byte) []byte {
	r, d := t.exchange(capdu)
	if d > 0 {
		time.Sleep(d)
	}
	return r
}

// exchange runs one command and returns the answer and the time the
// timing model charges for it.
func (t *Tag) exchange(capdu []byte) ([]byte, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.removed {
		return nil, 0
	}
	t.exchanges++
	n := t.exchanges
	if t.removeAt != 0 && n >= t.removeAt {
		t.leave()
		return nil, 0
	}
	if len(capdu) > MaxFrameAPDU {
		t.chained++
	}
	if t.uidAt != 0 && n >= t.uidAt {
		t.uid, t.uidAt, t.nextUID = t.nextUID, 0, nil
	}
	t.nvm = 0
	r := t.handle(capdu)
	d := t.cost(len(capdu), len(r))
	if t.loseAt != 0 && n >= t.loseAt {
		t.leave()
		return nil, d
	}
	if t.corruptAt == n {
		t.corruptAt = 0
		if len(r) > 2 {
			r[0] ^= 0xFF
		} else {
			r[1] ^= 0x01
		}
	}
	r = t.rewrite(n, capdu, r)
	if t.stallAt == n {
		t.stallAt = 0
		d += t.stallFor
	}
	return r, d
}

// rewrite applies the Tamper hooks; the caller holds mu.
func (t *Tag) rewrite(n int, capdu, r []byte) []byte {
	if t.tamperAt == n && t.tamper != nil {
		r = t.tamper(capdu, r)
		t.tamperAt, t.tamper = 0, nil
	}
	if t.always != nil {
		r = t.always(capdu, r)
	}
	if r == nil {
		r = []byte{}
	}
	return r
}

func (t *Tag) cost(in, out int) time.Duration {
	tm := t.opts.Timing
	if tm == nil {
		return 0
	}
	return time.Duration(in+out)*tm.ByteTime + time.Duration(t.nvm)*tm.EEPROMWrite
}

// leave takes the tag out of the field; the caller holds mu.
func (t *Tag) leave() {
	if !t.removed {
		t.removed = true
		close(t.left)
	}
	t.resetVolatile()
}

// activate puts the tag (back) into a field: a fresh activation.
func (t *Tag) activate() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.removed {
		t.removed = false
		t.left = make(chan struct{})
	}
	// Hooks that fired are spent; pending ones stay armed.
	if t.removeAt != 0 && t.exchanges >= t.removeAt {
		t.removeAt = 0
	}
	if t.loseAt != 0 && t.exchanges >= t.loseAt {
		t.loseAt = 0
	}
	t.drawRandomID()
	t.resetVolatile()
}

// resetVolatile is what a new activation loses.
func (t *Tag) resetVolatile() {
	t.appSelected = false
	t.selEF = nil
	t.sess = nil
	t.pend = pending{}
	t.run = readRun{}
}

// Reset is a field reset (reader power cycle): the session, the selection
// and any multi-frame command are lost. reader/vpcd calls it on power off.
func (t *Tag) Reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.resetVolatile()
}

// RemoveAfter is a fault hook: the tag answers the next n exchanges and
// leaves the field before the one after; that exchange and every later one
// is not executed and Process returns nil.
func (t *Tag) RemoveAfter(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.removeAt = t.exchanges + n + 1
	t.loseAt = 0
}

// RemoveDuring is a fault hook: the n-th exchange from now (n ≥ 1) is
// executed, with all its effects, but the tag leaves the field before its
// answer reaches the reader; Process returns nil for it and afterwards.
func (t *Tag) RemoveDuring(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.loseAt = t.exchanges + max(n, 1)
	t.removeAt = 0
}

// CorruptResponse is a fault hook: the n-th response from now (n ≥ 1) gets
// a byte flipped on the way (its first byte, or SW2 of a bare status word).
func (t *Tag) CorruptResponse(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.corruptAt = t.exchanges + max(n, 1)
}

// Gone is closed when the tag leaves the field through a fault hook or
// Reader.Remove. A tag presented again gets a new channel.
func (t *Tag) Gone() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.left
}

// Removed reports whether the tag is out of the field.
func (t *Tag) Removed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.removed
}

// ChainedWrites is the number of command APDUs longer than MaxFrameAPDU
// the tag has received.
func (t *Tag) ChainedWrites() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.chained
}

// FileState is the persistent state of one file.
type FileState struct {
	No         byte
	FID        uint16
	Settings   sdm.FileSettings
	Data       []byte
	SDMReadCtr sdm.Counter
}

// Snapshot is the tag's state for tests: check values, never key bytes.
type Snapshot struct {
	UID           []byte
	KeyKCV        [NumKeys]string
	KeyVersion    [NumKeys]byte
	TotFailCtr    [NumKeys]int
	SeqFailCtr    [NumKeys]int
	Files         []FileState
	Authenticated bool
	// AuthKeyNo is the authenticated key, -1 when not authenticated.
	AuthKeyNo     int
	FactoryFresh  bool
	ChainedWrites int
	Exchanges     int
	Removed       bool
	LRP           bool // switched to LRP mode
}

// Snapshot returns a copy of the tag's state.
func (t *Tag) Snapshot() Snapshot {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := Snapshot{UID: append([]byte(nil), t.uid...), AuthKeyNo: -1, FactoryFresh: t.factoryFresh(),
		ChainedWrites: t.chained, Exchanges: t.exchanges, Removed: t.removed, LRP: t.lrp}
	for i, k := range t.keys {
		s.KeyKCV[i] = k.key.KCV()
		s.KeyVersion[i] = k.ver
		s.TotFailCtr[i] = k.totFail
		s.SeqFailCtr[i] = k.seqFail
	}
	if t.sess != nil {
		s.Authenticated, s.AuthKeyNo = true, int(t.sess.KeyNo)
	}
	for _, f := range t.files {
		s.Files = append(s.Files, FileState{No: f.no, FID: f.fid, Settings: f.set, Data: append([]byte(nil), f.data...), SDMReadCtr: f.ctr})
	}
	return s
}

// File returns the state of one file (ok false when it does not exist).
func (t *Tag) File(no byte) (FileState, bool) {
	for _, f := range t.Snapshot().Files {
		if f.No == no {
			return f, true
		}
	}
	return FileState{}, false
}

// SDMReadCtr is the NDEF file's SDM read counter.
func (t *Tag) SDMReadCtr() sdm.Counter {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.file(apdu.FileNDEF).ctr
}

// Key returns application key n. It is a test accessor: the tag never puts
// key bytes on the wire, and keys.Key prints as its check value.
func (t *Tag) Key(n int) keys.Key {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n < 0 || n >= NumKeys {
		return keys.Key{}
	}
	return t.keys[n].key
}

// KeyVersion returns the version of application key n.
func (t *Tag) KeyVersion(n int) byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n < 0 || n >= NumKeys {
		return 0
	}
	return t.keys[n].ver
}

// IsPersonalisedWith reports, in constant time per key, whether the tag's
// five application keys are exactly ks.
func (t *Tag) IsPersonalisedWith(ks [NumKeys]keys.Key) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	ok := true
	for i := range ks {
		ok = t.keys[i].key.Equal(ks[i]) && ok
	}
	return ok
}

// IsFactoryFresh reports whether keys, key versions, file settings and file
// contents are as shipped and the SDM read counter is zero.
func (t *Tag) IsFactoryFresh() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.factoryFresh()
}

func (t *Tag) factoryFresh() bool { return t.asShipped(true) }

// asShipped reports whether keys, key versions, file settings and file
// contents are as shipped, and with counters whether the SDM read counter
// is zero too.
func (t *Tag) asShipped(counters bool) bool {
	for _, k := range t.keys {
		if !k.key.IsZero() || k.ver != 0 {
			return false
		}
	}
	fresh := factoryFiles()
	if len(fresh) != len(t.files) {
		return false
	}
	for i, f := range fresh {
		g := t.files[i]
		if g.no != f.no || g.set != f.set || counters && g.ctr != 0 || string(g.data) != string(f.data) {
			return false
		}
	}
	return true
}

// errRand reports that Options.Rand ran dry; the tag answers MEMORY_ERROR.
var errRand = errors.New("sim: random source failed")

func (t *Tag) random(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(t.rnd, b); err != nil {
		return nil, errRand
	}
	return b, nil
}
