package qa

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/tagline-station/tagline/internal/atomicfile"
	"github.com/tagline-station/tagline/manifest"
)

// StateFormat names the layout of the state file: a first line that is a
// snapshot object {"format":..., "gen":..., "tags":{uid:{seq:ctr}}}, then
// one entry line per counter seen since the snapshot,
// {"uid":...,"seq":...,"ctr":...}. gen counts the rewrites of the file.
// A file of format 1 is the snapshot line alone; it is read and, at the
// next write, rewritten as format 2.
const StateFormat = "tagline-qa-state/2"

const stateFormatV1 = "tagline-qa-state/1"

// ErrState is wrapped by errors reading or writing the state file.
var ErrState = errors.New("qa state file")

// Bounds of the state file: it is QA's own, but it is read from disk and
// a wrong --state (a device, a huge file) must fail rather than eat the
// memory of the station.
const (
	maxStateBytes     = 256 << 20
	maxStateEntryLine = 1 << 10
)

// compactSlack is the number of entry lines allowed beyond twice the live
// counters before the file is rewritten as one snapshot, so that a
// rewrite costs O(1) amortised per counter seen. (A variable for tests.)
var compactSlack = 1024

// stateFile is the snapshot line. It maps each UID to the highest read
// counter QA saw from it under each binding, by the binding's sequence
// number (0: the UID had no binding). A re-encode gives the tag a new
// binding and may reset its counter, so a counter only counts against the
// binding it was seen under; sequence numbers are per journal and never
// compared.
type stateFile struct {
	Format string                             `json:"format"`
	Gen    uint64                             `json:"gen,omitempty"`
	Tags   map[manifest.UID]map[uint64]uint32 `json:"tags"`
}

// snapshotHead starts every snapshot this package writes, gen follows: a
// run that read generation g of the file at some offset checks, with a
// few bytes, that the file is still generation g before it reads on from
// there. (The file's identity alone is not enough: a rewrite frees the
// old inode, and a later rewrite may get its number back.)
const snapshotHead = `{"format":"` + StateFormat + `","gen":`

// stateEntry is one appended line: a counter seen.
type stateEntry struct {
	UID manifest.UID `json:"uid"`
	Seq uint64       `json:"seq"`
	Ctr uint32       `json:"ctr"`
}

// state is QA's memory of the counters it saw. Writing it is linear in
// the counters seen: each save appends the new entries and fsyncs, and
// the file is rewritten (atomically) only when the appended lines exceed
// twice the live counters plus compactSlack. Saves hold a lock on
// <path>.lock so that runs sharing the file neither lose an append to a
// rewrite nor interleave lines; each save first reads what other runs
// appended since, so the file is a merge of all of them.
type state struct {
	path    string
	tags    map[manifest.UID]map[uint64]uint32
	live    int          // (uid, seq) pairs in tags
	pending []stateEntry // seen, not yet on disk
	// What this run read of the file: its identity, the bytes read (up
	// to the last complete line), and the entry lines in it.
	file  fs.FileInfo
	off   int64
	lines int
	// gen is the generation read. repair: the file must be rewritten
	// before anything is appended (format 1, a snapshot line without its
	// newline or not starting with snapshotHead).
	gen    uint64
	repair bool
}

func loadState(path string) (*state, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: no path given; QA keeps the counters it saw there so that a replayed url is caught on a later run", ErrState)
	}
	s := &state{path: path, tags: map[manifest.UID]map[uint64]uint32{}}
	// Reading needs no lock: a rewrite is a rename, and a line being
	// appended is incomplete, so it is left for the next read.
	if err := s.reread(); err != nil {
		return nil, err
	}
	return s, nil
}

// reread merges the whole file into memory.
func (s *state) reread() error {
	s.file, s.off, s.lines, s.repair = nil, 0, 0, false
	f, err := os.Open(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrState, err)
	}
	defer f.Close()
	return s.readTail(f)
}

