package testenv

import (
	"testing"
)

// recorder is a testing.TB that records how it was first stopped (a real
// Fatal or Skip ends the goroutine; these return).
type recorder struct {
	testing.TB
	how, msg string
}

func (r *recorder) Helper()           {}
func (r *recorder) Fatal(args ...any) { r.stop("fatal", args) }
func (r *recorder) Skip(args ...any)  { r.stop("skip", args) }

func (r *recorder) stop(how string, args []any) {
	if r.how == "" {
		r.how, r.msg = how, args[0].(string)
	}
}

// A missing tool fails in CI and skips elsewhere, with the same message.
func TestMissing(t *testing.T) {
	for env, want := range map[string]string{"true": "fatal", "": "skip", "1": "skip"} {
		t.Setenv("CI", env)
		r := &recorder{TB: t}
		Missing(r, "pcscd not found: run scripts/setup.sh")
		if r.how != want || r.msg != "pcscd not found: run scripts/setup.sh" {
			t.Errorf("CI=%q: %s %q, want %s", env, r.how, r.msg, want)
		}
	}
}
