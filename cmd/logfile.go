package cmd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"time"
)

// logSink is the --log file. A log that cannot be written is never lost
// silently: slog drops a handler's write error, so the sink counts failed
// writes itself, and Close reports them.
type logSink struct {
	w    io.WriteCloser
	path string

	mu     sync.Mutex
	failed int
	first  error
}

func newLogSink(w io.WriteCloser, path string) *logSink { return &logSink{w: w, path: path} }

// openLogSink opens path for appending and writes a first record through
// a text handler; a file that takes no record (a full disk, /dev/full, a
// read-only mount) is a usage error before the command does anything.
func openLogSink(path string, now func() time.Time) (*logSink, *slog.Logger, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, usageErrorf("--log takes a file that tagline may create or append to", "cannot open log file: %w", err)
	}
	s := newLogSink(f, path)
	l := slogTo(s)
	h := l.Handler()
	rec := slog.NewRecord(now(), slog.LevelInfo, "log opened", 0)
	rec.AddAttrs(slog.Int("pid", os.Getpid()), slog.String("go", runtime.Version()))
	if err := h.Handle(context.Background(), rec); err != nil {
		f.Close()
		return nil, nil, usageErrorf("free space where the log file is, or give --log another file", "cannot write the log file %s: %w", path, err)
	}
	return s, l, nil
}

func (s *logSink) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	if err != nil {
		s.mu.Lock()
		s.failed++
		if s.first == nil {
			s.first = err
		}
		s.mu.Unlock()
	}
	return n, err
}

// Lost is the number of log records that could not be written so far and
// the first error.
func (s *logSink) Lost() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed, s.first
}

// Close closes the file and reports records that were lost on the way.
func (s *logSink) Close() error {
	cerr := s.w.Close()
	if n, first := s.Lost(); n > 0 {
		return withHint(fmt.Errorf("the log file %s lost %d %s: %w", s.path, n, plural(n, "record", "records"), first),
			"the command's own output above is complete; free space where the log file is, or give --log another file")
	}
	if cerr != nil {
		return fmt.Errorf("closing the log file: %w", cerr)
	}
	return nil
}

// slogTo is the text logger of the --log file.
func slogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
