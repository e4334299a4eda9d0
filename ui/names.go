package ui

import "github.com/charmbracelet/x/ansi"

// cutMiddle fits a reader's name in w columns by cutting out its middle:
// readers of one model differ only at the end of their names ("ACS
// ACR122U PICC Interface 00 00" and "… 00 01"), so the end must stay.
// The name is plain text (oneLine has cleaned it).
func cutMiddle(name string, w int) string {
	if w <= 0 {
		return ""
	}
	if ansi.StringWidth(name) <= w {
		return name
	}
	if w < 5 {
		return ansi.Truncate(name, w, "…")
	}
	tailW := w / 2
	headW := w - 1 - tailW
	runes := []rune(name)
	tail, tw := 0, 0
	for i := len(runes) - 1; i >= 0; i-- {
		cw := ansi.StringWidth(string(runes[i]))
		if tw+cw > tailW {
			break
		}
		tw += cw
		tail++
	}
	head := ansi.Truncate(string(runes[:len(runes)-tail]), headW, "")
	return head + "…" + string(runes[len(runes)-tail:])
}
