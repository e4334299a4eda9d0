package batch

import (
	"errors"
	"fmt"
	"time"
)

var (
	// ErrLocked: another process (or another Store in this one) has the
	// journal open for writing.
	ErrLocked = errors.New("journal is locked")
	// ErrCorrupt: the file is not a readable bbolt file, or a record or
	// bucket inside it cannot be read. The file is left untouched.
	ErrCorrupt = errors.New("journal is corrupt")
	// ErrForeign: the file is not a tagline journal (not a bbolt file, or a
	// bbolt file of another program). The file is left untouched.
	ErrForeign = errors.New("not a tagline journal")
	// ErrWrongStation: the journal belongs to another station than
	// Options.StationID. The file is left untouched.
	ErrWrongStation = errors.New("journal of another station")
	// ErrFormat: the journal or a record was written by a newer tagline.
	ErrFormat = errors.New("unsupported journal format")
	// ErrClosed: the Store was closed.
	ErrClosed = errors.New("journal is closed")
	// ErrReadOnly: a write on a Store opened with Options.ReadOnly.
	ErrReadOnly = errors.New("journal is open read-only")
	// ErrInvalid: an argument failed validation; nothing was written.
	ErrInvalid = errors.New("invalid journal input")

	ErrNoBatch     = errors.New("no such batch")
	ErrBatchExists = errors.New("batch already exists")
	ErrBatchClosed = errors.New("batch is closed")
	// ErrDuplicate: the tag already has a binding. Use errors.As with
	// *DuplicateError for the batch and time.
	ErrDuplicate = errors.New("tag already encoded")
	// ErrIntentOpen: the tag has an open intent that conflicts with the new
	// one (another batch or other keys).
	ErrIntentOpen = errors.New("tag has an open intent")
	// ErrNoIntent: Complete or FailIntent for a tag without an open intent.
	ErrNoIntent = errors.New("no open intent for tag")
	// ErrAckBeyond: Ack of a sequence number the journal has not reached.
	ErrAckBeyond = errors.New("ack beyond the end of the journal")
)

// DuplicateError tells which batch already holds the tag and since when.
type DuplicateError struct {
	UID       string
	BatchID   string
	Completed time.Time
}

func (e *DuplicateError) Error() string {
	return fmt.Sprintf("tag %s already encoded in batch %s at %s; use --reencode to encode it again",
		e.UID, e.BatchID, e.Completed.UTC().Format(time.RFC3339))
}

func (e *DuplicateError) Unwrap() error { return ErrDuplicate }
