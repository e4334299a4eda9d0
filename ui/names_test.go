package ui

import (
	"testing"

	"github.com/charmbracelet/x/ansi"
)

func TestCutMiddleKeepsTheEnd(t *testing.T) {
	a, b := "ACS ACR122U PICC Interface 00 00", "ACS ACR122U PICC Interface 00 01"
	for _, w := range []int{8, 12, 16, 20, 31} {
		ca, cb := cutMiddle(a, w), cutMiddle(b, w)
		if ca == cb {
			t.Errorf("width %d: both readers show as %q", w, ca)
		}
		if got := ansi.StringWidth(ca); got != w {
			t.Errorf("width %d: %q is %d wide", w, ca, got)
		}
	}
	if got := cutMiddle(a, 16); got != "ACS ACR…e 00 00" && got != "ACS ACR…ce 00 00" {
		t.Errorf("cutMiddle(16) = %q", got)
	}
	for _, c := range []struct {
		in   string
		w    int
		want string
	}{
		{"left", 10, "left"},
		{"left", 4, "left"},
		{"abcdef", 3, "ab…"},
		{"abcdef", 0, ""},
		{"Lecteur ÉÀ 00 01", 9, "Lect…0 01"},
		{"読み取り機 00 01", 9, "読み…0 01"},
	} {
		if got := cutMiddle(c.in, c.w); got != c.want {
			t.Errorf("cutMiddle(%q, %d) = %q, want %q", c.in, c.w, got, c.want)
		}
		if got := ansi.StringWidth(cutMiddle(c.in, c.w)); got > c.w {
			t.Errorf("cutMiddle(%q, %d) is %d wide", c.in, c.w, got)
		}
	}
}
