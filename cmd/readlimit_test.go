package cmd

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Inputs larger than they can sensibly be are refused with exit 2 and a
// hint, even when what comes first is valid: a key file, standard input
// for --master-key-file -, a config file, a token file (sync and serve).
func TestOversizedInputsAreRefused(t *testing.T) {
	c := newCLI(t)
	pad := func(valid string, n int) string {
		return valid + "\n" + strings.Repeat("# padding line of a file named by mistake\n", n/42+1)
	}
	key := c.write("big.key", testKeyHex+"\n"+strings.Repeat(" ", 5000)+"\n", 0o600)
	r := c.must(2, "keys", "check", "--master-key-file", key)
	if !strings.Contains(r.stderr, "big.key holds more than 4096 bytes; a master key is 32 hex digits") || !strings.Contains(r.stderr, "\nhint: ") {
		t.Errorf("key file: %s", r.stderr)
	}
	c.stdin = testKeyHex + strings.Repeat("\n", 5000)
	r = c.must(2, "keys", "check", "--master-key-file", "-")
	if !strings.Contains(r.stderr, "standard input holds more than 4096 bytes") {
		t.Errorf("stdin: %s", r.stderr)
	}
	c.stdin = ""

	cfg := c.write("big.toml", pad(`journal = "j.db"`, 1<<20), 0o600)
	r = c.must(2, "--config", cfg, "batch", "list")
	if !strings.Contains(r.stderr, "config "+cfg+": larger than 1 MiB") || !strings.Contains(r.stderr, "\nhint: ") {
		t.Errorf("config: %s", r.stderr)
	}

	tok := c.write("big.token", pad(testSyncToken, 1<<20), 0o600)
	r = c.must(2, "sync", "--journal", "j.db", "--endpoint", "http://127.0.0.1:9/v1/sync", "--token-file", tok)
	if !strings.Contains(r.stderr, "token file "+tok+" is larger than 1 MiB") || !strings.Contains(r.stderr, "hint: a token file holds tokens") {
		t.Errorf("sync token: %s", r.stderr)
	}
	kf := c.write("master.key", testKeyHex, 0o600)
	r = c.must(2, "serve", "--store", "bolt:"+c.path("s.db"), "--master-key-file", kf, "--template", demoTemplate, "--token-file", tok)
	if !strings.Contains(r.stderr, "token file "+tok+" is larger than 1 MiB") {
		t.Errorf("serve token: %s", r.stderr)
	}
}

// /dev/zero as any of those files fails at once (it used to be read until
// the memory ran out, deaf to SIGTERM).
func TestDevZeroInputsFailFast(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs /dev/zero")
	}
	c := newCLI(t)
	for _, args := range [][]string{
		{"keys", "check", "--master-key-file", "/dev/zero"},
		{"--config", "/dev/zero", "batch", "list"},
		{"sync", "--journal", "j.db", "--endpoint", "http://127.0.0.1:9/v1/sync", "--token-file", "/dev/zero"},
	} {
		start := time.Now()
		r := c.must(2, args...)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%v took %s", args, d)
		}
		if !strings.Contains(r.stderr, "/dev/zero") || !strings.Contains(r.stderr, "\nhint: ") {
			t.Errorf("%v: %s", args, r.stderr)
		}
	}
}

// The line reader (the re-encode prompt) and readAllCapped: a line
// longer than the limit and an input longer than the total are usage
// errors naming the line; inputs at the limits pass whole.
func TestLineAndTotalLimits(t *testing.T) {
	in := "ab\n" + strings.Repeat("x", 10) + "\n" + "last"
	lr := newLineReader(strings.NewReader(in), "--urls f", 10, "one url per line")
	var lines []string
	for {
		l, err := lr.Line()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, string(l))
	}
	if strings.Join(lines, "|") != "ab\n|xxxxxxxxxx\n|last" {
		t.Errorf("lines %q", lines)
	}

	long := "ok\n" + strings.Repeat("y", 9000) + "\n"
	lr = newLineReader(strings.NewReader(long), "--urls f", 4096, "one url per line")
	lr.Line()
	_, err := lr.Line()
	if !errors.Is(err, errTooLarge) || exitCode(err) != ExitUsage || hintOf(err) != "one url per line" ||
		err.Error() != "--urls f: line 2 is longer than 4 KiB" {
		t.Errorf("long line: %v (exit %d)", err, exitCode(err))
	}

	// An endless input is cut after the line limit.
	var z zeroReader
	lr = newLineReader(&z, "the answer", 4096, "")
	if _, err := lr.Line(); !errors.Is(err, errTooLarge) || z.n > 64<<10 {
		t.Errorf("endless input: %v after %d bytes", err, z.n)
	}
	if _, err := readAllCapped(bytes.NewReader(make([]byte, 11)), "x", 10); !errors.Is(err, errTooLarge) {
		t.Errorf("readAllCapped: %v", err)
	}
}

type zeroReader struct{ n int }

func (z *zeroReader) Read(p []byte) (int, error) {
	clear(p)
	z.n += len(p)
	return len(p), nil
}
