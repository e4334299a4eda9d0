package cmd

import (
	"context"
	"errors"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// A log file that takes no record stops the command before it starts:
// /dev/full used to swallow the whole log silently.
func TestLogFileThatCannotBeWritten(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs /dev/full")
	}
	c := newCLI(t)
	kf := c.write("master.key", testKeyHex, 0o600)
	r := c.must(2, "--log", "/dev/full", "keys", "check", "--master-key-file", kf)
	if !strings.Contains(r.stderr, "tagline: cannot write the log file /dev/full: write /dev/full: no space left on device") ||
		!strings.Contains(r.stderr, "hint: free space where the log file is, or give --log another file") || r.stdout != "" {
		t.Errorf("%s", r)
	}
}

// failAfter accepts n writes and fails the rest, as a disk that fills up.
type failAfter struct {
	n      int
	writes []string
}

func (f *failAfter) Write(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, syscall.ENOSPC
	}
	f.n--
	f.writes = append(f.writes, string(p))
	return len(p), nil
}

func (f *failAfter) Close() error { return nil }

// Records lost after the start are counted and reported when the command
// ends: exit 1 for a command that otherwise succeeded, a second message
// for one that failed anyway.
func TestLostLogRecordsAreReported(t *testing.T) {
	c := newCLI(t)
	kf := c.write("master.key", testKeyHex, 0o600)
	runWith := func(args ...string) (int, string) {
		w := &failAfter{n: 0}
		sink := newLogSink(w, "station.log")
		var errb syncBuffer
		e := newEnv(strings.NewReader(""), &syncBuffer{}, &errb)
		e.getenv = func(k string) string { return c.env[k] }
		e.log, e.closeLog = slogTo(sink), sink.Close
		code := run(context.Background(), e, args)
		if n, err := sink.Lost(); n == 0 || !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("%v: lost %d, %v", args, n, err)
		}
		return code, errb.String()
	}
	code, stderr := runWith("keys", "check", "--master-key-file", kf)
	if code != ExitFailure || !strings.Contains(stderr, "tagline: the log file station.log lost 1 record: no space left on device") ||
		!strings.Contains(stderr, "hint: the command's own output above is complete") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
	code, stderr = runWith("keys", "check", "--master-key-file", c.path("missing.key"))
	if code != ExitUsage || !strings.Contains(stderr, "tagline: the log file station.log lost 1 record") || !strings.Contains(stderr, "tagline: bad master key") ||
		strings.Index(stderr, "tagline: bad master key") > strings.Index(stderr, "lost 1 record") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(c.path("station.log")); err == nil {
		t.Error("the test sink wrote a file")
	}
}
