package ui

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestEndToEndUnderTmux runs the real tagline binary on a terminal (a
// tmux pane of 80×24), encodes simulated tags into a fresh journal, reads
// the operator screen back with capture-pane and quits with q.
func TestEndToEndUnderTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: builds and runs the binary")
	}
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux is not installed (scripts/setup.sh installs it)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "tagline")
	build := exec.Command("go", "build", "-o", bin, "./cmd/tagline")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// A clean environment: no config file, key file or NO_COLOR of the
	// machine's user; tmux forced to UTF-8 so that the block letters pass.
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
		"XDG_DATA_HOME=" + filepath.Join(dir, "data"), "TERM=xterm-256color", "LANG=C.UTF-8", "LC_ALL=C.UTF-8",
	}
	run := func(name string, args ...string) string {
		t.Helper()
		c := exec.Command(name, args...)
		c.Dir, c.Env = dir, env
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if err := os.WriteFile(filepath.Join(dir, "master.key"), []byte("00112233445566778899aabbccddeeff\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run(bin, "batch", "new", "--journal", "j.db", "--id", "e2e-1", "--sku", "E2E-SKU", "--target", "40",
		"--key-version", "1", "--template", "https://e2e.example/t?p={picc}&m={mac}")

	sock := filepath.Join(dir, "tmux.sock")
	tm := func(args ...string) string {
		t.Helper()
		return run(tmux, append([]string{"-u", "-f", "/dev/null", "-S", sock}, args...)...)
	}
	station := shellQuote(bin) + " encode --journal j.db --batch e2e-1 --reader sim --sim-interval 250ms" +
		" --master-key-file master.key --log ui.log; echo EXIT=$?; sleep 600"
	tm("new-session", "-d", "-s", "e2e", "-x", "80", "-y", "24", "-c", dir, station)
	t.Cleanup(func() { _ = exec.Command(tmux, "-S", sock, "kill-server").Run() })
	screen := func() string { return tm("capture-pane", "-p", "-t", "e2e") }

	runCount := regexp.MustCompile(`Run +PASS (\d+) · FAIL (\d+)`)
	passes := func(s string) int {
		m := runCount.FindStringSubmatch(s)
		if m == nil {
			return -1
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	waitFor := func(what string, ok func(string) bool) string {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			s := screen()
			if ok(s) {
				return s
			}
			if time.Now().After(deadline) {
				t.Fatalf("the screen never showed %s; last screen:\n%s", what, s)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	first := waitFor("a PASS", func(s string) bool { return strings.Contains(s, "PASS · ") && passes(s) >= 1 })
	if !strings.Contains(first, "████") || !strings.Contains(first, "TAGLINE · batch e2e-1 · SKU E2E-SKU") {
		t.Fatalf("no operator screen (block letters, header) on the terminal:\n%s", first)
	}
	n1 := passes(first)
	later := waitFor("the counts moving", func(s string) bool { return passes(s) >= n1+2 })
	n2 := passes(later)
	if !regexp.MustCompile(`Batch .* \d+ / 40 `).MatchString(later) || !strings.Contains(later, "FAIL 0") {
		t.Errorf("progress or counts missing:\n%s", later)
	}
	for _, s := range []string{first, later} {
		if strings.Contains(s, "level=") || strings.Contains(s, "msg=") {
			t.Errorf("log lines on the screen:\n%s", s)
		}
	}

	// q; a tag may be in flight, then the screen asks and y confirms.
	tm("send-keys", "-t", "e2e", "q")
	final := waitFor("the station exiting", func(s string) bool {
		if strings.Contains(s, "QUIT? · ") {
			tm("send-keys", "-t", "e2e", "y")
		}
		return strings.Contains(s, "EXIT=")
	})
	if !strings.Contains(final, "EXIT=0") {
		t.Fatalf("tagline encode did not exit 0:\n%s", final)
	}
	m := regexp.MustCompile(`batch e2e-1: (\d+) of 40 done`).FindStringSubmatch(final)
	if m == nil {
		t.Fatalf("no summary line after quitting:\n%s", final)
	}
	if done, _ := strconv.Atoi(m[1]); done < n2 {
		t.Errorf("journal has %d done, the screen showed %d passes", done, n2)
	}
	logs, err := os.ReadFile(filepath.Join(dir, "ui.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(logs), `msg="screen started"`) || !strings.Contains(string(logs), "operator quit") {
		t.Errorf("the UI's records are not in the log file:\n%s", logs)
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
