package ui

import (
	"context"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/charmbracelet/bubbles/help"
	kb "github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/station"
)

// State is what the big block on the screen says.
type State int

const (
	StateWaiting    State = iota // READY: no tag yet
	StateEncoding                // HOLD: a tag is being encoded
	StatePass                    // PASS: encoded (or finished), verified, journaled
	StateFail                    // FAIL: not encoded; reason and what to do
	StateDuplicate               // ALREADY DONE: the tag was encoded before
	StateReaderLost              // NO READER
	StatePaused                  // PAUSED
	StateStalled                 // STALLED: the reader stopped answering
	StateHeld                    // STOP: the journal refused a write; every lane holds
	numStates
)

var stateNames = [numStates]string{"waiting", "encoding", "pass", "fail", "duplicate", "reader lost", "paused", "stalled", "held"}

func (s State) String() string {
	if s < 0 || s >= numStates {
		return "unknown"
	}
	return stateNames[s]
}

// bigWord is the word drawn in block letters for each state.
// The journal's hold says STOP: HOLD already tells the operator to hold a
// tag on the reader while it is encoded.
var bigWord = [numStates]string{"READY", "HOLD", "PASS", "FAIL", "ALREADY DONE", "NO READER", "PAUSED", "STALLED", "STOP"}

const (
	fastTick = 100 * time.Millisecond // while a tag is being encoded
	slowTick = time.Second            // otherwise (rate decay, reader-lost hold)
	// lostHold keeps NO READER up this long after the lane's last reader
	// error: the lane retries every second and would otherwise flicker
	// between NO READER and READY.
	lostHold = 3 * time.Second
	// recentMax is how many results the model keeps for the list.
	recentMax = 16
)

type phase int

const (
	phaseIdle     phase = iota // no event yet
	phaseWaiting               // waiting for a tag
	phaseEncoding              // a tag is being encoded
	phaseResult                // a result came; the lane has not asked for the next tag
	phaseStopped               // the lane ended
)

// lane is one reader as the screen knows it.
type lane struct {
	name    string
	phase   phase
	uid     string    // tag being encoded
	since   time.Time // when it arrived
	res     station.Result
	hasRes  bool
	resAt   time.Time
	onField bool // the last result's tag is still on the reader
	lost    bool
	lostAt  time.Time
	lostMsg string
	// stalled: the reader stopped answering; any later event of the lane
	// ends it.
	stalled  bool
	stallMsg string
}

// entry is one line of the recent-tags list.
type entry struct {
	at      time.Time
	reader  string
	uid     string
	outcome manifest.Outcome
	d       time.Duration
	reason  string
}

// Model is the operator's screen. It is a value: Update returns a new one
// and View reads it and nothing else.
type Model struct {
	batch  batch.Batch
	events <-chan station.Event
	gate   *gateDriver // nil without a gate
	clock  func() time.Time
	log    slog.Handler
	keys   KeyMap
	hv     help.Model // renders keys' help
	st     styles

	width, height int
	now           time.Time

	lanes   []lane // copied on write
	focus   int    // lane the big block shows; -1 none
	tally   station.Tally
	prog    Progress
	recent  [recentMax]entry // newest first
	nrecent int

	paused    bool
	pausedAt  time.Time
	hold      bool   // the journal refused a write: every lane holds
	holdMsg   string // what the journal said
	sync      *station.SyncState
	simulated bool
	bell      io.Writer // where a FAIL rings the terminal bell; nil: nowhere
	gateSeq   int       // presses of p (and w) sent to the gate
	help      bool
	confirm   bool // quit confirmation shown
	quitAfter bool // quit when no tag is in flight
	closed    bool // the event channel was closed
	tickGen   int
	seen      int // events handled
}

// NewModel builds the screen's model. It opens nothing: logs go to
// cfg.Logger (Run opens cfg.LogPath).
func NewModel(cfg Config) Model {
	clock := cfg.Now
	if clock == nil {
		clock = time.Now
	}
	out := cfg.Out
	if out == nil {
		out = os.Stdout
	}
	r := lipgloss.NewRenderer(out)
	switch {
	case cfg.NoColor:
		r.SetColorProfile(termenv.Ascii)
	case cfg.profile != nil:
		r.SetColorProfile(*cfg.profile)
	}
	var h slog.Handler
	if cfg.Logger != nil {
		h = cfg.Logger.Handler()
	}
	target := cfg.Batch.Target
	if target == 0 {
		target = cfg.Stats.Target
	}
	m := Model{
		batch:  cfg.Batch,
		events: cfg.Events,
		clock:  clock,
		log:    h,
		keys:   DefaultKeyMap(),
		st:     newStyles(r),
		hv:     newHelp(r, r.ColorProfile() != termenv.Ascii),
		width:  80,
		height: 24,
		now:    clock(),
		focus:  -1,
		prog:   Progress{Before: cfg.Stats.Done, Target: target},
		tally:  station.Tally{Start: clock()},

		simulated: cfg.Simulated,
		bell:      cfg.Out,
	}
	if cfg.Gate != nil {
		m.gate = &gateDriver{g: cfg.Gate}
	}
	for _, name := range cfg.Readers {
		if !slices.ContainsFunc(m.lanes, func(l lane) bool { return l.name == name }) {
			m.lanes = append(m.lanes, lane{name: name})
		}
	}
	return m
}