// readTail merges what f holds beyond s.off: all of it when it is
// another file than the one read before, or shrank since. An empty file
// is an empty state (save creates one to lock it; a snapshot is never
// empty). A file that cannot be read or parsed is an error: losing it
// silently would let replays through.
func (s *state) readTail(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrState, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is not a regular file; give --state a file path", ErrState, s.path)
	}
	if s.file == nil || !os.SameFile(s.file, fi) || fi.Size() < s.off || !s.sameGen(f) {
		s.off, s.lines, s.repair = 0, 0, false
	}
	s.file = fi
	if fi.Size()-s.off > maxStateBytes {
		return fmt.Errorf("%w: %s is larger than %d MiB; it is not a qa state file, or it was never compacted", ErrState, s.path, maxStateBytes>>20)
	}
	b, err := io.ReadAll(io.NewSectionReader(f, s.off, maxStateBytes+1))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrState, err)
	}
	if len(b) > maxStateBytes {
		return fmt.Errorf("%w: %s grew beyond %d MiB while being read", ErrState, s.path, maxStateBytes>>20)
	}
	return s.parse(b)
}

// sameGen reports whether f is still the generation read (only asked
// when the snapshot was read and is not due for repair).
func (s *state) sameGen(f *os.File) bool {
	if s.off == 0 || s.repair {
		return true
	}
	buf := make([]byte, len(snapshotHead)+21)
	n, _ := f.ReadAt(buf, 0)
	head, ok := bytes.CutPrefix(buf[:n], []byte(snapshotHead))
	if !ok {
		return false
	}
	end := bytes.IndexByte(head, ',')
	if end < 0 {
		return false
	}
	return string(head[:end]) == strconv.FormatUint(s.gen, 10)
}

// parse merges b, the file's bytes from s.off on, and moves s.off past
// the complete lines it took.
func (s *state) parse(b []byte) error {
	if s.off == 0 {
		if len(b) == 0 {
			return nil
		}
		n, err := s.parseSnapshot(b)
		if err != nil {
			return err
		}
		b, s.off = b[n:], int64(n)
	}
	n, err := s.parseEntries(b)
	s.off += int64(n)
	return err
}

// parseSnapshot reads the first line and returns the bytes it took.
func (s *state) parseSnapshot(b []byte) (int, error) {
	end := bytes.IndexByte(b, '\n')
	line, used := b, len(b)
	if end >= 0 {
		line, used = b[:end], end+1
	} else {
		// A snapshot is written whole (rename); one without its newline
		// was written by hand, and is rewritten before an append.
		s.repair = true
	}
	var f stateFile
	if err := json.Unmarshal(line, &f); err != nil {
		return 0, fmt.Errorf("%w: %s is not a qa state file (%w); move it aside only if you accept losing replay detection for the urls it remembers", ErrState, s.path, err)
	}
	s.gen = f.Gen
	switch f.Format {
	case StateFormat:
		if !bytes.HasPrefix(line, []byte(snapshotHead)) {
			s.repair = true
		}
	case stateFormatV1:
		s.repair = true
	default:
		return 0, fmt.Errorf("%w: %s has format %q, this tagline reads %q", ErrState, s.path, f.Format, StateFormat)
	}
	for uid, m := range f.Tags {
		for seq, ctr := range m {
			s.put(uid, seq, ctr)
		}
	}
	return used, nil
}

// parseEntries reads complete entry lines and returns the bytes they
// took; an incomplete last line is an append in progress, or one torn by
// a crash, and is left alone.
func (s *state) parseEntries(b []byte) (int, error) {
	used := 0
	for {
		end := bytes.IndexByte(b[used:], '\n')
		if end < 0 {
			if len(b)-used > maxStateEntryLine {
				return used, fmt.Errorf("%w: %s: an entry line longer than %d bytes; it is not a qa state file", ErrState, s.path, maxStateEntryLine)
			}
			return used, nil
		}
		line := b[used : used+end]
		var e stateEntry
		if len(line) > maxStateEntryLine || json.Unmarshal(line, &e) != nil || e.UID == "" {
			return used, fmt.Errorf("%w: %s: entry %d is damaged (%.60q); move the file aside only if you accept losing replay detection for the urls it remembers",
				ErrState, s.path, s.lines+1, line)
		}
		s.put(e.UID, e.Seq, e.Ctr)
		s.lines++
		used += end + 1
	}
}

