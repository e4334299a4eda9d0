package batch

import (
	"errors"

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

// Probe makes one durable write, of a key that nothing reads, and removes
// it in the same commit: it fails with ErrWriteFailed as long as the file
// system refuses the journal's commits. A station on hold calls it before
// it lets the lanes go on.
func (s *Store) Probe() error {
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
