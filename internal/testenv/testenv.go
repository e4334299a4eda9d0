// Package testenv holds the one rule for a test whose outside tool
// (pcscd, libnfc, PostgreSQL, a cgo build) is missing: with CI=true the
// test fails, since CI installs everything (scripts/setup.sh) and a skip
// there would count a missing tool as a pass; anywhere else it skips,
// saying what to install.
package testenv

import (
	"os"
	"testing"
)

// InCI reports whether the tests run in CI, where every tool must be
// present.
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing stops tb because something it needs is not installed: Fatal in
// CI, Skip elsewhere. msg says what is missing and how to install it.
func Missing(tb testing.TB, msg string) {
	tb.Helper()
	if InCI() {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}