// last returns the highest counter seen from uid under binding seq.
func (s *state) last(uid manifest.UID, seq uint64) (uint32, bool) {
	ctr, ok := s.tags[uid][seq]
	return ctr, ok
}

// see records a genuine counter; it never moves a counter back.
func (s *state) see(uid manifest.UID, seq uint64, ctr uint32) {
	if s.put(uid, seq, ctr) {
		s.pending = append(s.pending, stateEntry{UID: uid, Seq: seq, Ctr: ctr})
	}
}

func (s *state) put(uid manifest.UID, seq uint64, ctr uint32) bool {
	m := s.tags[uid]
	if m == nil {
		m = map[uint64]uint32{}
		s.tags[uid] = m
	}
	old, ok := m[seq]
	if ok && old >= ctr {
		return false
	}
	if !ok {
		s.live++
	}
	m[seq] = ctr
	return true
}

// save makes the counters seen since the last save durable: under the
// lock it merges what other runs appended, then appends ours and fsyncs,
// or rewrites the file when it is due.
func (s *state) save() error {
	if len(s.pending) == 0 {
		return nil
	}
	f, err := lockState(s.path)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrState, err)
	}
	defer unlockState(f)
	if err := s.readTail(f); err != nil {
		return err
	}
	if s.off == 0 || s.repair || s.lines+len(s.pending) > 2*s.live+compactSlack {
		err = s.compact()
	} else {
		err = s.appendPending(f)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrState, err)
	}
	s.pending = s.pending[:0]
	return nil
}

// lockState opens the state file (creating it empty if need be) and
// locks it. A rewrite renames another file over the path while holding
// the lock of the old one, so once locked, the file must still be the
// one at the path, else the lock is taken again on the new one. The
// kernel drops the lock of a process that dies.
func lockState(path string) (*os.File, error) {
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, err
		}
		if err := lockFile(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		held, err := f.Stat()
		if err != nil {
			unlockState(f)
			return nil, err
		}
		now, err := os.Stat(path)
		if err == nil && os.SameFile(held, now) {
			return f, nil
		}
		unlockState(f)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
}

func unlockState(f *os.File) {
	unlockFile(f)
	f.Close()
}

// appendPending writes the pending entries after the last complete line
// (dropping a torn one: under the lock nobody is writing) and fsyncs.
func (s *state) appendPending(f *os.File) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, e := range s.pending {
		if err := enc.Encode(e); err != nil {
			return err
		}
	}
	if s.file.Size() != s.off {
		if err := f.Truncate(s.off); err != nil {
			return err
		}
	}
	if _, err := f.WriteAt(buf.Bytes(), s.off); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	s.off += int64(buf.Len())
	s.lines += len(s.pending)
	return nil
}

// compact replaces the file with one snapshot line of everything known.
func (s *state) compact() error {
	b, err := s.snapshot(s.gen + 1)
	if err != nil {
		return err
	}
	if err := writeAtomic(s.path, b); err != nil {
		return err
	}
	fi, err := os.Stat(s.path)
	if err != nil {
		return err
	}
	s.file, s.off, s.lines, s.repair, s.gen = fi, int64(len(b)), 0, false, s.gen+1
	return nil
}

// snapshot is the snapshot line of everything known, as generation gen.
func (s *state) snapshot(gen uint64) ([]byte, error) {
	uids := make([]manifest.UID, 0, len(s.tags))
	for uid := range s.tags {
		uids = append(uids, uid)
	}
	slices.Sort(uids)
	// json.Marshal sorts map keys; the uids are sorted for a stable file
	// that diffs well.
	var b strings.Builder
	fmt.Fprintf(&b, `%s%d,"tags":{`, snapshotHead, gen)
	for i, uid := range uids {
		m, err := json.Marshal(s.tags[uid])
		if err != nil {
			return nil, err
		}
		k, _ := json.Marshal(uid)
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(m)
	}
	b.WriteString("}}\n")
	return []byte(b.String()), nil
}

func writeAtomic(path string, data []byte) error {
	return atomicfile.Write(path, 0o600, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}
