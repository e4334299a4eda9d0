package ui

import (
	"fmt"
	"strings"
	"time"

	kb "github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/x/ansi"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/station"
)

// screen is what the top half says: a big word on a coloured band, one
// summary line in the band, then why and what to do.
type screen struct {
	kind    State // a State, or stateConfirm
	word    string
	summary string
	details []detail
}

type detail struct {
	label  string // "Why", "Do", "Tag", "Note"
	text   string
	strong bool
}

// section is a block of lines in the layout; when the terminal is too
// short, sections with the highest drop rank go first (0: never).
type section struct {
	lines []string
	drop  int
	flex  bool // the lists: take what is left
}

var spinner = []string{"◐", "◓", "◑", "◒"}

// View draws the screen from the model alone.
func (m Model) View() string {
	w, h := max(m.width, 20), max(m.height, 4)
	if m.useGrid(w, h) {
		return m.viewGrid(w, h)
	}
	secs := []section{{lines: []string{m.viewHeader(w)}}}
	if m.help {
		secs = append(secs, section{lines: m.viewHelp(w)}, section{flex: true})
	} else {
		scr := m.screen()
		bigRows := 5
		switch {
		case h >= 44:
			bigRows = 10
		case h < 16:
			bigRows = 0
		}
		pad := m.bandLine(scr.kind, "", w)
		secs = append(secs,
			section{lines: []string{pad}, drop: 3},
			section{lines: m.bigLines(scr, w, bigRows)},
			section{lines: []string{m.bandLine(scr.kind, scr.summary, w)}},
			section{lines: []string{pad}, drop: 4},
			section{lines: m.detailLines(scr.details, w)},
			section{lines: []string{""}, drop: 5},
			section{lines: []string{m.viewProgress(w)}},
			section{lines: []string{m.viewSpeed(w)}, drop: 2},
			section{lines: []string{m.viewCounts(w)}},
			section{lines: []string{""}, drop: 6},
			section{flex: true},
		)
	}
	secs = append(secs, section{lines: []string{m.viewFooter(w)}, drop: 1})

	used := func() int {
		n := 0
		for _, s := range secs {
			n += len(s.lines)
		}
		return n
	}
	for used() > h {
		worst := -1
		for i, s := range secs {
			if s.drop > 0 && (worst < 0 || s.drop > secs[worst].drop) {
				worst = i
			}
		}
		if worst < 0 {
			break
		}
		secs = append(secs[:worst], secs[worst+1:]...)
	}
	lines := make([]string, 0, h)
	for _, s := range secs {
		if s.flex {
			if rows := h - used() - 1; rows > 0 && !m.help {
				lines = append(lines, m.viewLists(w, rows)...)
			}
			// Fill up to the footer so that it stays on the last line.
			for len(lines) < h-1 {
				lines = append(lines, "")
			}
			continue
		}
		lines = append(lines, s.lines...)
	}
	if len(lines) > h {
		lines = lines[:h]
	}
	return strings.Join(lines, "\n")
}

