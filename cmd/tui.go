package cmd

import (
	"context"

	"github.com/tagline-station/tagline/ui"
)

// uiConfig is what the operator UI is given.
type uiConfig = ui.Config

// uiRunner shows the operator UI until the operator quits or ctx ends.
// Tests replace it.
type uiRunner func(ctx context.Context, cfg uiConfig) error

// defaultUIRunner is package ui's screen.
func defaultUIRunner(ctx context.Context, cfg uiConfig) error { return ui.Run(ctx, cfg) }

// uiAvailable reports whether this build has the operator UI; without it
// encode prints lines on a terminal too.
const uiAvailable = true
