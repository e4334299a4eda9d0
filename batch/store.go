package batch

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tagline-station/tagline/internal/atomicfile"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// FormatVersion is the journal layout this tagline writes. A journal with a
// higher number is refused with ErrFormat instead of being misread.
const FormatVersion = 1

// journalMagic marks the meta bucket of a tagline journal, so that a bbolt
// file belonging to some other program is recognised and left alone.
const journalMagic = "tagline-journal"

var (
	bktMeta     = []byte("meta")
	bktBatches  = []byte("batches")
	bktBindings = []byte("bindings")
	bktIndex    = []byte("index")
	bktIntents  = []byte("intents")
	bktOutbox   = []byte("outbox")
	bktHistory  = []byte("history")
	bktStats    = []byte("stats")

	allBuckets = [][]byte{bktMeta, bktBatches, bktBindings, bktIndex, bktIntents, bktOutbox, bktHistory, bktStats}

	keyMagic   = []byte("magic")
	keyFormat  = []byte("format")
	keyStation = []byte("station")
	keyCreated = []byte("created")
	// keyJournalID is the journal's own random identity, which travels
	// with its sync uploads: a backend tells two journals that claim one
	// station apart by it.
	keyJournalID  = []byte("journal_id")
	keySyncedUpto = []byte("synced_upto")
)

// Options configures Open. The zero value is usable.
type Options struct {
	// StationID names this station in new bindings. When the journal is
	// created it is stored (default: the host name); when an existing
	// journal names another station, Open refuses it with ErrWrongStation.
	StationID string
	// LockTimeout bounds the wait for another process's lock on the file
	// (default 2s). bbolt would wait forever on zero, which a station
	// started twice by mistake must never do.
	LockTimeout time.Duration
	// Now is the clock (default time.Now); tests inject a fixed one.
	Now func() time.Time
	// ReadOnly opens an existing journal for reading only, under a shared
	// lock: other readers may open it too, a writer may not (and a writer
	// holding it makes Open wait, then fail with ErrLocked). Writes return
	// ErrReadOnly.
	ReadOnly bool
	// CopyOf marks the file as a private copy of the journal at that path
	// (package snapshot makes one while a station holds the journal):
	// Path and messages name the journal, and Close removes the copy.
	// Only with ReadOnly.
	CopyOf string
	// Rand draws a new journal's identity (default crypto/rand).
	Rand io.Reader
}

// Store is one station's journal. Its methods are safe for concurrent use.
type Store struct {
	path     string
	db       *bolt.DB
	now      func() time.Time
	station  string
	created  time.Time
	readOnly bool
	journal  string // the journal's identity (JournalID)
	copyOf   string // the journal this file is a copy of, if it is one
	c        *committer

	closeOnce sync.Once
	closeErr  error
}

// DefaultPath is where a station keeps its journal when --journal is not
// given: $XDG_DATA_HOME/tagline/journal.db, else ~/.local/share/... on
// Unix-like systems, and the user config directory on Windows and macOS
// (where there is no separate data directory).
func DefaultPath() (string, error) {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "tagline", "journal.db"), nil
	}
	switch runtime.GOOS {
	case "windows", "darwin", "ios", "plan9":
		d, err := os.UserConfigDir()
		if err != nil {
			return "", fmt.Errorf("no default journal location: %w; use --journal", err)
		}
		return filepath.Join(d, "tagline", "journal.db"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no default journal location: %w; use --journal", err)
	}
	return filepath.Join(home, ".local", "share", "tagline", "journal.db"), nil
}

