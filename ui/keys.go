package ui

import (
	"github.com/charmbracelet/bubbles/help"
	kb "github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
)

// KeyMap is every key the station answers to. Keys are single letters,
// easy to hit with gloves; nothing needs a modifier except ctrl+c, which
// does the same as q. Each binding's help is the footer's word; the help
// screen's longer sentences are Explain.
type KeyMap struct {
	Pause kb.Binding // pause / resume the lanes between tags
	Quit  kb.Binding // quit; asks first while a tag is being encoded
	Help  kb.Binding // show / hide the help

	// In the quit confirmation:
	QuitNow   kb.Binding
	QuitAfter kb.Binding
	Stay      kb.Binding
	// In the help:
	Close kb.Binding

	// Explain is what the help screen says of a key, by its help key.
	Explain map[string]string
}

// DefaultKeyMap is the station's keymap.
func DefaultKeyMap() KeyMap {
	b := func(help, desc string, keys ...string) kb.Binding {
		return kb.NewBinding(kb.WithKeys(keys...), kb.WithHelp(help, desc))
	}
	return KeyMap{
		Pause: b("p", "pause", "p", "P"),
		Quit:  b("q", "quit", "q", "Q", "ctrl+c"),
		Help:  b("?", "help", "?", "h", "H"),

		QuitNow:   b("y", "quit now", "y", "Y", "q", "Q", "ctrl+c"),
		QuitAfter: b("w", "wait, then quit", "w", "W"),
		Stay:      b("n", "keep running", "n", "N", "esc"),

		Close: b("esc", "close help", "?", "h", "H", "esc", "enter"),

		Explain: map[string]string{
			"p": "pause / resume; after a journal hold, resume once it is fixed",
			"q": "quit (asks first while a tag is being encoded)",
			"?": "show / hide this help",
		},
	}
}

// ShortHelp is the footer of the main screen: pause only when the model
// drives a gate (ShortHelp of a model without one leaves it out).
func (k KeyMap) ShortHelp() []kb.Binding { return []kb.Binding{k.Pause, k.Quit, k.Help} }

// FullHelp is the help screen's key table.
func (k KeyMap) FullHelp() [][]kb.Binding {
	col := []kb.Binding{k.Pause, k.Quit, k.Help}
	for i, b := range col {
		col[i].SetHelp(b.Help().Key, k.Explain[b.Help().Key])
	}
	return [][]kb.Binding{col}
}

// newHelp renders key bindings as the station always drew them: a key in
// a light band (in brackets without colour), its word, three spaces, and
// nothing for keys that do not fit. The help screen's table puts each key
// in a 6-column field.
func newHelp(r *lipgloss.Renderer, color bool) help.Model {
	frame := func(s string) string { return "[" + s + "]" }
	if color {
		frame = func(s string) string { return " " + s + " " }
	}
	plain := r.NewStyle()
	h := help.New()
	h.ShortSeparator, h.FullSeparator, h.Ellipsis = "   ", "", ""
	h.Styles = help.Styles{
		ShortKey:       keyStyle(r).Transform(frame),
		ShortDesc:      plain,
		ShortSeparator: plain,
		Ellipsis:       plain,
		FullKey:        plain.Width(6),
		FullDesc:       plain,
		FullSeparator:  plain,
	}
	return h
}

// footer is the short help in width w, after a one-space margin: the
// keys that do not fit are left out whole, last first. (help.Model's own
// Width adds a key that overflows when its ellipsis does not fit either.)
func footer(h help.Model, w int, keys []kb.Binding) string {
	for n := len(keys); n > 0; n-- {
		if s := " " + h.ShortHelpView(keys[:n]); ansi.StringWidth(s) <= w {
			return s
		}
	}
	return " "
}
