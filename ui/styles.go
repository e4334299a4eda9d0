package ui

import (
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

// stateConfirm is the quit confirmation's band, after the states.
const stateConfirm = numStates

// paint is a style reduced to the escape sequences around its text,
// worked out once by lipgloss: View paints a few dozen spans per frame and
// lipgloss's Render (width, margins, borders) costs far more than the
// string concatenation. Only for single-line text.
type paint struct{ pre, post string }

func (p paint) Render(s string) string {
	if p.pre == "" || s == "" {
		return s
	}
	return p.pre + s + p.post
}

func newPaint(st lipgloss.Style) paint {
	const mark = "\x00"
	pre, post, ok := strings.Cut(st.Render(mark), mark)
	if !ok {
		return paint{}
	}
	return paint{pre: pre, post: post}
}

// styles are built once per model from its renderer; with the ASCII
// profile (NoColor) every style paints plain text, so nothing on the
// screen may depend on colour alone.
type styles struct {
	color  bool
	header paint
	band   [numStates + 1]paint // background band behind the big word
	word   [numStates + 1]paint // the state's word in lists and counts
	bold   paint
	dim    paint
	key    paint
	title  paint
	barOn  paint
	barOff paint
}

// Colours are xterm-256 numbers; on 16-colour terminals termenv maps them
// to the nearest basic colour.
var stateColors = [numStates + 1]struct{ bg, fg, word string }{
	StateWaiting:    {"237", "255", "250"},
	StateEncoding:   {"25", "231", "39"},
	StatePass:       {"28", "231", "40"},
	StateFail:       {"160", "231", "196"},
	StateDuplicate:  {"214", "16", "214"},
	StateReaderLost: {"90", "231", "170"},
	StatePaused:     {"244", "16", "248"},
	StateStalled:    {"130", "231", "208"},
	StateHeld:       {"88", "231", "203"},
	stateConfirm:    {"166", "231", "208"},
}

func xterm(n string) lipgloss.Color { return lipgloss.Color(n) }

// keyStyle is a key's band in the footer.
func keyStyle(r *lipgloss.Renderer) lipgloss.Style {
	return r.NewStyle().Bold(true).Foreground(xterm("16")).Background(xterm("252"))
}

func newStyles(r *lipgloss.Renderer) styles {
	s := styles{color: r.ColorProfile() != termenv.Ascii}
	s.header = newPaint(r.NewStyle().Bold(true).Foreground(xterm("231")).Background(xterm("236")))
	for i, sc := range stateColors {
		s.band[i] = newPaint(r.NewStyle().Bold(true).Foreground(xterm(sc.fg)).Background(xterm(sc.bg)))
		s.word[i] = newPaint(r.NewStyle().Bold(true).Foreground(xterm(sc.word)))
	}
	s.bold = newPaint(r.NewStyle().Bold(true))
	s.dim = newPaint(r.NewStyle().Foreground(xterm("245")))
	s.key = newPaint(keyStyle(r))
	s.title = newPaint(r.NewStyle().Bold(true).Foreground(xterm("252")))
	s.barOn = newPaint(r.NewStyle().Foreground(xterm("40")))
	s.barOff = newPaint(r.NewStyle().Foreground(xterm("239")))
	return s
}
