package reader

import (
	"context"
	"fmt"

	"github.com/tagline-station/tagline/internal/errkind"
)

// ErrTagRemoved reports that the tag left the field (or the reader went away)
// before the exchange completed. Whether the tag saw the command is unknown.
var ErrTagRemoved = errkind.New(errkind.Tag, "tag removed")

// ErrNoReader reports that the named reader does not exist or disappeared.
var ErrNoReader = errkind.New(errkind.Tag, "reader not found")

// ErrStackUnavailable reports that a reader stack (pcscd, libnfc) cannot be
// reached or was not compiled in.
var ErrStackUnavailable = errkind.New(errkind.Tag, "reader stack unavailable")

// Card carries APDUs to one tag. It is the only thing the encoder needs.
type Card interface {
	// Transmit sends one command APDU and returns the response APDU
	// including its two status bytes.
	Transmit(ctx context.Context, capdu []byte) ([]byte, error)
}

// Tag is a card that has been detected in a reader's field.
type Tag interface {
	Card
	// UID is the anticollision UID the reader saw (7 bytes for an NTAG 424
	// DNA in its default configuration). It may be empty when the reader
	// cannot report it; callers then ask the tag.
	UID() []byte
	// Close releases the connection; it does not affect the tag.
	Close() error
}

// Kind names a reader stack.
type Kind string

const (
	KindPCSC   Kind = "pcsc"
	KindLibNFC Kind = "libnfc"
	KindSim    Kind = "sim"
)

// Info describes one reader for discovery and `tagline readers`.
type Info struct {
	Name       string `json:"name"`
	Kind       Kind   `json:"kind"`
	TagPresent bool   `json:"tag_present"`
}

// Reader is one physical (or simulated) reader slot.
type Reader interface {
	Info() Info
	// WaitTag blocks until a tag is in the field and returns it connected.
	// It returns ctx.Err() when ctx ends first. Implementations wait on
	// the stack's own event mechanism where it has one, not a busy loop.
	WaitTag(ctx context.Context) (Tag, error)
	// WaitRemoved blocks until the current tag has left the field.
	WaitRemoved(ctx context.Context) error
	Close() error
}

// RemovedError wraps a stack-specific cause as ErrTagRemoved.
func RemovedError(cause error) error {
	if cause == nil {
		return ErrTagRemoved
	}
	return fmt.Errorf("%w: %w", ErrTagRemoved, cause)
}

// Indicator is a reader with lights or a buzzer that the station drives
// after each result, so an operator who is not looking at the screen still
// notices a failure. Readers without them do not implement it; a reader
// that refuses the command returns an error that the station ignores.
type Indicator interface {
	Indicate(ctx context.Context, passed bool) error
}