// Open opens the journal at path, creating it if it does not exist. An
// existing file is inspected read-only before it is opened for writing, so
// a file that is not a healthy journal of ours is refused unmodified.
func Open(path string, opts Options) (*Store, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = 2 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if opts.StationID != "" {
		if err := validName("station id", opts.StationID); err != nil {
			return nil, err
		}
	}

	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if opts.ReadOnly {
			return nil, fmt.Errorf("open journal %s: %w", path, fs.ErrNotExist)
		}
		if err := create(path, opts); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("open journal %s: %w", path, err)
	case st.IsDir():
		return nil, fmt.Errorf("open journal %s: is a directory; --journal takes a file", path)
	}

	m, err := checkHeader(path)
	if err != nil {
		return nil, err
	}
	if m.damaged != "" && !opts.ReadOnly {
		return nil, fmt.Errorf("open journal %s: %w: %s; the file was left untouched, restore it from a backup or move it aside and start a new journal (tagline journal check reports it)", path, ErrCorrupt, damagedMetaProblem(m))
	}
	if opts.ReadOnly {
		s, err := openBolt(path, opts, true)
		if err == nil {
			s.copyOf = opts.CopyOf
		}
		return s, err
	}
	// Inspect under a shared lock first: nothing below writes to a file
	// that has not shown our meta bucket and sound pages.
	s, err := openBolt(path, opts, true)
	if err != nil {
		return nil, err
	}
	// Everything journal check looks at, so that no station appends to a
	// journal that check calls corrupt (and so buries the damage under
	// new commits).
	verr := s.Verify()
	if err := s.Close(); err != nil {
		return nil, fmt.Errorf("open journal %s: %w", path, err)
	}
	if verr != nil {
		return nil, openError(path, verr)
	}
	ws, err := openBolt(path, opts, false)
	if err == nil && ws.journal == "" {
		// A journal made before identities: it gets one now, once.
		if err = ws.giveIdentity(opts.Rand); err != nil {
			ws.Close()
			return nil, fmt.Errorf("open journal %s: %w", path, err)
		}
	}
	return ws, err
}

func newJournalID(r io.Reader) (string, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("a journal identity: %w", err)
	}
	return hex.EncodeToString(b), nil
}

func (s *Store) giveIdentity(r io.Reader) error {
	id, err := newJournalID(r)
	if err != nil {
		return err
	}
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bktMeta).Put(keyJournalID, []byte(id)) }); err != nil {
		return err
	}
	s.journal = id
	return nil
}

// JournalID is the journal's own random identity (32 hex digits).
func (s *Store) JournalID() string { return s.journal }

func openBolt(path string, opts Options, readOnly bool) (*Store, error) {
	var db *bolt.DB
	// Should bbolt panic inside Open (a damaged freelist page), the handle
	// it opened is lost with its lock until the process exits; the caller
	// gets ErrCorrupt and a station stops anyway.
	err := guard(func() error {
		var err error
		db, err = bolt.Open(path, 0o600, &bolt.Options{
			Timeout:  opts.LockTimeout,
			ReadOnly: readOnly,
			// Without it every commit also writes the freelist to new
			// pages: about a quarter fewer commits per second on the
			// station's disk. The price is a scan at open to rebuild the
			// freelist, ~0.2 s per million bindings.
			NoFreelistSync: true,
		})
		return err
	})
	if err != nil {
		return nil, openError(path, err)
	}
	s := &Store{path: path, db: db, now: opts.Now, readOnly: readOnly}
	err = s.view(func(tx *bolt.Tx) error {
		id, err := readIdentity(tx)
		if err != nil {
			return err
		}
		if opts.StationID != "" && opts.StationID != id.station {
			return fmt.Errorf("%w: it belongs to station %s, not %s; use --journal to open this station's own journal", ErrWrongStation, id.station, opts.StationID)
		}
		s.station, s.created, s.journal = id.station, id.created, id.journal
		return nil
	})
	if err == nil && readOnly {
		// Before bbolt reads its freelist (a writable open) or rebuilds
		// it by walking every page in a goroutine of its own (after an
		// unclean shutdown), where damage would crash the process or
		// have pages in use overwritten. The shared lock keeps writers
		// out meanwhile.
		err = verifyPages(path)
	}
	if err != nil {
		_ = db.Close()
		return nil, openError(path, err)
	}
	if !readOnly {
		s.c = startCommitter(db)
	}
	return s, nil
}

