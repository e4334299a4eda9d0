//go:build cgo

package cmd

import (
	"slices"
	"strings"
	"testing"

	"github.com/tagline-station/tagline/internal/pcscdtest"
)

// --reader completes the readers pcscd has, by the spec --reader takes.
func TestCompleteReadersFromPCSC(t *testing.T) {
	d := pcscdtest.Setup(t, 1)
	c := newCLI(t)
	want := "pcsc:" + d.ReaderName(0)
	got := completions(t, c, "encode", "--reader", "")
	if !slices.Contains(got, want) || !slices.Contains(got, "sim") {
		t.Errorf("encode --reader: %q, want sim and %q\n%s", got, want, d.Log())
	}
	got = completions(t, c, "encode", "--reader", "pcsc:")
	if !slices.Contains(got, want) || slices.ContainsFunc(got, func(s string) bool { return !strings.HasPrefix(s, "pcsc:") }) {
		t.Errorf("encode --reader pcsc: %q", got)
	}
}
