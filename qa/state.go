package qa

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// StateFormat names the layout of the state file.
const StateFormat = "tagline-qa-state/1"

// ErrState is wrapped by errors reading or writing the state file.
var ErrState = errors.New("qa state file")

// stateFile maps each UID to the highest read counter QA saw from it
// under each binding, by the binding's sequence number (0: the UID had no
// binding). A re-encode gives the tag a new binding and may reset its
// counter, so a counter only counts against the binding it was seen
// under; sequence numbers are per journal and never compared.
type stateFile struct {
	Format string                       `json:"format"`
	Tags   map[string]map[uint64]uint32 `json:"tags"`
}

// state is QA's memory of the counters it saw, kept in a small JSON file
// that only this package writes.
type state struct {
	path  string
	tags  map[string]map[uint64]uint32
	dirty bool
}

func loadState(path string) (*state, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: no path given; QA keeps the counters it saw there so that a replayed url is caught on a later run", ErrState)
	}
	tags, err := readState(path)
	if err != nil {
		return nil, err
	}
	return &state{path: path, tags: tags}, nil
}

// readState reads the file; a file that does not exist is an empty state,
// a file that cannot be read or parsed is an error (losing it silently
// would let replays through).
func readState(path string) (map[string]map[uint64]uint32, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]map[uint64]uint32{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrState, err)
	}
	var f stateFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%w: %s is not a qa state file (%v); move it aside only if you accept losing replay detection for the urls it remembers", ErrState, path, err)
	}
	if f.Format != StateFormat {
		return nil, fmt.Errorf("%w: %s has format %q, this tagline reads %q", ErrState, path, f.Format, StateFormat)
	}
	if f.Tags == nil {
		f.Tags = map[string]map[uint64]uint32{}
	}
	return f.Tags, nil
}

// last returns the highest counter seen from uid under binding seq.
func (s *state) last(uid string, seq uint64) (uint32, bool) {
	ctr, ok := s.tags[uid][seq]
	return ctr, ok
}

// see records a genuine counter; it never moves a counter back.
func (s *state) see(uid string, seq uint64, ctr uint32) {
	if s.put(uid, seq, ctr) {
		s.dirty = true
	}
}

func (s *state) put(uid string, seq uint64, ctr uint32) bool {
	m := s.tags[uid]
	if m == nil {
		m = map[uint64]uint32{}
		s.tags[uid] = m
	}
	if old, ok := m[seq]; ok && old >= ctr {
		return false
	}
	m[seq] = ctr
	return true
}

// save merges what is on disk (another run may have written since we
// read it) with what we saw and replaces the file atomically: temporary
// file in the same directory, fsync, rename, fsync of the directory.
func (s *state) save() error {
	if !s.dirty {
		return nil
	}
	disk, err := readState(s.path)
	if err != nil {
		return err
	}
	for uid, m := range disk {
		for seq, ctr := range m {
			s.put(uid, seq, ctr)
		}
	}
	b, err := json.Marshal(stateFile{Format: StateFormat, Tags: s.tags})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrState, err)
	}
	if err := writeAtomic(s.path, append(b, '\n')); err != nil {
		return fmt.Errorf("%w: %v", ErrState, err)
	}
	s.dirty = false
	return nil
}

func writeAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		// Some file systems refuse to fsync a directory; the rename is
		// then as durable as they make it.
		_ = d.Sync()
		d.Close()
	}
	return nil
}