// screen decides the top half's words.
func (m Model) screen() screen {
	if m.confirm {
		return m.confirmScreen()
	}
	s := m.State()
	l := m.focusLane()
	on := ""
	if l != nil && len(m.lanes) > 1 {
		on = " on " + l.name
	}
	scr := screen{kind: s, word: bigWord[s]}
	switch s {
	case StateWaiting:
		where := "the reader"
		if len(m.lanes) > 1 {
			where = "a reader"
		}
		scr.summary = "READY · present a tag to " + where
		if m.closed || m.allStopped() {
			scr.summary = "STOPPED · the lanes have ended"
			scr.details = []detail{{"Do", "press q to quit", true}}
		}
	case StateEncoding:
		el := max(m.now.Sub(l.since), 0)
		spin := spinner[int(el/fastTick)%len(spinner)]
		scr.summary = fmt.Sprintf("HOLD · encoding %s%s %s %.1f s", l.uid, on, spin, el.Seconds())
		scr.details = []detail{{"Do", "keep the tag on the reader until it says PASS or FAIL", true}}
	case StatePass:
		r := l.res
		scr.summary = fmt.Sprintf("PASS · %s · SKU %s%s", r.UID, r.SKU, on)
		what := "encoded, read back, verified and journaled in " + fmtDur(r.Duration)
		if r.Outcome == manifest.Finished {
			what = "an interrupted earlier attempt was finished, verified and journaled"
		}
		do := "present the next tag"
		if l.onField {
			do = "remove the tag and present the next one"
		}
		scr.details = []detail{{"Tag", what, false}, {"Do", do, true}}
	case StateFail, StateDuplicate:
		r := l.res
		word := "FAIL"
		if s == StateDuplicate {
			word = "ALREADY DONE"
		}
		scr.summary = fmt.Sprintf("%s · %s%s", word, orDash(string(r.UID)), on)
		reason := r.Reason
		if reason == "" && r.Err != nil {
			reason = oneLine(r.Err.Error())
		}
		if reason == "" {
			reason = "the station gave no reason"
		}
		hint := r.Hint
		if hint == "" {
			hint = "set the tag aside and report it"
		}
		scr.details = []detail{{"Why", reason, false}, {"Do", hint, true}}
	case StateReaderLost:
		scr.summary = "NO READER · " + l.name
		scr.details = []detail{
			{"Why", l.lostMsg, false},
			{"Do", "check the reader's cable and power; tagline retries by itself", true},
		}
	case StatePaused:
		scr.summary = "PAUSED · no new tag starts"
		scr.details = []detail{{"Do", "press p to resume", true}}
		if m.quitAfter {
			scr.summary = "PAUSED · quitting after the tag in flight"
			scr.details = nil
		}
	case StateStalled:
		scr.summary = "STALLED · " + l.name + " stopped answering"
		scr.details = stalledDetails(l)
	case StateHeld:
		scr.summary = "STOP · the journal refused a write: no tag starts"
		scr.details = m.holdDetails()
	}
	if stopped := m.closed || m.allStopped(); stopped && s != StateWaiting && s != StateEncoding {
		// No next tag: say so instead of asking for one.
		if s == StatePass || s == StatePaused {
			scr.details = scr.details[:len(scr.details)-1]
		}
		scr.details = append(scr.details, detail{"Note", "the station has stopped taking tags: press q to quit", true})
	}
	return scr
}

func stalledDetails(l *lane) []detail {
	return []detail{
		{"Why", l.stallMsg, false},
		{"Do", "take the tag away; if the reader stays silent, replug it", true},
	}
}

func (m Model) holdDetails() []detail {
	return []detail{
		{"Why", m.holdMsg, false},
		{"Do", "free disk space (or fix the disk), then press p to resume", true},
	}
}

func (m Model) confirmScreen() screen {
	scr := screen{kind: stateConfirm, word: "QUIT"}
	var busy []string
	for _, l := range m.lanes {
		if l.phase == phaseEncoding {
			busy = append(busy, fmt.Sprintf("%s on %s", l.uid, l.name))
		}
	}
	if len(busy) == 0 {
		scr.summary = "QUIT? · no tag is being encoded now"
		scr.details = []detail{{"Do", "y quit · n keep running", true}}
		return scr
	}
	scr.summary = "QUIT? · a tag is being encoded: " + strings.Join(busy, ", ")
	scr.details = []detail{
		{"Why", "its result would not show here if you quit now", false},
		{"Do", "w wait for its result, then quit · y quit now · n keep running", true},
	}
	return scr
}

// bigLines draws the word in block letters on the band, as large as
// fits; with no room it is one line of plain text.
func (m Model) bigLines(scr screen, w, rows int) []string {
	sc, ok := pickScale(scr.word, w-2, rows)
	if !ok {
		return []string{m.bandLine(scr.kind, scr.word, w)}
	}
	big := bigText(scr.word, sc)
	out := make([]string, len(big))
	for i, row := range big {
		out[i] = m.bandLine(scr.kind, row, w)
	}
	return out
}

