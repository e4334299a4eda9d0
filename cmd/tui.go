package cmd

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/station"
)

// uiConfig is what the operator UI is given (the contract of package ui's
// Config).
type uiConfig struct {
	Batch   batch.Batch
	Stats   batch.BatchStats
	Readers []string
	Events  <-chan station.Event
	Gate    *station.Gate
	Now     func() time.Time
	In      io.Reader
	Out     io.Writer
	NoColor bool
	LogPath string
}

// uiRunner shows the operator UI until the operator quits or ctx ends.
type uiRunner func(ctx context.Context, cfg uiConfig) error

var errNoUI = errors.New("the operator UI is not part of this build")

// defaultUIRunner is replaced by package ui's Run once it is available.
func defaultUIRunner(ctx context.Context, cfg uiConfig) error {
	return errNoUI
}

// uiAvailable reports whether this build has the operator UI; without it
// encode prints lines on a terminal too.
var uiAvailable = false
