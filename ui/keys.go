package ui

import tea "github.com/charmbracelet/bubbletea"

// Binding is one action's keys and its help text.
type Binding struct {
	Keys []string // as tea.KeyMsg.String() spells them: "p", "ctrl+c", "esc"
	Key  string   // how the help shows the keys
	Help string   // what the action does, in the operator's words
}

// Matches reports whether msg is one of b's keys.
func (b Binding) Matches(msg tea.KeyMsg) bool {
	s := msg.String()
	for _, k := range b.Keys {
		if k == s {
			return true
		}
	}
	return false
}

// KeyMap is every key the station answers to. Keys are single letters,
// easy to hit with gloves; nothing needs a modifier except ctrl+c, which
// does the same as q.
type KeyMap struct {
	Pause Binding // pause / resume the lanes between tags
	Quit  Binding // quit; asks first while a tag is being encoded
	Help  Binding // show / hide the help

	// In the quit confirmation:
	QuitNow   Binding
	QuitAfter Binding
	Stay      Binding
	// In the help:
	Close Binding
}

// DefaultKeyMap is the station's keymap.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Pause: Binding{Keys: []string{"p", "P"}, Key: "p", Help: "pause / resume (lanes stop between tags)"},
		Quit:  Binding{Keys: []string{"q", "Q", "ctrl+c"}, Key: "q", Help: "quit (asks first while a tag is being encoded)"},
		Help:  Binding{Keys: []string{"?", "h", "H"}, Key: "?", Help: "show / hide this help"},

		QuitNow:   Binding{Keys: []string{"y", "Y", "q", "Q", "ctrl+c"}, Key: "y", Help: "quit now"},
		QuitAfter: Binding{Keys: []string{"w", "W"}, Key: "w", Help: "wait for the result of the tag in flight, then quit"},
		Stay:      Binding{Keys: []string{"n", "N", "esc"}, Key: "n", Help: "keep running"},

		Close: Binding{Keys: []string{"?", "h", "H", "esc", "enter"}, Key: "esc", Help: "close the help"},
	}
}