// bandLine centres text on a full-width line of the state's band.
func (m Model) bandLine(kind State, text string, w int) string {
	return m.trimPlain(m.band(kind, text, w, true))
}

// detailLines are "Why:", "Do:" lines, wrapped under their label.
func (m Model) detailLines(ds []detail, w int) []string {
	return m.labelled(ds, w, 2, 6) // "  Why:  "
}

// labelled are detail lines: each label pad cells in and labelW wide on
// its first line, the text wrapped under it.
func (m Model) labelled(ds []detail, w, pad, labelW int) []string {
	indent := pad + labelW
	var out []string
	for _, d := range ds {
		wrapped := strings.Split(ansi.Wrap(d.text, max(w-indent-1, 10), ""), "\n")
		for i, t := range wrapped {
			t = clip(strings.TrimRight(t, " "), w-indent)
			if d.strong {
				t = m.st.bold.Render(t)
			}
			label := strings.Repeat(" ", indent)
			if i == 0 {
				label = strings.Repeat(" ", pad) + fmt.Sprintf("%-*s", labelW, d.label+":")
			}
			out = append(out, m.st.bold.Render(label)+t)
		}
	}
	return out
}

func (m Model) viewHeader(w int) string {
	left := " TAGLINE · batch " + orDash(m.batch.ID) + " · SKU " + orDash(m.batch.SKU)
	if m.batch.KeyVersion != 0 {
		left += fmt.Sprintf(" · key v%d", m.batch.KeyVersion)
	}
	var flags []string
	if m.simulated {
		flags = append(flags, "SIMULATED")
	}
	if m.hold {
		flags = append(flags, "JOURNAL HOLD")
	}
	switch {
	case m.quitAfter:
		flags = append(flags, "QUITTING AFTER THIS TAG")
	case m.paused:
		flags = append(flags, "PAUSED")
	}
	switch n := m.lostCount(); {
	case n == 1:
		flags = append(flags, "READER LOST")
	case n > 1:
		flags = append(flags, fmt.Sprintf("%d READERS LOST", n))
	}
	if n := m.stalledCount(); n > 0 {
		flags = append(flags, fmt.Sprintf("%d STALLED", n))
	}
	if m.closed || m.allStopped() {
		flags = append(flags, "STOPPED")
	}
	right := strings.Join(append(flags, m.now.Format("15:04:05")), " · ") + " "
	for len(flags) > 0 && ansi.StringWidth(right) > w-2 {
		// The first flags matter most (SIMULATED, JOURNAL HOLD).
		flags = flags[:len(flags)-1]
		right = strings.Join(append(flags, m.now.Format("15:04:05")), " · ") + " "
	}
	right = clip(right, max(w-2, 1))
	if ansi.StringWidth(left)+ansi.StringWidth(right)+1 > w {
		left = " " + strings.TrimPrefix(left, " TAGLINE · ")
	}
	left = clip(left, w-ansi.StringWidth(right)-1)
	gap := max(w-ansi.StringWidth(left)-ansi.StringWidth(right), 1)
	line := left + strings.Repeat(" ", gap) + right
	if !m.st.color {
		return strings.TrimRight(line, " ")
	}
	return m.st.header.Render(line)
}

func (m Model) viewProgress(w int) string {
	p := m.prog
	if p.Target <= 0 {
		return fmt.Sprintf("  %-7s%d done (no target set)", "Batch", p.Done())
	}
	suffix := fmt.Sprintf(" %d / %d  %3.0f%%", p.Done(), p.Target, 100*p.Fraction())
	if p.Left() == 0 {
		suffix += "  TARGET REACHED"
	}
	barW := max(w-9-ansi.StringWidth(suffix)-1, 10)
	on := int(p.Fraction()*float64(barW) + 0.5)
	if on == barW && p.Left() > 0 {
		on = barW - 1 // full only when really done
	}
	bar := m.st.barOn.Render(strings.Repeat("█", on)) + m.st.barOff.Render(strings.Repeat("░", barW-on))
	return "  " + m.st.bold.Render(fmt.Sprintf("%-7s", "Batch")) + bar + m.st.bold.Render(suffix)
}