func openError(path string, err error) error {
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return fmt.Errorf("%w: another tagline process holds the journal %s; stop it or use --journal", ErrLocked, path)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum):
		return fmt.Errorf("open journal %s: %w: %w; the file was left untouched, restore it from a backup or move it aside", path, ErrCorrupt, err)
	case errors.Is(err, berrors.ErrVersionMismatch):
		return fmt.Errorf("open journal %s: %w: bbolt file version is not supported", path, ErrFormat)
	case errors.Is(err, ErrCorrupt):
		return fmt.Errorf("open journal %s: %w; the file was left untouched, restore it from a backup or move it aside", path, err)
	case errors.Is(err, ErrForeign), errors.Is(err, ErrWrongStation):
		return fmt.Errorf("open journal %s: %w; the file was left untouched", path, err)
	}
	return fmt.Errorf("open journal %s: %w", path, err)
}

type identity struct {
	format  int
	station string
	created time.Time
	journal string // empty in a journal made before identities
}

func readIdentity(tx *bolt.Tx) (identity, error) {
	var id identity
	meta := tx.Bucket(bktMeta)
	if meta == nil {
		n := 0
		_ = tx.ForEach(func([]byte, *bolt.Bucket) error { n++; return nil })
		if n == 0 {
			return id, fmt.Errorf("%w: an empty bbolt file (no buckets)", ErrForeign)
		}
		return id, fmt.Errorf("%w: a bbolt file of another program (no %q bucket)", ErrForeign, bktMeta)
	}
	if string(meta.Get(keyMagic)) != journalMagic {
		return id, fmt.Errorf("%w: a bbolt file of another program (its meta bucket has no tagline marker)", ErrForeign)
	}
	f, err := strconv.Atoi(string(meta.Get(keyFormat)))
	if err != nil || f < 1 {
		return id, fmt.Errorf("%w: unreadable format version %q", ErrCorrupt, meta.Get(keyFormat))
	}
	if f > FormatVersion {
		return id, fmt.Errorf("%w: journal format %d was written by a newer tagline (this one reads up to %d); upgrade tagline", ErrFormat, f, FormatVersion)
	}
	id.format = f
	id.station = string(meta.Get(keyStation))
	if err := validName("station id", id.station); err != nil {
		return id, fmt.Errorf("%w: stored station id: %w", ErrCorrupt, err)
	}
	if id.created, err = time.Parse(time.RFC3339Nano, string(meta.Get(keyCreated))); err != nil {
		return id, fmt.Errorf("%w: unreadable creation time", ErrCorrupt)
	}
	if v := meta.Get(keyJournalID); v != nil {
		if b, err := hex.DecodeString(string(v)); err != nil || len(b) != 16 || strings.ToLower(string(v)) != string(v) {
			return id, fmt.Errorf("%w: unreadable journal identity", ErrCorrupt)
		}
		id.journal = string(v)
	}
	for _, name := range allBuckets {
		if tx.Bucket(name) == nil {
			return id, fmt.Errorf("%w: the %s bucket is missing", ErrCorrupt, name)
		}
	}
	return id, nil
}

// create builds a complete journal in a temporary file and links it into
// place, so that a crash never leaves a half-initialised file at path, and a
// file created meanwhile by someone else is never replaced.
func create(path string, opts Options) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create journal %s: %w", path, err)
	}
	station := opts.StationID
	if station == "" {
		station = hostStation()
	}
	jid, err := newJournalID(opts.Rand)
	if err != nil {
		return fmt.Errorf("create journal %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, ".tagline-journal-*.tmp")
	if err != nil {
		return fmt.Errorf("create journal %s: %w", path, err)
	}
	name := tmp.Name()
	_ = tmp.Close()
	defer os.Remove(name)

	db, err := bolt.Open(name, 0o600, &bolt.Options{Timeout: opts.LockTimeout})
	if err != nil {
		return fmt.Errorf("create journal %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucket(b); err != nil {
				return err
			}
		}
		m := tx.Bucket(bktMeta)
		for k, v := range map[string]string{
			string(keyMagic):     journalMagic,
			string(keyFormat):    strconv.Itoa(FormatVersion),
			string(keyStation):   station,
			string(keyCreated):   opts.Now().UTC().Format(time.RFC3339Nano),
			string(keyJournalID): jid,
		} {
			if err := m.Put([]byte(k), []byte(v)); err != nil {
				return err
			}
		}
		return m.Put(keySyncedUpto, cursorValue(0))
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("create journal %s: %w", path, err)
	}
	if err := os.Link(name, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil // created concurrently; Open inspects whatever is there
		}
		if _, statErr := os.Lstat(path); statErr == nil {
			return nil
		}
		// Some file systems have no hard links; a rename could replace a file
		// created since the Stat above, which is a narrow window we accept.
		if err := os.Rename(name, path); err != nil {
			return fmt.Errorf("create journal %s: %w", path, err)
		}
	}
	atomicfile.SyncDir(dir)
	return nil
}

