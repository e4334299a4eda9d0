//go:build !cgo

package libnfc

import (
	"context"
	"fmt"

	"github.com/tagline-station/tagline/reader"
)

// Compiled reports whether the libnfc binding is part of this build. It is
// false in builds without cgo, where Open always fails.
const Compiled = false

var errNotCompiled = fmt.Errorf("%w: this tagline was built without cgo (CGO_ENABLED=0), so the libnfc reader is not compiled in; rebuild with CGO_ENABLED=1 after installing libnfc-dev (scripts/setup.sh)", reader.ErrStackUnavailable)

// Device is a libnfc reader. Without cgo it cannot be opened.
type Device struct{}

// Tag is a tag selected by a Device. Without cgo there are none.
type Tag struct{}

// Open fails: see Compiled.
func Open(connstring string) (*Device, error) { return nil, errNotCompiled }

// OpenOptions fails: see Compiled.
func OpenOptions(connstring string, opts Options) (*Device, error) { return nil, errNotCompiled }

func (d *Device) Connstring() string { return "" }
func (d *Device) Info() reader.Info  { return reader.Info{Kind: reader.KindLibNFC} }
func (d *Device) WaitTag(ctx context.Context) (reader.Tag, error) {
	return nil, errNotCompiled
}
func (d *Device) WaitRemoved(ctx context.Context) error { return errNotCompiled }
func (d *Device) Close() error                          { return nil }

func (t *Tag) UID() []byte   { return nil }
func (t *Tag) ATS() []byte   { return nil }
func (t *Tag) ATQA() [2]byte { return [2]byte{} }
func (t *Tag) SAK() byte     { return 0 }
func (t *Tag) Transmit(ctx context.Context, capdu []byte) ([]byte, error) {
	return nil, errNotCompiled
}
func (t *Tag) Close() error { return nil }

var (
	_ reader.Reader = (*Device)(nil)
	_ reader.Tag    = (*Tag)(nil)
)