func (m Model) viewSpeed(w int) string {
	parts := []string{"— tags/min"}
	if r, ok := m.tally.Pace(m.now); ok {
		parts[0] = fmt.Sprintf("%.1f tags/min", r)
	}
	if avg, worst, n := m.tally.Timing(); n > 0 {
		parts = append(parts, fmt.Sprintf("avg %s", fmtDur(avg)), fmt.Sprintf("worst %s (last %d)", fmtDur(worst), n))
	} else {
		parts = append(parts, "avg —", "worst —")
	}
	if pr, ok := m.tally.PassPace(m.now); ok && m.prog.Left() > 0 && pr > 0 {
		parts = append(parts, fmtMinutes(float64(m.prog.Left())/pr)+" left")
	}
	return clip("  "+m.st.bold.Render(fmt.Sprintf("%-7s", "Speed"))+strings.Join(parts, " · "), w)
}

func (m Model) viewCounts(w int) string {
	t := m.tally
	line := "  " + m.st.bold.Render(fmt.Sprintf("%-7s", "Run")) +
		m.st.word[StatePass].Render("PASS") + fmt.Sprintf(" %d", t.Passed) + " · " +
		m.st.word[StateFail].Render("FAIL") + fmt.Sprintf(" %d", t.Failed) + " · " +
		m.st.word[StateDuplicate].Render("ALREADY DONE") + fmt.Sprintf(" %d", t.Duplicates)
	return clip(line, w)
}

// viewLists is the recent tags beside the readers, rows lines at most.
func (m Model) viewLists(w, rows int) []string { return m.viewListsOf(w, rows, true) }

// viewListsOf is the recent tags, and beside them the readers when
// withReaders (the grid has a panel per reader instead).
func (m Model) viewListsOf(w, rows int, withReaders bool) []string {
	n := min(m.nrecent, rows-1)
	wide := w >= 120
	multi := len(m.lanes) > 1
	uidW, wordW, readerW := 14, 4, 0
	for i := 0; i < n; i++ {
		e := m.recent[i]
		uidW = max(uidW, len(e.uid))
		wordW = max(wordW, len(outcomeWord(e.outcome)))
		if multi && wide {
			readerW = max(readerW, min(len(e.reader), 14))
		}
	}
	leftW := 8 + 2 + uidW + 2 + wordW + 2 + 6
	if readerW > 0 {
		leftW += readerW + 2
	}
	rightW := 36
	if !withReaders {
		rightW = 0
	}
	if wide {
		leftW = max(leftW, w-rightW-4)
	}
	rightW = w - leftW - 2
	left := []string{m.st.title.Render("LAST TAGS") + strings.Repeat(" ", max(leftW-9, 0))}
	for i := 0; i < n; i++ {
		e := m.recent[i]
		word := outcomeWord(e.outcome)
		line := e.at.Format("15:04:05") + "  "
		if readerW > 0 {
			line += fmt.Sprintf("%-*s  ", readerW, cutMiddle(e.reader, readerW))
		}
		line += fmt.Sprintf("%-*s  ", uidW, orDash(e.uid))
		plainW := ansi.StringWidth(line)
		tail := fmt.Sprintf("  %6s", fmtDur(e.d))
		if wide && e.reason != "" {
			tail += "  " + e.reason
		}
		tail = clip(tail, leftW-plainW-wordW)
		styled := line + m.st.word[outcomeState(e.outcome)].Render(fmt.Sprintf("%-*s", wordW, word)) + tail
		left = append(left, styled+strings.Repeat(" ", max(leftW-plainW-wordW-ansi.StringWidth(tail), 0)))
	}
	if n == 0 {
		left = append(left, m.st.dim.Render(fmt.Sprintf("%-*s", leftW, "none yet")))
	}

	if !withReaders {
		out := left[:min(len(left), rows)]
		for i := range out {
			out[i] = strings.TrimRight(out[i], " ")
		}
		return out
	}
	right := []string{m.st.title.Render("READERS")}
	nameW := 4
	for _, l := range m.lanes {
		nameW = max(nameW, min(len(l.name), 16))
	}
	shown := len(m.lanes)
	if shown > rows-1 {
		shown = max(rows-2, 0)
	}
	for _, l := range m.lanes[:shown] {
		word, rest := m.laneStatus(&l)
		line := fmt.Sprintf("%-*s ", nameW, cutMiddle(l.name, nameW))
		styledWord := word
		if s, ok := wordState(word); ok {
			styledWord = m.st.word[s].Render(word)
		}
		full := clip(line+word+rest, rightW)
		if ansi.StringWidth(line+word) <= rightW {
			full = line + styledWord + clip(rest, rightW-ansi.StringWidth(line+word))
		}
		right = append(right, full)
	}
	if shown < len(m.lanes) {
		right = append(right, m.st.dim.Render(fmt.Sprintf("+%d more", len(m.lanes)-shown)))
	}
	if len(m.lanes) == 0 {
		right = append(right, m.st.dim.Render("none reported yet"))
	}
	out := make([]string, 0, rows)
	for i := 0; i < max(len(left), len(right)) && i < rows; i++ {
		l, r := strings.Repeat(" ", leftW), ""
		if i < len(left) {
			l = left[i]
		}
		if i < len(right) {
			r = right[i]
		}
		out = append(out, strings.TrimRight(l+"  "+r, " "))
	}
	return out
}

