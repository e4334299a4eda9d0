package cmd

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/tagline-station/tagline/lines"
)

// Every read of outside input is bounded: a path such as /dev/zero, a
// pipe that never ends or a file named by mistake must fail at once with
// a usage error, not fill the memory.
const (
	maxConfigFile = 1 << 20 // a config file is a few lines
	maxTokenFile  = 1 << 20 // one token per line; thousands fit
)

// verify's --urls input is bounded by qa.URLLimits, where it is read.

// errTooLarge is wrapped by every bounded read that met more input than
// its limit.
var errTooLarge = errors.New("input too large")

type tooLargeError struct {
	what string // "config file x.toml", "--urls standard input"
	max  int64
	line int // 1-based line number for a line limit; 0 for a total
}

func (e *tooLargeError) Error() string {
	if e.line > 0 {
		return fmt.Sprintf("%s: line %d is longer than %s", e.what, e.line, sizeText(e.max))
	}
	return fmt.Sprintf("%s is larger than %s", e.what, sizeText(e.max))
}

func (e *tooLargeError) Unwrap() error { return errTooLarge }

func sizeText(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// readFileCapped reads the file at path, reading at most max+1 bytes and
// refusing a larger file with a *tooLargeError naming what. Errors opening
// or reading the file are returned as they are.
func readFileCapped(path, what string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAllCapped(f, what, max)
}

// readAllCapped reads r to its end, refusing more than max bytes.
func readAllCapped(r io.Reader, what string, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, &tooLargeError{what: what, max: max}
	}
	return b, nil
}

// lineReader reads lines of at most max bytes (the newline not counted).
// A longer line fails with a usage error (exit 2) naming its number,
// after reading no more than max+1 bytes of it.
type lineReader struct {
	br   *bufio.Reader
	what string
	max  int
	hint string
	n    int // lines returned so far
}

func newLineReader(r io.Reader, what string, max int, hint string) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, 4096), what: what, max: max, hint: hint}
}

// Line returns the next line with its newline, if it had one, and io.EOF
// after the last.
func (l *lineReader) Line() ([]byte, error) {
	line, err := lines.Read(l.br, l.max)
	if errors.Is(err, lines.ErrTooLong) {
		return nil, withCode(ExitUsage, &tooLargeError{what: l.what, max: int64(l.max), line: l.n + 1}, l.hint)
	}
	if err == nil {
		l.n++
	}
	return line, err
}
