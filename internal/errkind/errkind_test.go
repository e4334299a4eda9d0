package errkind

import (
	"errors"
	"fmt"
	"testing"
)

type typed struct{ k Kind }

func (e typed) Error() string { return "typed" }
func (e typed) Kind() Kind    { return e.k }

func TestNewIsAComparableSentinel(t *testing.T) {
	a := New(Tag, "tag removed")
	b := New(Tag, "tag removed")
	if a.Error() != "tag removed" {
		t.Errorf("text %q", a.Error())
	}
	if errors.Is(a, b) || errors.Is(b, a) {
		t.Error("two sentinels with the same text match each other")
	}
	if !errors.Is(fmt.Errorf("x: %w", a), a) {
		t.Error("a wrapped sentinel does not match itself")
	}
}

func TestOf(t *testing.T) {
	usage, tag, verify := New(Usage, "u"), New(Tag, "t"), New(Verification, "v")
	busy, journal := New(Busy, "b"), New(Journal, "j")
	for _, tc := range []struct {
		name string
		err  error
		want Kind
	}{
		{"nil", nil, None},
		{"plain", errors.New("boom"), None},
		{"plain wrapping plain", fmt.Errorf("a: %w", errors.New("b")), None},
		{"sentinel", tag, Tag},
		{"wrapped", fmt.Errorf("a: %w", fmt.Errorf("b: %w", verify)), Verification},
		{"not wrapped with %v", fmt.Errorf("a: %v", journal), None},
		{"own type", fmt.Errorf("a: %w", typed{Usage}), Usage},
		{"gravest, first", fmt.Errorf("%w: %w", journal, tag), Journal},
		{"gravest, second", fmt.Errorf("%w: %w", tag, journal), Journal},
		{"gravest of a join", errors.Join(usage, fmt.Errorf("x: %w", verify), tag), Verification},
		{"usage over network", fmt.Errorf("%w: %w", New(Network, "n"), usage), Usage},
		{"journal over busy", errors.Join(busy, journal), Journal},
		{"busy over verification", fmt.Errorf("%w: %w", verify, busy), Busy},
		{"deep in a join", fmt.Errorf("a: %w", errors.Join(errors.New("x"), fmt.Errorf("b: %w", busy))), Busy},
	} {
		if got := Of(tc.err); got != tc.want {
			t.Errorf("%s: Of(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

func TestKindNames(t *testing.T) {
	for k, want := range map[Kind]string{None: "none", Network: "network", Usage: "usage", Tag: "tag", Verification: "verification", Busy: "busy", Journal: "journal", Journal + 1: "unknown", -1: "unknown"} {
		if k.String() != want {
			t.Errorf("%d: %q, want %q", int(k), k.String(), want)
		}
	}
}
