package ui

import "strings"

// glyphRows is the height of a block letter before scaling.
const glyphRows = 5

// glyphs is a 5-row block font for the few words the station shows large.
// '#' is a filled cell. Letters are 5 cells wide except I; the space is 3.
var glyphs = map[rune][glyphRows]string{
	'A': {" ### ", "#   #", "#####", "#   #", "#   #"},
	'C': {" ####", "#    ", "#    ", "#    ", " ####"},
	'D': {"#### ", "#   #", "#   #", "#   #", "#### "},
	'E': {"#####", "#    ", "#### ", "#    ", "#####"},
	'F': {"#####", "#    ", "#### ", "#    ", "#    "},
	'G': {" ####", "#    ", "#  ##", "#   #", " ####"},
	'H': {"#   #", "#   #", "#####", "#   #", "#   #"},
	'I': {"###", " # ", " # ", " # ", "###"},
	'L': {"#    ", "#    ", "#    ", "#    ", "#####"},
	'N': {"#   #", "##  #", "# # #", "#  ##", "#   #"},
	'O': {" ### ", "#   #", "#   #", "#   #", " ### "},
	'P': {"#### ", "#   #", "#### ", "#    ", "#    "},
	'Q': {" ### ", "#   #", "# # #", "#  # ", " ## #"},
	'R': {"#### ", "#   #", "#### ", "#  # ", "#   #"},
	'S': {" ####", "#    ", " ### ", "    #", "#### "},
	'T': {"#####", "  #  ", "  #  ", "  #  ", "  #  "},
	'U': {"#   #", "#   #", "#   #", "#   #", " ### "},
	'W': {"#   #", "#   #", "# # #", "## ##", "#   #"},
	'Y': {"#   #", " # # ", "  #  ", "  #  ", "  #  "},
	'?': {" ### ", "#   #", "  ## ", "     ", "  #  "},
	' ': {"   ", "   ", "   ", "   ", "   "},
}

// scale is how many terminal cells one font cell takes. A terminal cell is
// about twice as tall as it is wide, so sx = 2*sy draws square letters.
type scale struct{ sx, sy int }

// bigWidth is the width in cells of word drawn at scale s.
func bigWidth(word string, s scale) int {
	w := 0
	for i, r := range word {
		g, ok := glyphs[r]
		if !ok {
			g = glyphs['?']
		}
		if i > 0 {
			w += s.sx // one font cell between letters
		}
		w += len(g[0]) * s.sx
	}
	return w
}

// bigText draws word in block letters, glyphRows*s.sy lines of equal width.
func bigText(word string, s scale) []string {
	rows := make([]string, 0, glyphRows*s.sy)
	var b strings.Builder
	for row := 0; row < glyphRows; row++ {
		b.Reset()
		for i, r := range word {
			g, ok := glyphs[r]
			if !ok {
				g = glyphs['?']
			}
			if i > 0 {
				b.WriteString(strings.Repeat(" ", s.sx))
			}
			for _, c := range g[row] {
				cell := " "
				if c == '#' {
					cell = "█"
				}
				b.WriteString(strings.Repeat(cell, s.sx))
			}
		}
		line := b.String()
		for k := 0; k < s.sy; k++ {
			rows = append(rows, line)
		}
	}
	return rows
}

// pickScale returns the largest square-ish scale at which word fits in
// width columns and rows lines, or ok=false if not even 1×1 fits.
func pickScale(word string, width, rows int) (scale, bool) {
	return pickScaleOf([]scale{{4, 2}, {2, 1}, {1, 1}}, word, width, rows)
}

// panelScales adds, for the panels of the grid, a scale between the two
// largest: three columns by two lines a cell, for panels of 70 to 90
// columns that would otherwise get letters of half the height.
var panelScales = []scale{{4, 2}, {3, 2}, {2, 1}, {1, 1}}

func pickScaleOf(scales []scale, word string, width, rows int) (scale, bool) {
	for _, s := range scales {
		if bigWidth(word, s) <= width && glyphRows*s.sy <= rows {
			return s, true
		}
	}
	return scale{}, false
}

// halfWidth is the width of word in half-height letters.
func halfWidth(word string) int { return bigWidth(word, scale{1, 1}) }

// halfText draws word in letters three lines high: each line holds two
// rows of the font with the half blocks ▀ and ▄, so a font cell is one
// column by half a line, about square. Where the terminal's cells are
// too few for the block letters, these still read from a few metres.
func halfText(word string) []string {
	full := bigText(word, scale{1, 1})
	out := make([]string, 0, (glyphRows+1)/2)
	for r := 0; r < glyphRows; r += 2 {
		top := []rune(full[r])
		var bot []rune
		if r+1 < glyphRows {
			bot = []rune(full[r+1])
		}
		var b strings.Builder
		for i, c := range top {
			up, down := c == '█', bot != nil && bot[i] == '█'
			switch {
			case up && down:
				b.WriteRune('█')
			case up:
				b.WriteRune('▀')
			case down:
				b.WriteRune('▄')
			default:
				b.WriteByte(' ')
			}
		}
		out = append(out, b.String())
	}
	return out
}