// Messages.
type (
	eventMsg        station.Event
	eventsClosedMsg struct{}
	gateMsg         struct {
		seq    int
		paused bool
	}
	tickMsg struct{ gen int }
)

// waitEvent reads the next event; Update issues it again after each one.
func waitEvent(ch <-chan station.Event) tea.Cmd {
	if ch == nil {
		return nil
	}
	return func() tea.Msg {
		ev, ok := <-ch
		if !ok {
			return eventsClosedMsg{}
		}
		return eventMsg(ev)
	}
}

// gateDriver applies the operator's pause and resume to the gate in the
// order they were pressed: commands run concurrently, so two quick presses
// of p could otherwise reach the gate in the wrong order.
type gateDriver struct {
	g       *station.Gate
	mu      sync.Mutex
	applied int // sequence number of the last press applied
}

// cmd sets the gate paused or not for press seq (0: only ask) and
// reports its state.
func (d *gateDriver) cmd(seq int, pause bool) tea.Cmd {
	if d == nil {
		return nil
	}
	return func() tea.Msg {
		d.mu.Lock()
		defer d.mu.Unlock()
		if seq > d.applied {
			d.applied = seq
			if pause {
				d.g.Pause()
			} else {
				d.g.Resume()
			}
		}
		return gateMsg{seq: seq, paused: d.g.Paused()}
	}
}

func tick(gen int, d time.Duration) tea.Cmd {
	return tea.Tick(d, func(time.Time) tea.Msg { return tickMsg{gen: gen} })
}

// logCmd builds the record now, with the model's clock, and writes it in
// a command.
func (m Model) logCmd(level slog.Level, msg string, attrs ...slog.Attr) tea.Cmd {
	h := m.log
	if h == nil || !h.Enabled(context.Background(), level) {
		return nil
	}
	r := slog.NewRecord(m.now, level, msg, 0)
	r.AddAttrs(attrs...)
	return func() tea.Msg {
		_ = h.Handle(context.Background(), r)
		return nil
	}
}

// Init starts reading events, asks the gate its state and starts the clock.
func (m Model) Init() tea.Cmd {
	return tea.Batch(
		waitEvent(m.events),
		m.gate.cmd(0, false),
		tick(m.tickGen, slowTick),
		m.logCmd(slog.LevelInfo, "screen started", slog.String("batch", m.batch.ID), slog.Int("done", m.prog.Before), slog.Int("target", m.prog.Target)),
	)
}

// Update is the only place the model changes.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	m.now = m.clock()
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		return m, nil
	case eventMsg:
		return m.onEvent(station.Event(msg))
	case eventsClosedMsg:
		m.closed = true
		return m, m.logCmd(slog.LevelInfo, "lanes stopped sending events")
	case gateMsg:
		if msg.seq < m.gateSeq {
			return m, nil // a later press is on its way
		}
		if msg.paused != m.paused {
			m.paused = msg.paused
			if m.paused {
				m.pausedAt = m.now
			}
		}
		return m, nil
	case tickMsg:
		if msg.gen != m.tickGen {
			return m, nil // an older chain; a newer one runs
		}
		d := slowTick
		if m.anyEncoding() {
			d = fastTick
		}
		return m, tick(m.tickGen, d)
	case tea.KeyMsg:
		return m.onKey(msg)
	}
	return m, nil
}

func (m Model) laneIndex(name string) (Model, int) {
	for i := range m.lanes {
		if m.lanes[i].name == name {
			m.lanes = slices.Clone(m.lanes)
			return m, i
		}
	}
	m.lanes = append(slices.Clone(m.lanes), lane{name: name})
	return m, len(m.lanes) - 1
}

