package cmd

import (
	"strings"
	"testing"
)

// Flags that exclude each other stop the command with exit 2, every flag
// of the group named, and the group's hint, before anything runs (no
// journal is needed to get the answer).
func TestExclusiveFlags(t *testing.T) {
	c := newCLI(t)
	for _, tc := range []struct {
		args       []string
		want, hint string
	}{
		{[]string{"sim", "--vpcd", "127.0.0.1:1", "--on-enter", "--every", "1s"}, "tagline: --on-enter and --every exclude each other", "hint: pick one way of changing tags"},
		{[]string{"sim", "--vpcd", "127.0.0.1:1", "--uid", "04A1B2C3D4E5F6", "--every", "1s"}, "tagline: --uid and --every exclude each other", "hint: --uid serves one tag"},
		{[]string{"encode", "--batch", "b", "--reader", "sim", "--readers", "sim,sim:2", "--all-readers"}, "tagline: --reader, --readers and --all-readers exclude each other", "hint: give one of --reader, --readers or --all-readers"},
		{[]string{"demo", "--enc", "--template", "https://x.example/?p={picc}&m={mac}"}, "tagline: --enc and --template exclude each other", "hint: --enc picks the demo's template"},
		{[]string{"verify", "--batch", "b", "--json", "--csv", "x.csv", "--urls", "-"}, "tagline: --json and --csv exclude each other", "hint: pick one report format"},
	} {
		r := c.must(2, tc.args...)
		if !strings.Contains(r.stderr, tc.want+"\n") || !strings.Contains(r.stderr, tc.hint) {
			t.Errorf("%v: %s", tc.args, r.stderr)
		}
	}
	// One of a group is fine: the command goes on to its own checks.
	if r := c.must(2, "sim", "--vpcd", "127.0.0.1:1", "--every", "-1s"); !strings.Contains(r.stderr, "--every must be positive") {
		t.Errorf("one flag of the group: %s", r.stderr)
	}
}

func TestFlagList(t *testing.T) {
	for want, names := range map[string][]string{
		"--a":              {"a"},
		"--a and --b":      {"a", "b"},
		"--a, --b and --c": {"a", "b", "c"},
	} {
		if got := flagList(names); got != want {
			t.Errorf("%v: %q, want %q", names, got, want)
		}
	}
}
