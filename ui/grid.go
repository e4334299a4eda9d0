package ui

import (
	"fmt"
	"slices"
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// The grid: with two lanes or more each lane has a panel of its own (its
// word, UID, why and what to do), so that one lane's result never hides
// another's. Two lanes sit side by side where both get block letters of
// full size, else one above the other; three or four take two columns;
// more take as many columns of at least panelMinW cells as fit.

// gridMin is the smallest terminal that gets panels; below it the single
// big block of the lane with the latest tag is all that fits.
const gridMinW, gridMinH = 40, 12

func (m Model) useGrid(w, h int) bool {
	return len(m.lanes) >= 2 && !m.help && !m.confirm && w >= gridMinW && h >= gridMinH
}

// panelMaxH is the tallest panel: the name, ten lines of letters, the
// short line and four of Why and Do.
const panelMaxH = 16

// panelMinW is the narrowest panel beside others on a wide terminal: room
// for PASS in block letters of double width (46 cells) and its margins.
const panelMinW = 52

// gridShape is how many panel columns and rows n lanes take in width w.
func gridShape(n, w int) (cols, rows int) {
	switch {
	case n <= 2 && w < 2*panelMinW:
		cols = 1
	case n <= 4:
		cols = 2
	default:
		cols = min(max(w/panelMinW, 2), 4)
	}
	cols = min(cols, n)
	return cols, (n + cols - 1) / cols
}

func (m Model) viewGrid(w, h int) string {
	lines := []string{m.viewHeader(w)}
	if m.hold {
		scr := screen{kind: StateHeld, summary: "JOURNAL HOLD · every lane has stopped; no tag starts", details: m.holdDetails()}
		lines = append(lines, m.bandLine(scr.kind, scr.summary, w))
		lines = append(lines, m.detailLines(scr.details, w)...)
	}
	var stats []string
	if h >= 40 {
		stats = []string{"", m.viewProgress(w), m.viewSpeed(w), m.viewCounts(w)}
	} else {
		stats = []string{m.viewCompactStats(w)}
	}
	cols, rows := gridShape(len(m.lanes), w)
	pw := (w - (cols - 1)) / cols
	// A tall terminal keeps the last tags under the panels, with the rows
	// the panels do not need.
	listMin := 0
	if h >= 40 {
		listMin = min(m.nrecent+2, 6)
	}
	ph := max((h-len(lines)-len(stats)-listMin-1)/rows, 1)
	ph = min(ph, panelMaxH)
	var recent []string
	if listRows := h - len(lines) - len(stats) - 1 - ph*rows - 1; h >= 40 && listRows >= 2 {
		recent = append([]string{""}, m.viewListsOf(w, min(m.nrecent+1, listRows), false)...)
	}
	for r := 0; r < rows; r++ {
		cells := make([][]string, cols)
		for c := 0; c < cols; c++ {
			i := r*cols + c
			if i < len(m.lanes) {
				cells[c] = m.panel(&m.lanes[i], pw, ph)
			} else {
				cells[c] = blankPanel(pw, ph)
			}
		}
		for k := 0; k < ph; k++ {
			parts := make([]string, cols)
			for c := range cells {
				parts[c] = cells[c][k]
			}
			lines = append(lines, m.trimPlain(strings.Join(parts, " ")))
		}
	}
	for len(lines) < h-len(stats)-len(recent)-1 {
		lines = append(lines, "")
	}
	lines = append(lines, recent...)
	lines = append(lines, stats...)
	lines = append(lines, m.viewFooter(w))
	if len(lines) > h {
		lines = lines[:h]
	}
	return strings.Join(lines, "\n")
}

// trimPlain drops trailing blanks without colour, as the rest of the
// screen does; coloured lines keep their bands.
func (m Model) trimPlain(s string) string {
	if m.st.color {
		return s
	}
	return strings.TrimRight(s, " ")
}

func blankPanel(pw, ph int) []string {
	out := make([]string, ph)
	for i := range out {
		out[i] = strings.Repeat(" ", pw)
	}
	return out
}

// panelText is what a lane's panel says under its word: one short line
// on the band and the Why / Do lines.
func (m Model) panelText(l *lane, s State) (string, []detail) {
	switch s {
	case StateWaiting:
		if l.phase == phaseStopped || m.closed {
			return "stopped", []detail{{"Do", "press q to quit", true}}
		}
		if l.phase == phaseIdle {
			return "starting", nil
		}
		return "present a tag", nil
	case StateEncoding:
		return "encoding", []detail{{"Do", "keep the tag on the reader", true}}
	case StatePass:
		r := l.res
		do := "present the next tag"
		if l.onField {
			do = "remove the tag, present the next"
		}
		return "verified and journaled · " + fmtDur(r.Duration), []detail{{"Do", do, true}}
	case StateFail, StateDuplicate:
		scr := m.screenFor(l, s)
		if s == StateDuplicate {
			return "encoded before", scr.details
		}
		return "not encoded", scr.details
	case StateReaderLost:
		return "reader lost", []detail{{"Why", l.lostMsg, false}, {"Do", "check the reader's cable and power; tagline retries", true}}
	case StateStalled:
		return "the reader stopped answering", stalledDetails(l)
	case StatePaused:
		if m.quitAfter {
			return "quitting after the tag in flight", nil
		}
		return "no new tag starts", []detail{{"Do", "press p to resume", true}}
	case StateHeld:
		return "journal hold", []detail{{"Do", "no tag starts: see above", true}}
	}
	return "", nil
}

// screenFor is the single-lane screen's words for lane l in state s.
func (m Model) screenFor(l *lane, s State) screen {
	mm := m
	for i := range m.lanes {
		if &m.lanes[i] == l {
			mm.focus = i
		}
	}
	scr := mm.screen()
	scr.kind = s
	return scr
}

// panelTitle is the band's first line: the lane's name, and the tag's UID
// or how long it has been encoding.
func (m Model) panelTitle(l *lane, s State, pw int) string {
	right := ""
	switch {
	case s == StateEncoding:
		el := max(m.now.Sub(l.since), 0)
		right = fmt.Sprintf("%s %s %.1f s", l.uid, spinner[int(el/fastTick)%len(spinner)], el.Seconds())
	case l.hasRes && (s == StatePass || s == StateFail || s == StateDuplicate):
		right = string(l.res.UID)
	}
	right = clip(right, max(pw-8, 0))
	nameW := pw - 2 - ansi.StringWidth(right)
	if right != "" {
		nameW--
	}
	left := " " + cutMiddle(l.name, nameW)
	gap := max(pw-ansi.StringWidth(left)-ansi.StringWidth(right)-1, 0)
	return left + strings.Repeat(" ", gap) + right + " "
}

// panel draws lane l in pw×ph cells: the name, the word as large as fits
// (block letters, half-height letters, or plain), a short line, then Why
// and Do as far as room goes. Every line is exactly pw wide.
func (m Model) panel(l *lane, pw, ph int) []string {
	s := m.laneState(l)
	word := bigWord[s]
	summary, details := m.panelText(l, s)
	do := m.detailLinesIn(doOnly(details), pw)
	why := m.detailLinesIn(whyOnly(details), pw)
	det := append(slices.Clip(why), do...)
	avail := ph - 1
	var big []string
	withSummary := true
	need := min(len(det), 2)
	switch sc, ok := pickScaleOf(panelScales, word, pw-2, avail-1-need); {
	case ok:
		big = bigText(word, sc)
	case halfWidth(word) <= pw-2 && 3+1+need <= avail:
		big = halfText(word)
	case halfWidth(word) <= pw-2 && 3+min(len(det), 1) <= avail && avail >= 4:
		big, withSummary = halfText(word), false
	default:
		big = []string{word}
	}
	out := []string{m.band(s, m.panelTitle(l, s, pw), pw, false)}
	for _, row := range big {
		out = append(out, m.band(s, row, pw, true))
	}
	if withSummary && len(out) < ph {
		out = append(out, m.band(s, summary, pw, true))
	}
	if rem := ph - len(out); len(det) > rem {
		// Little room: what to do matters more than why.
		det = append(why[:max(rem-len(do), 0)], do...)
	}
	for _, d := range det {
		if len(out) >= ph {
			break
		}
		out = append(out, padTo(d, pw))
	}
	for len(out) < ph {
		out = append(out, strings.Repeat(" ", pw))
	}
	return out[:ph]
}

// doOnly keeps the details that say what to do.
func doOnly(ds []detail) []detail {
	var out []detail
	for _, d := range ds {
		if d.strong {
			out = append(out, d)
		}
	}
	return out
}

// whyOnly keeps the details that explain.
func whyOnly(ds []detail) []detail {
	var out []detail
	for _, d := range ds {
		if !d.strong {
			out = append(out, d)
		}
	}
	return out
}

// band is text on the state's band, pw wide, centred or from the left.
func (m Model) band(kind State, text string, pw int, centre bool) string {
	text = clip(text, pw)
	tw := ansi.StringWidth(text)
	left := 0
	if centre {
		left = (pw - tw) / 2
	}
	line := strings.Repeat(" ", left) + text + strings.Repeat(" ", pw-tw-left)
	if !m.st.color {
		return line
	}
	return m.st.band[kind].Render(line)
}

func padTo(s string, w int) string {
	s = clip(s, w)
	return s + strings.Repeat(" ", max(w-ansi.StringWidth(s), 0))
}

// detailLinesIn are the Why and Do lines for a panel, with a narrower
// indent than the single screen's.
func (m Model) detailLinesIn(ds []detail, w int) []string {
	return m.labelled(ds, w, 1, 5) // " Why: "
}

// viewCompactStats is progress and counts on one line, for grids on
// short terminals.
func (m Model) viewCompactStats(w int) string {
	p, t := m.prog, m.tally
	counts := " · " + m.st.word[StatePass].Render("PASS") + fmt.Sprintf(" %d", t.Passed) + " · " +
		m.st.word[StateFail].Render("FAIL") + fmt.Sprintf(" %d", t.Failed) + " · " +
		m.st.word[StateDuplicate].Render("ALREADY DONE") + fmt.Sprintf(" %d", t.Duplicates)
	if r, ok := t.Pace(m.now); ok {
		counts += fmt.Sprintf(" · %.1f/min", r)
	}
	label := "  " + m.st.bold.Render(fmt.Sprintf("%-7s", "Batch"))
	if p.Target <= 0 {
		return clip(label+fmt.Sprintf("%d done", p.Done())+counts, w)
	}
	suffix := fmt.Sprintf(" %d / %d %3.0f%%", p.Done(), p.Target, 100*p.Fraction())
	barW := w - 9 - ansi.StringWidth(suffix) - ansi.StringWidth(counts)
	if barW < 6 {
		return clip(label+strings.TrimPrefix(suffix, " ")+counts, w)
	}
	on := int(p.Fraction()*float64(barW) + 0.5)
	if on == barW && p.Left() > 0 {
		on = barW - 1
	}
	bar := m.st.barOn.Render(strings.Repeat("█", on)) + m.st.barOff.Render(strings.Repeat("░", barW-on))
	return clip(label+bar+m.st.bold.Render(suffix)+counts, w)
}
