package batch

import (
	"errors"
	"fmt"
	"time"

	"github.com/tagline-station/tagline/internal/errkind"
	"github.com/tagline-station/tagline/manifest"
)

var (
	// ErrLocked: another process (or another Store in this one) has the
	// journal open for writing. It is busy, not broken: try again later.
	ErrLocked = errkind.New(errkind.Busy, "journal is locked")
	// ErrCorrupt: the file is not a readable bbolt file, or a record or
	// bucket inside it cannot be read. The file is left untouched.
	ErrCorrupt = errkind.New(errkind.Journal, "journal is corrupt")
	// ErrForeign: the file is not a tagline journal (not a bbolt file, or a
	// bbolt file of another program). The file is left untouched.
	ErrForeign = errkind.New(errkind.Journal, "not a tagline journal")
	// ErrWrongStation: the journal belongs to another station than
	// Options.StationID. The file is left untouched.
	ErrWrongStation = errkind.New(errkind.Journal, "journal of another station")
	// ErrFormat: the journal or a record was written by a newer tagline.
	ErrFormat = errkind.New(errkind.Journal, "unsupported journal format")
	// ErrClosed: the Store was closed.
	ErrClosed = errkind.New(errkind.Journal, "journal is closed")
	// ErrReadOnly: a write on a Store opened with Options.ReadOnly.
	ErrReadOnly = errkind.New(errkind.Journal, "journal is open read-only")
	// ErrInvalid: an argument failed validation; nothing was written.
	ErrInvalid = errkind.New(errkind.Usage, "invalid journal input")

	// ErrMixedReaders: simulated and real tags in one batch.
	ErrMixedReaders = errkind.New(errkind.Usage, "simulated and real tags cannot share a batch")
	ErrNoBatch      = errkind.New(errkind.Usage, "no such batch")
	ErrBatchExists  = errkind.New(errkind.Usage, "batch already exists")
	ErrBatchClosed  = errkind.New(errkind.Usage, "batch is closed")
	// ErrDuplicate: the tag already has a binding. Use errors.As with
	// *DuplicateError for the batch and time.
	ErrDuplicate = errkind.New(errkind.Tag, "tag already encoded")
	// ErrIntentOpen: the tag has an open intent that conflicts with the new
	// one (another batch or other keys).
	ErrIntentOpen = errkind.New(errkind.Tag, "tag has an open intent")
	// ErrNoIntent: Complete or FailIntent for a tag without an open intent.
	ErrNoIntent = errors.New("no open intent for tag")
	// ErrAckBeyond: Ack of a sequence number the journal has not reached.
	ErrAckBeyond = errors.New("ack beyond the end of the journal")
)

// DuplicateError tells which batch already holds the tag and since when.
type DuplicateError struct {
	UID       manifest.UID
	BatchID   string
	Completed time.Time
}

func (e *DuplicateError) Error() string {
	return fmt.Sprintf("tag %s already encoded in batch %s at %s; use --reencode to encode it again",
		e.UID, e.BatchID, e.Completed.UTC().Format(time.RFC3339))
}

func (e *DuplicateError) Unwrap() error { return ErrDuplicate }