func (m Model) onEvent(ev station.Event) (tea.Model, tea.Cmd) {
	m.seen++
	at := ev.At
	if at.IsZero() {
		at = m.now
	}
	if m, cmds, ok := m.onStationEvent(ev, at); ok {
		return m, tea.Batch(append(cmds, waitEvent(m.events))...)
	}
	m, i := m.laneIndex(oneLine(ev.Reader))
	l := &m.lanes[i]
	if ev.Kind != station.EvStalled {
		l.stalled = false // the lane spoke again
	}
	var cmds []tea.Cmd
	switch ev.Kind {
	case station.EvWaiting:
		l.phase, l.uid = phaseWaiting, ""
	case station.EvArrived:
		l.phase, l.uid, l.since = phaseEncoding, oneLine(string(ev.UID)), at
		l.lost, l.onField = false, true
		m.hold = false // a tag starts only once the runtime has resumed
		m.focus = i
		m.tickGen++
		cmds = append(cmds, tick(m.tickGen, fastTick),
			m.logCmd(slog.LevelDebug, "tag arrived", slog.String("reader", l.name), slog.String("uid", string(ev.UID))))
	case station.EvResult:
		if ev.Result == nil {
			l.phase = phaseResult
			cmds = append(cmds, m.logCmd(slog.LevelWarn, "result event without a result", slog.String("reader", l.name)))
			break
		}
		r := *ev.Result
		if r.UID == "" {
			r.UID = ev.UID
		}
		if r.Reader == "" {
			r.Reader = l.name
		}
		r.UID, r.SKU, r.Reason, r.Hint = manifest.UID(oneLine(string(r.UID))), oneLine(r.SKU), oneLine(r.Reason), oneLine(r.Hint)
		l.phase, l.uid = phaseResult, ""
		l.res, l.hasRes, l.resAt, l.onField = r, true, at, true
		m.focus = i
		m.tally.Add(&r, at)
		if r.Outcome.Passed() {
			m.prog.Run++
		}
		copy(m.recent[1:], m.recent[:recentMax-1])
		m.recent[0] = entry{at: at, reader: l.name, uid: string(r.UID), outcome: r.Outcome, d: r.Duration, reason: r.Reason}
		m.nrecent = min(m.nrecent+1, recentMax)
		level := slog.LevelInfo
		if r.Outcome == manifest.Failed {
			level = slog.LevelWarn
			cmds = append(cmds, m.ring())
		}
		attrs := []slog.Attr{
			slog.String("reader", l.name), slog.String("uid", string(r.UID)), slog.String("outcome", string(r.Outcome)),
			slog.Duration("duration", r.Duration), slog.Int("done", m.prog.Done()),
		}
		if r.Reason != "" {
			attrs = append(attrs, slog.String("reason", r.Reason), slog.String("hint", r.Hint))
		}
		cmds = append(cmds, m.logCmd(level, "tag result", attrs...))
	case station.EvRemoved:
		l.onField = false
	case station.EvReaderLost:
		first := !l.lost
		l.lost, l.lostAt, l.lostMsg = true, at, errText(ev.Err)
		if l.phase == phaseEncoding {
			l.phase = phaseWaiting
		}
		if first {
			m.focus = i
			cmds = append(cmds, m.logCmd(slog.LevelWarn, "reader lost", slog.String("reader", l.name), slog.String("error", l.lostMsg)))
		}
	case station.EvStalled:
		first := !l.stalled
		l.stalled, l.stallMsg = true, errText(ev.Err)
		if first {
			cmds = append(cmds, m.logCmd(slog.LevelWarn, "reader stalled", slog.String("reader", l.name), slog.String("error", l.stallMsg)))
		}
	case station.EvStopped:
		l.phase, l.lost, l.onField = phaseStopped, false, false
		cmds = append(cmds, m.logCmd(slog.LevelInfo, "lane stopped", slog.String("reader", l.name)))
	}
	if m.quitAfter && !m.anyEncoding() {
		// Not waiting for the next event: the sequence would block on it.
		return m, m.quit("quit after the tag in flight", cmds...)
	}
	return m, tea.Batch(append(cmds, waitEvent(m.events))...)
}

func (m Model) onKey(k tea.KeyMsg) (tea.Model, tea.Cmd) {
	km := m.keys
	if m.confirm {
		switch {
		case kb.Matches(k, km.QuitNow):
			return m, m.quit("operator quit with a tag in flight")
		case kb.Matches(k, km.QuitAfter):
			m.confirm, m.quitAfter = false, true
			if !m.anyEncoding() {
				return m, m.quit("operator quit")
			}
			m.paused, m.pausedAt = true, m.now
			m.gateSeq++
			return m, tea.Batch(m.gate.cmd(m.gateSeq, true),
				m.logCmd(slog.LevelInfo, "quitting after the tag in flight"))
		case kb.Matches(k, km.Stay):
			m.confirm = false
		}
		return m, nil
	}
	if m.help {
		switch {
		case kb.Matches(k, km.Close):
			m.help = false
			return m, nil
		case !kb.Matches(k, km.Quit):
			return m, nil
		}
		m.help = false
	}
	switch {
	case kb.Matches(k, km.Quit):
		if m.anyEncoding() {
			m.confirm = true
			return m, nil
		}
		return m, m.quit("operator quit")
	case kb.Matches(k, km.Pause):
		if m.gate == nil {
			return m, nil
		}
		m.paused = !m.paused
		if m.paused {
			m.pausedAt = m.now
		}
		m.quitAfter = false
		if !m.paused && m.hold {
			// The runtime probes the journal again on resume and holds
			// again, with a new event, when it still refuses.
			m.hold = false
		}
		word := "resumed"
		if m.paused {
			word = "paused"
		}
		m.gateSeq++
		return m, tea.Batch(m.gate.cmd(m.gateSeq, m.paused), m.logCmd(slog.LevelInfo, "line "+word))
	case kb.Matches(k, km.Help):
		m.help = true
	}
	return m, nil
}