// laneStatus is the reader's one-word state and the rest of its line.
func (m Model) laneStatus(l *lane) (string, string) {
	switch {
	case l.phase == phaseStopped, m.closed && l.phase != phaseEncoding:
		return "stopped", ""
	case l.phase == phaseEncoding:
		el := max(m.now.Sub(l.since), 0)
		return "HOLD", fmt.Sprintf(" %s %.1f s %s", spinner[int(el/fastTick)%len(spinner)], el.Seconds(), l.uid)
	case m.hold:
		return "STOP", " · journal hold"
	case l.stalled:
		return "STALLED", ""
	case m.lostNow(l):
		return "NO READER", ""
	case l.phase == phaseResult || (l.hasRes && l.onField):
		word := outcomeWord(l.res.Outcome)
		if l.onField {
			return word, " · remove tag"
		}
		if m.paused {
			return word, " · paused"
		}
		return word, " · tag removed"
	case m.paused:
		return "paused", ""
	case l.phase == phaseWaiting:
		if l.hasRes {
			return "ready", " · last " + outcomeWord(l.res.Outcome)
		}
		return "ready", ""
	}
	return "starting", ""
}

func (m Model) stalledCount() int {
	n := 0
	for _, l := range m.lanes {
		if l.stalled {
			n++
		}
	}
	return n
}

func (m Model) viewFooter(w int) string {
	k := m.keys
	var keys []kb.Binding
	switch {
	case m.confirm:
		keys = []kb.Binding{k.QuitAfter, k.QuitNow, k.Stay}
	case m.help:
		keys = []kb.Binding{k.Close, k.Quit}
	default:
		keys = k.ShortHelp()
		if m.paused {
			keys[0].SetHelp(k.Pause.Help().Key, "resume")
		}
		keys[0].SetEnabled(m.gate != nil)
	}
	left := footer(m.hv, w, keys)
	right := m.syncText()
	if right == "" || m.help || m.confirm {
		return left
	}
	gap := w - ansi.StringWidth(left) - ansi.StringWidth(right) - 1
	if gap < 2 {
		return left
	}
	word := m.st.word[StatePass]
	if m.sync.Offline || m.sync.Err != nil {
		word = m.st.word[StateFail]
	}
	return left + strings.Repeat(" ", gap) + word.Render(right)
}