func hostStation() string {
	h, _ := os.Hostname()
	h, _, _ = strings.Cut(h, ".")
	var b strings.Builder
	for _, r := range h {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			b.WriteRune(r)
		}
	}
	s := strings.TrimLeft(b.String(), "-_")
	if s == "" {
		return "station"
	}
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}

// bbolt's on-disk meta page (bbolt file format version 2), read here by
// hand so that a damaged or truncated file is recognised before bbolt maps
// it: bbolt trusts the meta page and would fault on pages past the end.
const (
	boltMagic       = 0xED0CDAED
	boltVersion     = 2
	pageHeaderSize  = 16
	metaSize        = 64 // magic..checksum
	metaChecksumOff = 56
)

type boltMeta struct {
	// damaged names a meta page that fails bbolt's checks while the other
	// passes them; empty when both are sound.
	damaged  string
	pageSize uint32
	root     uint64 // root bucket's page
	freelist uint64 // noFreelist when bbolt must rebuild it at open
	pgid     uint64
	txid     uint64
}

const noFreelist = ^uint64(0)

// parseMeta reports whether buf holds a valid meta page, and whether it at
// least starts with bbolt's magic number (to tell "damaged" from "foreign").
func parseMeta(buf []byte) (m boltMeta, valid, magic bool) {
	if len(buf) < pageHeaderSize+4 {
		return m, false, false
	}
	b := buf[pageHeaderSize:]
	magic = binary.LittleEndian.Uint32(b[0:4]) == boltMagic
	if !magic || len(b) < metaSize {
		return m, false, magic
	}
	if binary.LittleEndian.Uint32(b[4:8]) != boltVersion {
		return m, false, true
	}
	h := fnv.New64a()
	h.Write(b[:metaChecksumOff])
	if h.Sum64() != binary.LittleEndian.Uint64(b[metaChecksumOff:metaSize]) {
		return m, false, true
	}
	m.pageSize = binary.LittleEndian.Uint32(b[8:12])
	m.root = binary.LittleEndian.Uint64(b[16:24])
	m.freelist = binary.LittleEndian.Uint64(b[32:40])
	m.pgid = binary.LittleEndian.Uint64(b[40:48])
	m.txid = binary.LittleEndian.Uint64(b[48:56])
	return m, true, true
}

