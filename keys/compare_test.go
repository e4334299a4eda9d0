package keys_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// comparisons are the forms of == on key material that must not compile,
// each on its own line of the probe program: == is not constant time, and
// a map keyed by keys compares them the same way.
var comparisons = []string{
	"_ = a == b",
	"_ = m != n",
	"_ = s == s",
	"_ = map[keys.Key]bool{}",
}

// equals are the same questions asked the way that does compile.
var equals = []string{
	"_ = a.Equal(b)",
	"_ = !m.Equal(n)",
	"_ = s.Keys[0].Equal(s.Keys[0])",
	"_ = map[string]keys.Key{}",
}

// probe writes a program that uses this module's keys package through a
// replace directive, runs go build on it and returns the output and error.
func probe(t *testing.T, body []string) (string, error) {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the compile-time check needs the go command: %v", err)
	}
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(repo, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mod := fmt.Sprintf("module probe\n\ngo 1.26\n\nrequire github.com/tagline-station/tagline v0.0.0\n\nreplace github.com/tagline-station/tagline => %s\n", repo)
	src := "package main\n\nimport \"github.com/tagline-station/tagline/keys\"\n\nfunc main() {\n" +
		"\tvar a, b keys.Key\n\tvar m, n keys.Master\n\tvar s keys.KeySet\n\t_, _, _, _, _ = a, b, m, n, s\n" +
		"\t" + strings.Join(body, "\n\t") + "\n}\n"
	for name, text := range map[string][]byte{"go.mod": []byte(mod), "go.sum": sum, "main.go": []byte(src)} {
		if err := os.WriteFile(filepath.Join(dir, name), text, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(gobin, "build", "-o", os.DevNull, ".")
	cmd.Dir = dir
	// Offline and outside any workspace: the probe needs nothing but this
	// module and the standard library.
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GOPROXY=off", "CGO_ENABLED=0")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	return out.String(), err
}

// firstBodyLine is the line of main.go that holds body[0].
const firstBodyLine = 10

// TestKeysDoNotCompileUnderEquality proves at compile time that keys.Key,
// keys.Master and a struct of keys cannot be compared with == or used as
// map keys, and that the same program with Equal builds, so that the
// probe fails for the comparisons and nothing else.
func TestKeysDoNotCompileUnderEquality(t *testing.T) {
	if out, err := probe(t, equals); err != nil {
		t.Fatalf("the probe with Equal does not build: %v\n%s", err, out)
	}
	out, err := probe(t, comparisons)
	if err == nil {
		t.Fatal("a program comparing keys with == builds")
	}
	for i, c := range comparisons {
		pos := fmt.Sprintf("main.go:%d:", firstBodyLine+i)
		if !refused(out, pos) {
			t.Errorf("%q (%s) is not refused as incomparable:\n%s", c, pos, out)
		}
	}
}

// refused reports whether the compiler output has an error at pos saying
// that a value cannot be compared or is not a valid map key.
func refused(out, pos string) bool {
	for _, l := range strings.Split(out, "\n") {
		if !strings.Contains(l, pos) {
			continue
		}
		if strings.Contains(l, "cannot be compared") || strings.Contains(l, "incomparable") || strings.Contains(l, "invalid map key") {
			return true
		}
	}
	return false
}