// syncText is the background sync's state for the footer: the backlog,
// the age of the last acknowledgement, and OFFLINE in words.
func (m Model) syncText() string {
	st := m.sync
	if st == nil {
		return ""
	}
	parts := []string{"SYNC"}
	if st.Offline {
		parts[0] = "SYNC OFFLINE"
	}
	parts = append(parts, fmt.Sprintf("%d to send", st.Backlog))
	if st.LastAck.IsZero() {
		parts = append(parts, "no ack yet")
	} else {
		parts = append(parts, "ack "+fmtAge(max(m.now.Sub(st.LastAck), 0))+" ago")
	}
	return strings.Join(parts, " · ")
}

// fmtAge is how long ago: "4 s", "12 min", "3 h".
func fmtAge(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	}
	return fmt.Sprintf("%d h", int(d.Hours()))
}

func (m Model) viewHelp(w int) []string {
	k := m.keys
	lines := []string{
		"",
		"  " + m.st.title.Render("KEYS"),
	}
	for _, l := range strings.Split(m.hv.FullHelpView(k.FullHelp()), "\n") {
		lines = append(lines, "    "+strings.TrimRight(l, " "))
	}
	lines = append(lines,
		fmt.Sprintf("    %-6s %s", "", "ctrl+c does what q does; esc closes this help"),
		"",
		"  "+m.st.title.Render("WHAT THE SCREEN SAYS"),
	)
	legend := []struct {
		s    State
		text string
	}{
		{StateWaiting, "waiting for a tag: present one"},
		{StateEncoding, "encoding: keep the tag on the reader"},
		{StatePass, "encoded, verified, journaled: remove it, present the next"},
		{StateFail, "not encoded: read Why, do what Do says"},
		{StateDuplicate, "encoded before: set it aside"},
		{StateReaderLost, "reader lost: check its cable; tagline retries"},
		{StatePaused, "no new tag starts: press p to resume"},
		{StateStalled, "the reader stopped answering: take the tag away, replug it"},
		{StateHeld, "the journal refused a write: free space, then press p"},
	}
	for _, e := range legend {
		word := bigWord[e.s]
		lines = append(lines, "    "+m.st.word[e.s].Render(fmt.Sprintf("%-13s", word))+" "+e.text)
	}
	lines = append(lines, "",
		fmt.Sprintf("  Rate, avg and worst cover the last %d tags of any outcome within %d minutes.", station.PaceTags, int(station.PaceHorizon.Minutes())))
	for i := range lines {
		lines[i] = clip(lines[i], w)
	}
	return lines
}

func (m Model) anyWaiting() bool {
	for _, l := range m.lanes {
		if l.phase == phaseWaiting {
			return true
		}
	}
	return false
}

func (m Model) allStopped() bool {
	for _, l := range m.lanes {
		if l.phase != phaseStopped {
			return false
		}
	}
	return len(m.lanes) > 0
}

func (m Model) lostCount() int {
	n := 0
	for i := range m.lanes {
		if m.lostNow(&m.lanes[i]) {
			n++
		}
	}
	return n
}

func outcomeWord(o manifest.Outcome) string {
	return bigWord[outcomeState(o)]
}

func wordState(word string) (State, bool) {
	for s, w := range bigWord {
		if w == word {
			return State(s), true
		}
	}
	return 0, false
}

// fmtDur is a tag's time: "35 ms", "0.42 s", "12.3 s", "1m05s".
func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "—"
	case d < 100*time.Millisecond:
		return fmt.Sprintf("%d ms", max(d.Milliseconds(), 1))
	case d < 10*time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	d = d.Round(time.Second)
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}

// fmtMinutes is a time to go: "<1 min", "~25 min", "~2.5 h".
func fmtMinutes(min float64) string {
	switch {
	case min < 1:
		return "<1 min"
	case min < 90:
		return fmt.Sprintf("~%.0f min", min)
	}
	return fmt.Sprintf("~%.1f h", min/60)
}

// clip cuts s (which may hold escape sequences) to w columns.
func clip(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if ansi.StringWidth(s) <= w {
		return s
	}
	return ansi.Truncate(s, w, "…")
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
