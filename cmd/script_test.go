package cmd

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/tagline-station/tagline/internal/pcscdtest"
)

func TestMain(m *testing.M) {
	// The PC/SC client library fixes its socket path at its first use in a
	// process; point it at the private path of internal/pcscdtest so that
	// tests see "pcscd not running" until one of them starts a daemon there.
	// (Subprocesses started by testscript get their own value.)
	if os.Getenv(pcscdtest.EnvSocket) == "" {
		pcscdtest.UseSocket()
	}
	testscript.Main(m, map[string]func(){
		"tagline": func() { os.Exit(Execute(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs testdata/script/*.txtar; each script runs tagline as a
// separate process (the test binary re-executed), so exit codes, signals
// and terminals are the real ones.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("..", "testdata", "script"),
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			home := filepath.Join(env.WorkDir, "home")
			env.Setenv("HOME", home)
			env.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
			env.Setenv("XDG_DATA_HOME", filepath.Join(home, ".local", "share"))
			// No pcscd at this socket: the PC/SC stack is reported unavailable.
			env.Setenv(pcscdtest.EnvSocket, filepath.Join(env.WorkDir, "no-pcscd", "pcscd.comm"))
			env.Setenv("TAGLINE_CONFIG", "")
			env.Setenv(envSystemConfig, filepath.Join(env.WorkDir, "etc", "tagline", "config.toml"))
			env.Setenv("TAGLINE_MASTER_KEY_FILE", "")
			env.Setenv("NO_COLOR", "")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode":   cmdExitcode,
			"verifyurls": cmdVerifyURLs,
			"waitlog":    cmdWaitlog,
			"damage":     cmdDamage,
			"sha256":     cmdSHA256,
			"fileperm":   cmdFileperm,
		},
	})
}

// exitcode N command [args...] runs command and checks its exit code; the
// output is kept for stdout and stderr as with exec.
func cmdExitcode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N command [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: %v", err)
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("exitcode: %v", err)
	}
	if got != want {
		ts.Fatalf("exit code %d, want %d", got, want)
	}
}

// verifyurls [-v KEYVERSION] KEYFILE KDF FILE [N] checks that FILE holds N (default: at
// least one) JSON lines whose url verifies with keys derived from KEYFILE
// independently of tagline's code path, naming the uid and read_ctr of the
// line, and that every line has uid, sku, url and read_ctr.
func cmdVerifyURLs(ts *testscript.TestScript, neg bool, args []string) {
	version := byte(1)
	if len(args) > 1 && args[0] == "-v" {
		v, err := strconv.Atoi(args[1])
		ts.Check(err)
		version, args = byte(v), args[2:]
	}
	if neg || len(args) < 3 || len(args) > 4 {
		ts.Fatalf("usage: verifyurls [-v KEYVERSION] KEYFILE KDF FILE [N]")
	}
	k := keysFromFile(tsT{ts}, ts.MkAbs(args[0]), args[1], version)
	lines := parseTagLines(tsT{ts}, ts.ReadFile(args[2]))
	if len(lines) == 0 {
		ts.Fatalf("no JSON lines in %s", args[2])
	}
	if len(args) == 4 {
		n, _ := strconv.Atoi(args[3])
		if len(lines) != n {
			ts.Fatalf("%d JSON lines, want %d", len(lines), n)
		}
	}
	for _, l := range lines {
		if l.UID == "" || l.SKU == "" || l.URL == "" || l.ReadCtr == 0 {
			ts.Fatalf("line lacks uid, sku, url or read_ctr: %+v", l)
		}
		v, err := checkSUN(k, l.URL)
		if err != nil {
			ts.Fatalf("%s: %s: %v", l.UID, l.URL, err)
		}
		if v.UID != l.UID || v.Ctr != l.ReadCtr {
			ts.Fatalf("url names uid %s ctr %d, line says %s ctr %d", v.UID, v.Ctr, l.UID, l.ReadCtr)
		}
	}
	ts.Logf("%d urls verify", len(lines))
}

// waitlog FILE REGEXP waits up to 30s until FILE has a line matching REGEXP.
func cmdWaitlog(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waitlog FILE REGEXP")
	}
	re := regexp.MustCompile(args[1])
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if f, err := os.Open(ts.MkAbs(args[0])); err == nil {
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				if re.MatchString(sc.Text()) {
					f.Close()
					return
				}
			}
			f.Close()
		}
		time.Sleep(20 * time.Millisecond)
	}
	ts.Fatalf("%s: no line matches %q after 30s", args[0], args[1])
}

// damage FILE truncate N | meta: cuts a file to N bytes, or overwrites the
// checksums of both bbolt meta pages.
func cmdDamage(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: damage FILE truncate N | damage FILE meta")
	}
	p := ts.MkAbs(args[0])
	switch args[1] {
	case "truncate":
		n, err := strconv.ParseInt(args[2], 10, 64)
		ts.Check(err)
		ts.Check(os.Truncate(p, n))
	case "meta":
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		ts.Check(err)
		defer f.Close()
		ps := int64(os.Getpagesize())
		for _, off := range []int64{16 + 56, ps + 16 + 56} { // page header, then the checksum field
			_, err := f.WriteAt([]byte{0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef}, off)
			ts.Check(err)
		}
	default:
		ts.Fatalf("damage: unknown kind %q", args[1])
	}
}

// sha256 FILE OUT writes the hex SHA-256 of FILE to OUT.
func cmdSHA256(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: sha256 FILE OUT")
	}
	b, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	s := sha256.Sum256(b)
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(hex.EncodeToString(s[:])+"\n"), 0o644))
}

// fileperm FILE MODE checks a file's permission bits (octal).
func cmdFileperm(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: fileperm FILE MODE")
	}
	fi, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	got := fmt.Sprintf("%04o", fi.Mode().Perm())
	want := args[1]
	if (got == want) == neg {
		ts.Fatalf("%s has mode %s, want %s%s", args[0], got, map[bool]string{true: "not ", false: ""}[neg], want)
	}
}

// tsT adapts a TestScript to the few testing.T methods the helpers use.
type tsT struct{ ts *testscript.TestScript }

func (t tsT) Helper()                           {}
func (t tsT) Fatal(args ...any)                 { t.ts.Fatalf("%s", strings.TrimSpace(fmt.Sprintln(args...))) }
func (t tsT) Fatalf(format string, args ...any) { t.ts.Fatalf(format, args...) }
