package batch

import (
	"errors"
	"fmt"
	"os"

	bolt "go.etcd.io/bbolt"

	"github.com/tagline-station/tagline/internal/errkind"
)

// ErrWriteFailed: the file system refused a commit (a full disk, an I/O
// error). Nothing of the failed group was recorded; the journal is intact
// and takes writes again once the cause is gone (Probe tells when). It is
// matched with errors.Is on any error of a write whose commit failed.
var ErrWriteFailed = errkind.New(errkind.Journal, "journal write failed")

// writeFailure marks a commit error as ErrWriteFailed without changing
// its words.
type writeFailure struct{ err error }

func (w writeFailure) Error() string   { return w.err.Error() }
func (w writeFailure) Unwrap() []error { return []error{w.err, ErrWriteFailed} }

var keyProbe = []byte("probe")

// ProbeRoom is the room Probe asks of the journal's file system: bbolt
// reuses freed pages, so one small commit can succeed on a full disk and
// the next binding, which needs new pages, fail again.
const ProbeRoom = 1 << 20

// Probe tells whether the journal takes writes again: it writes ProbeRoom
// bytes beside the journal, durably, and removes them, then makes one
// durable commit of a key that nothing reads and removes it in the same
// commit. It fails with ErrWriteFailed while the file system refuses
// either. A station on hold calls it before it lets the lanes go on.
func (s *Store) Probe() error {
	if err := probeRoom(s.path + ".probe"); err != nil {
		return fmt.Errorf("journal %s: no room for new pages: %w", s.path, writeFailure{err})
	}
	return s.write(func(tx *bolt.Tx) error {
		bk, err := buckets(tx)
		if err != nil {
			return err
		}
		if err := bk.meta.Put(keyProbe, []byte{1}); err != nil {
			return err
		}
		return bk.meta.Delete(keyProbe)
	})
}

func probeRoom(path string) (err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if rerr := os.Remove(path); err == nil {
			err = rerr
		}
	}()
	buf := make([]byte, 64<<10)
	for n := 0; n < ProbeRoom; n += len(buf) {
		if _, err := f.Write(buf); err != nil {
			return err
		}
	}
	return f.Sync()
}

// InjectWriteFault makes every later commit of s first call fn; an error
// from fn fails that commit as a failing disk would (ErrWriteFailed,
// nothing recorded). nil removes the fault. It exists for tests of what a
// station does when its disk fills up, which a test cannot always cause.
func (s *Store) InjectWriteFault(fn func() error) {
	if s.c == nil {
		return
	}
	if fn == nil {
		s.c.fault.Store(nil)
		return
	}
	s.c.fault.Store(&fn)
}

// IsWriteFailure reports whether err is a refused commit.
func IsWriteFailure(err error) bool { return errors.Is(err, ErrWriteFailed) }
