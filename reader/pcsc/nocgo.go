//go:build !cgo

package pcsc

import (
	"context"
	"fmt"

	"github.com/tagline-station/tagline/reader"
)

// Stack is a connection to pcscd. In this build (no cgo) it cannot be
// opened.
type Stack struct{}

// Open fails: PC/SC needs cgo and libpcsclite.
func Open(ctx context.Context, opts ...Option) (*Stack, error) {
	return nil, fmt.Errorf("%w: pcsc: %s", reader.ErrStackUnavailable, hintNoCgo)
}

// List fails: see Open.
func (s *Stack) List() ([]reader.Info, error) { return nil, s.unavailable() }

// Reader fails: see Open.
func (s *Stack) Reader(name string) (reader.Reader, error) { return nil, s.unavailable() }

// Close does nothing.
func (s *Stack) Close() error { return nil }

func (s *Stack) unavailable() error {
	return fmt.Errorf("%w: pcsc: %s", reader.ErrStackUnavailable, hintNoCgo)
}