// quit logs why and then quits; the log record is written before the
// program ends.
func (m Model) quit(why string, also ...tea.Cmd) tea.Cmd {
	return tea.Sequence(tea.Batch(also...), m.logCmd(slog.LevelInfo, why,
		slog.Int("done", m.prog.Done()), slog.Int("pass", m.tally.Passed),
		slog.Int("fail", m.tally.Failed), slog.Int("duplicate", m.tally.Duplicates)), tea.Quit)
}

func (m Model) anyEncoding() bool {
	for _, l := range m.lanes {
		if l.phase == phaseEncoding {
			return true
		}
	}
	return false
}

func (m Model) lostNow(l *lane) bool {
	return l.lost && (l.phase != phaseWaiting || m.now.Sub(l.lostAt) < lostHold)
}

func (m Model) focusLane() *lane {
	if m.focus < 0 || m.focus >= len(m.lanes) {
		return nil
	}
	return &m.lanes[m.focus]
}

// State is what the big block shows now: the state of the lane with the
// latest tag (with several lanes, each panel shows its own).
func (m Model) State() State { return m.laneState(m.focusLane()) }

// laneState is what lane l's panel says; l may be nil (no lane yet).
func (m Model) laneState(l *lane) State {
	switch {
	case l != nil && l.phase == phaseEncoding:
		return StateEncoding
	case m.hold:
		return StateHeld
	case l != nil && l.stalled:
		return StateStalled
	case l != nil && m.lostNow(l):
		return StateReaderLost
	case m.paused && (l == nil || !l.hasRes || !l.resAt.After(m.pausedAt) && !needsHand(l)):
		return StatePaused
	case l != nil && l.hasRes:
		return outcomeState(l.res.Outcome)
	}
	return StateWaiting
}

// needsHand reports a FAIL or ALREADY DONE whose tag is still on the
// reader: a pause must not hide what the operator has to do with it.
func needsHand(l *lane) bool {
	return l.onField && (l.res.Outcome == manifest.Failed || l.res.Outcome == manifest.Duplicate)
}

// Progress is the batch's progress as the screen shows it.
func (m Model) Progress() Progress { return m.prog }

// Tally is this run's counts and timings.
func (m Model) Tally() station.Tally { return m.tally }

func outcomeState(o manifest.Outcome) State {
	switch {
	case o.Passed():
		return StatePass
	case o == manifest.Duplicate:
		return StateDuplicate
	}
	return StateFail
}

func errText(err error) string {
	if err == nil {
		return "the reader stopped answering"
	}
	return oneLine(err.Error())
}

// oneLine makes text from the lanes safe to lay out: control characters
// (newlines from wrapped errors, escape sequences from a driver) become
// spaces, so that they cannot break a line or reach the terminal.
func oneLine(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return strings.TrimSpace(s)
	}
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s))
}

// onStationEvent handles the events that concern the whole station rather
// than one lane; ok is false for a lane's event.
func (m Model) onStationEvent(ev station.Event, at time.Time) (Model, []tea.Cmd, bool) {
	switch ev.Kind {
	case station.EvHold:
		first := !m.hold
		m.hold, m.holdMsg = true, errText(ev.Err)
		if ev.Err == nil {
			m.holdMsg = "the journal refused a write"
		}
		// The runtime pauses every lane; p resumes, as after a pause.
		if !m.paused {
			m.paused, m.pausedAt = true, at
		}
		var cmds []tea.Cmd
		if first {
			cmds = append(cmds, m.ring(), m.logCmd(slog.LevelError, "journal hold", slog.String("error", m.holdMsg)))
		}
		return m, cmds, true
	case station.EvSync:
		if ev.Sync == nil {
			return m, nil, true
		}
		st := *ev.Sync
		st.Endpoint = oneLine(st.Endpoint)
		m.sync = &st
		return m, nil, true
	}
	return m, nil, false
}

// ring sounds the terminal's bell on the program's output. The renderer
// writes each frame with one write, and a terminal does not interleave
// two writes, so the bell cannot land inside an escape sequence.
func (m Model) ring() tea.Cmd {
	w := m.bell
	if w == nil {
		return nil
	}
	return func() tea.Msg {
		_, _ = io.WriteString(w, "\a")
		return nil
	}
}
