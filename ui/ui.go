package ui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/muesli/termenv"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/station"
)

// Config is what the operator's screen needs from the station.
type Config struct {
	Batch   batch.Batch
	Stats   batch.BatchStats     // counts at start, from the journal
	Readers []string             // lanes in display order; others appear as they report
	Events  <-chan station.Event // from the lanes
	Gate    *station.Gate        // pause/resume; nil: the p key does nothing
	Now     func() time.Time     // injected clock (default time.Now)
	In      io.Reader            // default os.Stdin
	Out     io.Writer            // default os.Stdout
	NoColor bool
	LogPath string // logs go to this file, never to the screen ("" = discard)
	// Simulated says the batch takes simulated tags: the header says
	// SIMULATED so that no one takes them for real ones.
	Simulated bool

	// Logger, if set, receives the log records instead of a file at
	// LogPath.
	Logger *slog.Logger
	// AltScreen makes Run use the terminal's alternate screen, so that the
	// shell's scrollback is left as it was. Off, the last screen stays
	// visible after quitting.
	AltScreen bool

	// profile forces a colour profile (tests).
	profile *termenv.Profile
}

// Run shows the station until the operator quits or ctx ends; both
// return nil. Errors are the terminal's (no tty, write failures) or the
// log file's.
func Run(ctx context.Context, cfg Config) error {
	if cfg.In == nil {
		cfg.In = os.Stdin
	}
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
	if cfg.Logger == nil && cfg.LogPath != "" {
		f, err := os.OpenFile(cfg.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("ui: log file: %w", err)
		}
		defer f.Close()
		cfg.Logger = slog.New(slog.NewTextHandler(f, nil))
	}
	opts := []tea.ProgramOption{
		tea.WithInput(cfg.In),
		tea.WithOutput(cfg.Out),
	}
	if cfg.AltScreen {
		opts = append(opts, tea.WithAltScreen())
	}
	p := tea.NewProgram(NewModel(cfg), opts...)
	// The end of ctx quits the program the way q does (without asking):
	// tea.WithContext would kill it instead, which skips the last frame
	// and leaves bubbletea's input goroutine running after Run returns.
	stop := context.AfterFunc(ctx, p.Quit)
	defer stop()
	_, err := p.Run()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, tea.ErrInterrupted):
		return nil // SIGINT while stdin is not a terminal: the operator quit
	}
	return fmt.Errorf("ui: %w", err)
}