func checkHeader(path string) (boltMeta, error) {
	f, err := os.Open(path)
	if err != nil {
		return boltMeta{}, fmt.Errorf("open journal %s: %w", path, err)
	}
	defer f.Close()
	corrupt := func(why string) error {
		return fmt.Errorf("open journal %s: %w: %s; the file was left untouched, restore it from a backup or move it aside and start a new journal", path, ErrCorrupt, why)
	}

	// The meta pages are read before the size, so that a journal growing
	// under a live writer never looks truncated.
	buf := make([]byte, 4096)
	n, err := f.ReadAt(buf, 0)
	if err != nil && err != io.EOF {
		return boltMeta{}, fmt.Errorf("open journal %s: %w", path, err)
	}
	if n == 0 {
		return boltMeta{}, fmt.Errorf("open journal %s: %w: the file is empty; remove it to start a new journal", path, ErrForeign)
	}
	m0, ok0, magic0 := parseMeta(buf[:n])
	var m1 boltMeta
	var ok1, magic1 bool
	// The second meta page sits one page further; its size is known from
	// the first page when that one is valid, otherwise every size bbolt
	// allows is tried, as bbolt does.
	sizes := []int64{int64(m0.pageSize)}
	if !ok0 {
		sizes = sizes[:0]
		for i := 0; i <= 14; i++ {
			sizes = append(sizes, 1024<<i)
		}
	}
	for _, off := range sizes {
		k, err := f.ReadAt(buf, off)
		if err != nil && err != io.EOF {
			return boltMeta{}, fmt.Errorf("open journal %s: %w", path, err)
		}
		if k == 0 {
			break
		}
		m, ok, mg := parseMeta(buf[:k])
		magic1 = magic1 || mg
		if ok && int64(m.pageSize) == off {
			m1, ok1 = m, true
			break
		}
	}
	if !ok0 && !ok1 {
		if magic0 || magic1 {
			return boltMeta{}, corrupt("both bbolt meta pages are damaged or cut off")
		}
		return boltMeta{}, fmt.Errorf("open journal %s: %w: no bbolt header; the file was left untouched (if it was a journal, it is damaged beyond recognition: restore it from a backup)", path, ErrForeign)
	}
	m := m0
	if !ok0 || (ok1 && m1.txid > m0.txid) {
		m = m1
	}
	// bbolt reads on with the sound page, which, when the damaged one was
	// the newer, silently drops the last commit: a binding turns back into
	// an open intent. Which page was the newer cannot be told any more, so
	// either is reported (see "Opening" in doc.go).
	switch {
	case !ok0 && ok1:
		m.damaged = "meta page 0"
	case ok0 && !ok1:
		m.damaged = "meta page 1"
	}
	st, err := f.Stat()
	if err != nil {
		return boltMeta{}, fmt.Errorf("open journal %s: %w", path, err)
	}
	if want := int64(m.pgid) * int64(m.pageSize); st.Size() < want {
		return boltMeta{}, corrupt(fmt.Sprintf("the file is truncated (%d bytes where its header says %d are in use)", st.Size(), want))
	}
	return m, nil
}

func damagedMetaProblem(m boltMeta) string {
	return fmt.Sprintf("bbolt's %s is damaged (it fails its checksum) while the other is sound; the last commit may be lost", m.damaged)
}

// verifyPages runs checkPages on the file as it is now; the caller holds
// its lock.
func verifyPages(path string) error {
	m, err := checkHeader(path)
	if err != nil {
		return err
	}
	probs, err := checkPages(path, m)
	if err != nil {
		return err
	}
	if len(probs) > 0 {
		more := ""
		if len(probs) > 1 {
			more = fmt.Sprintf(" (and %d more)", len(probs)-1)
		}
		return fmt.Errorf("%w: %s%s", ErrCorrupt, probs[0], more)
	}
	return nil
}

// guard runs fn with faults on the memory map turned into panics and any
// panic into ErrCorrupt: bbolt trusts what it reads and panics (or faults)
// on damaged pages, and a station must report that, not crash.
func guard(fn func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: reading the file failed (%v)", ErrCorrupt, r)
		}
	}()
	return fn()
}

func (s *Store) view(fn func(tx *bolt.Tx) error) error {
	return closedErr(guard(func() error { return s.db.View(fn) }))
}

func closedErr(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// Path is the journal file (the journal's own, for a copy).
func (s *Store) Path() string {
	if s.copyOf != "" {
		return s.copyOf
	}
	return s.path
}

// StationID is the station the journal belongs to.
func (s *Store) StationID() string { return s.station }

// Close waits for queued commits, writes bbolt's freelist (see doc.go),
// then releases the file and its lock.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if s.c != nil {
			s.c.stop()
			// Leave the freelist on disk so that the next Open need not
			// rebuild it (see Open). Failing here loses nothing: the
			// journal is then verified at the next Open.
			s.db.NoFreelistSync = false
			_ = guard(func() error { return s.db.Update(func(*bolt.Tx) error { return nil }) })
		}
		s.closeErr = s.db.Close()
		if s.copyOf != "" {
			if err := os.Remove(s.path); err != nil && s.closeErr == nil {
				s.closeErr = err
			}
		}
	})
	return s.closeErr
}

func seqKey(seq uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, seq)
	return k
}

func keySeq(k []byte) (uint64, bool) {
	if len(k) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(k), true
}

// WriteSnapshot writes a consistent copy of the whole journal to w, as of
// one read transaction, and returns its size. Writers go on meanwhile.
func (s *Store) WriteSnapshot(w io.Writer, size func(int64) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		if err := size(tx.Size()); err != nil {
			return err
		}
		_, err := tx.WriteTo(w)
		return err
	})
}
