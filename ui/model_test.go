package ui

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/station"
)

// clockAt is a settable clock for tests that drive Update directly.
type clockAt struct{ t time.Time }

func (c *clockAt) now() time.Time { return c.t }

func newTestModel(c *clockAt, readers ...string) Model {
	return NewModel(Config{Batch: testBatch, Readers: readers, Now: c.now, NoColor: true, Gate: &station.Gate{}})
}

func key(s string) tea.KeyMsg {
	switch s {
	case "ctrl+c":
		return tea.KeyMsg{Type: tea.KeyCtrlC}
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEsc}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}
}

func TestReaderLostHoldsThroughRetries(t *testing.T) {
	c := &clockAt{at(0)}
	lostErr := station.Event{Kind: station.EvReaderLost, Reader: "r", Err: reader.ErrNoReader, At: at(10 * time.Second)}
	m := drive(newTestModel(c, "r"), events(history("r", 2))...)
	c.t = at(10 * time.Second)
	m = drive(m, eventMsg(lostErr), eventMsg(evWaiting("r", 11*time.Second)))
	c.t = at(12 * time.Second)
	m = drive(m, tickMsg{})
	if m.State() != StateReaderLost {
		t.Fatalf("state %v 2 s after the reader error, want reader lost (the lane retries every second)", m.State())
	}
	lostErr.At = at(12 * time.Second)
	m = drive(m, eventMsg(lostErr), eventMsg(evWaiting("r", 13*time.Second)))
	c.t = at(14 * time.Second)
	m = drive(m, tickMsg{})
	if m.State() != StateReaderLost {
		t.Fatalf("state %v 4 s after the first error, 2 s after the second, want reader lost", m.State())
	}
	c.t = at(12*time.Second + lostHold)
	m = drive(m, tickMsg{})
	if m.State() != StatePass {
		t.Fatalf("state %v once the errors stopped, want the last result back", m.State())
	}
	// A tag arriving clears it at once.
	lostErr.At = c.t
	m = drive(m, eventMsg(lostErr), eventMsg(evArrived("r", uid(9), 30*time.Second)))
	if m.State() != StateEncoding {
		t.Fatalf("state %v after a tag arrived, want encoding", m.State())
	}
}

func TestPausedShowsUntilANewResult(t *testing.T) {
	c := &clockAt{at(20 * time.Second)}
	m := drive(newTestModel(c, "r"), events(history("r", 3))...)
	m = drive(m, key("p"))
	if !m.paused || m.State() != StatePaused {
		t.Fatalf("after p: paused %v state %v", m.paused, m.State())
	}
	// The lane had already passed the gate: one more tag is encoded and
	// its result must show.
	c.t = at(22 * time.Second)
	m = drive(m, events(cycle("r", duplicate(uid(7)), 21*time.Second))...)
	if m.State() != StateDuplicate {
		t.Fatalf("state %v after a result while paused, want duplicate", m.State())
	}
	if got := m.screen().summary; !strings.Contains(got, "ALREADY DONE") {
		t.Errorf("summary %q", got)
	}
	m = drive(m, key("p"))
	if m.paused {
		t.Error("second p did not resume")
	}
}

func TestFocusFollowsTheLatestTag(t *testing.T) {
	c := &clockAt{at(10 * time.Second)}
	m := drive(newTestModel(c, "a", "b"),
		eventMsg(evArrived("a", uid(1), time.Second)),
		eventMsg(evResult("a", failed(uid(1), time.Second, reader.ErrTagRemoved), 2*time.Second)),
		eventMsg(evArrived("b", uid(2), 3*time.Second)),
	)
	if m.State() != StateEncoding || m.focusLane().name != "b" {
		t.Fatalf("state %v on %s, want encoding on b", m.State(), m.focusLane().name)
	}
	// Each lane has its panel: b's tag in flight does not hide what a
	// needs done.
	view := ansi.Strip(m.View())
	for _, s := range []string{"Why: tag moved away", "Do:  present the same tag again to finish it", "04A1B2C3D45E02 ", "keep the tag on the reader"} {
		if !strings.Contains(view, s) {
			t.Errorf("screen lacks %q:\n%s", s, view)
		}
	}
	m = drive(m, eventMsg(evArrived("c", uid(3), 4*time.Second)))
	if len(m.lanes) != 3 || m.lanes[2].name != "c" {
		t.Errorf("an unknown reader did not get a lane: %+v", m.lanes)
	}
}

func TestUpdateDoesNotChangeOtherCopies(t *testing.T) {
	c := &clockAt{at(10 * time.Second)}
	m1 := drive(newTestModel(c, "r"), eventMsg(evWaiting("r", 0)))
	before := m1.View()
	m2 := drive(m1, events(cycle("r", pass(uid(1), time.Second), time.Second))...)
	if m1.View() != before {
		t.Error("updating a copy changed the original model")
	}
	if m2.State() != StatePass {
		t.Errorf("copy state %v", m2.State())
	}
}

func TestResultWithoutResultIsHarmless(t *testing.T) {
	c := &clockAt{at(0)}
	m := drive(newTestModel(c, "r"), eventMsg(station.Event{Kind: station.EvResult, Reader: "r"}))
	if m.Tally().Total != 0 || m.seen != 1 {
		t.Errorf("tally %+v seen %d", m.Tally(), m.seen)
	}
	_ = m.View()
}

func TestQuitConfirmation(t *testing.T) {
	c := &clockAt{at(10 * time.Second)}
	idle := drive(newTestModel(c, "r"), eventMsg(evWaiting("r", 0)))
	if _, cmd := idle.Update(key("q")); cmd == nil {
		t.Error("q with no tag in flight did not quit")
	}
	busy := drive(idle, eventMsg(evArrived("r", uid(1), 9*time.Second)))
	for _, k := range []string{"q", "ctrl+c"} {
		m := drive(busy, key(k))
		if !m.confirm {
			t.Fatalf("%s with a tag in flight did not ask", k)
		}
		if m2 := drive(m, key("n")); m2.confirm {
			t.Error("n did not cancel")
		}
		if m2 := drive(m, key("esc")); m2.confirm {
			t.Error("esc did not cancel")
		}
		if m2 := drive(m, key("x")); !m2.confirm {
			t.Error("another key closed the confirmation")
		}
	}
	m := drive(busy, key("?"), key("q"))
	if m.help || !m.confirm {
		t.Errorf("q from the help: help %v confirm %v", m.help, m.confirm)
	}
}

func TestHelpToggles(t *testing.T) {
	c := &clockAt{at(0)}
	m := drive(newTestModel(c, "r"), key("?"))
	if !m.help || !strings.Contains(m.View(), "WHAT THE SCREEN SAYS") {
		t.Fatal("? did not open the help")
	}
	if m2 := drive(m, key("esc")); m2.help {
		t.Error("esc did not close the help")
	}
	if m2 := drive(m, key("?")); m2.help {
		t.Error("? did not close the help")
	}
	if m2 := drive(m, key("p")); !m2.help || m2.paused {
		t.Error("p under the help paused the line")
	}
}

func TestNoGateNoPause(t *testing.T) {
	c := &clockAt{at(0)}
	m := NewModel(Config{Batch: testBatch, Now: c.now, NoColor: true})
	m = drive(m, key("p"))
	if m.paused || strings.Contains(m.View(), "pause") {
		t.Errorf("pause without a gate: paused %v", m.paused)
	}
}

// Every state fits 80×24 and 160×48 and keeps its words, and smaller
// terminals still get the state's word.
func TestEveryStateFits(t *testing.T) {
	c := &clockAt{at(30 * time.Second)}
	base := drive(newTestModel(c, "sim-0", "a-very-long-reader-name-from-pcsc 00 00"), events(history("sim-0", 12))...)
	long := failed(uid(99)+"0011223344", time.Second, errors.New(strings.Repeat("a long error chain: ", 12)))
	variants := map[string]Model{
		"waiting":  newTestModel(c, "sim-0"),
		"encoding": drive(base, eventMsg(evArrived("sim-0", uid(20), 29*time.Second))),
		"pass":     base,
		"fail":     drive(base, events(cycle("sim-0", long, 28*time.Second))...),
		"dup":      drive(base, events(cycle("sim-0", duplicate(uid(3)), 28*time.Second))...),
		"lost":     drive(base, eventMsg(station.Event{Kind: station.EvReaderLost, Reader: "sim-0", Err: errors.New(strings.Repeat("x", 200)), At: c.t})),
		"paused":   drive(base, key("p")),
		"help":     drive(base, key("?")),
		"confirm":  drive(base, eventMsg(evArrived("sim-0", uid(20), 29*time.Second)), key("q")),
	}
	for name, m := range variants {
		for _, sz := range [][2]int{{80, 24}, {160, 48}, {100, 30}, {60, 20}, {40, 12}} {
			v := drive(m, tea.WindowSizeMsg{Width: sz[0], Height: sz[1]}).View()
			checkFits(t, v, sz[0], sz[1])
			if sz[0] < 80 || name == "help" {
				continue
			}
			plain := ansi.Strip(v)
			if mm := drive(m, tea.WindowSizeMsg{Width: sz[0], Height: sz[1]}); mm.useGrid(sz[0], sz[1]) {
				// One panel per lane: each says what it is and what to do.
				for i := range mm.lanes {
					l := &mm.lanes[i]
					summary, details := mm.panelText(l, mm.laneState(l))
					if !strings.Contains(plain, clip(summary, sz[0]/2-1)) {
						t.Errorf("%s at %v: lane %s's %q missing", name, sz, l.name, summary)
					}
					if len(doOnly(details)) > 0 && strings.Count(plain, "Do:") < 1 {
						t.Errorf("%s at %v: lane %s's Do line is cut", name, sz, l.name)
					}
				}
				continue
			}
			scr := m.screen()
			if !strings.Contains(plain, scr.summary) && !strings.Contains(plain, ansi.Truncate(scr.summary, sz[0]-1, "")) {
				t.Errorf("%s at %v: summary %q missing", name, sz, scr.summary)
			}
			if strings.Count(v, "\n") != sz[1]-1 {
				t.Errorf("%s at %v: %d lines, want the full height", name, sz, strings.Count(v, "\n")+1)
			}
			for _, d := range scr.details {
				if d.label == "Do" && !strings.Contains(plain, "Do:") {
					t.Errorf("%s at %v: the Do line is cut", name, sz)
				}
			}
		}
	}
}

// syncBuffer is a log sink written from command goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The w answer: the gate closes, the tag in flight finishes, then the
// program ends by itself; the log has the result and the quit, the screen
// none of it.
func TestQuitAfterTheTagInFlight(t *testing.T) {
	var logs syncBuffer
	gate := &station.Gate{}
	ch := make(chan station.Event)
	sc := scenario{gate: gate}
	cfg := sc.config(ch)
	cfg.Gate = gate
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	tm := teatest.NewTestModel(t, NewModel(cfg), teatest.WithInitialTermSize(80, 24))
	for _, e := range with(shift(), evArrived("sim-0", uid(8), 22*time.Second)) {
		ch <- e
	}
	waitScreen(t, tm, "HOLD · encoding")
	tm.Type("q")
	waitScreen(t, tm, "QUIT?")
	tm.Type("w")
	waitScreen(t, tm, "QUITTING AFTER THIS TAG")
	if !gate.Paused() {
		t.Error("w did not pause the gate")
	}
	ch <- evResult("sim-0", pass(uid(8), 400*time.Millisecond), 22400*time.Millisecond)
	fm := tm.FinalModel(t, teatest.WithFinalTimeout(3*time.Second)).(Model)
	if fm.Tally().Passed != 9 {
		t.Errorf("pass %d, want 9", fm.Tally().Passed)
	}
	out := readAll(t, tm)
	if strings.Contains(out, "level=") {
		t.Error("log records on the screen")
	}
	for _, want := range []string{`msg="tag result"`, "uid=" + uid(8), "outcome=encoded", `msg="quit after the tag in flight"`, "pass=9"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

func readAll(t *testing.T, tm *teatest.TestModel) string {
	var b bytes.Buffer
	if _, err := b.ReadFrom(tm.FinalOutput(t)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestQuitKeys(t *testing.T) {
	for _, keys := range []string{"q", "Q"} {
		ch := make(chan station.Event)
		tm := teatest.NewTestModel(t, NewModel(scenario{}.config(ch)), teatest.WithInitialTermSize(80, 24))
		ch <- evWaiting("sim-0", 0)
		waitScreen(t, tm, "sim-0 ready")
		tm.Type(keys)
		tm.WaitFinished(t, teatest.WithFinalTimeout(3*time.Second))
	}
	// With a tag in flight: q asks, y quits.
	ch := make(chan station.Event)
	tm := teatest.NewTestModel(t, NewModel(scenario{}.config(ch)), teatest.WithInitialTermSize(80, 24))
	ch <- evArrived("sim-0", uid(1), 59*time.Second)
	waitScreen(t, tm, "HOLD · encoding")
	tm.Type("q")
	waitScreen(t, tm, "QUIT?")
	tm.Type("y")
	tm.WaitFinished(t, teatest.WithFinalTimeout(3*time.Second))
}

func TestRunQuitsAndLogsToTheFile(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "ui.log")
	var out bytes.Buffer
	ch := make(chan station.Event)
	done := make(chan error, 1)
	// Input that types q only after the first screen, like an operator.
	r, w := ioPipe(t)
	go func() {
		done <- Run(context.Background(), Config{Batch: testBatch, Events: ch, In: r, Out: &out, LogPath: logPath, NoColor: true, Readers: []string{"sim-0"}})
	}()
	ch <- evWaiting("sim-0", 0)
	ch <- evArrived("sim-0", uid(1), time.Second)
	ch <- evResult("sim-0", pass(uid(1), 400*time.Millisecond), 1400*time.Millisecond)
	ch <- evRemoved("sim-0", uid(1), 2*time.Second) // the result has been handled once this one is taken
	if _, err := w.Write([]byte("q")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after q")
	}
	logs, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`msg="screen started"`, `msg="tag result"`, `msg="operator quit"`} {
		if !strings.Contains(string(logs), want) {
			t.Errorf("log file lacks %s:\n%s", want, logs)
		}
	}
	if strings.Contains(out.String(), "level=") {
		t.Error("log records reached the screen")
	}
	if !strings.Contains(out.String(), "PASS · "+uid(1)) {
		t.Errorf("screen never showed the pass:\n%s", ansi.Strip(out.String()))
	}
}

func TestRunReturnsWhenTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r, _ := ioPipe(t)
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Config{Batch: testBatch, In: r, Out: &bytes.Buffer{}, NoColor: true}) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the context ended")
	}
}

func TestRunRefusesAnUnwritableLog(t *testing.T) {
	err := Run(context.Background(), Config{LogPath: filepath.Join(t.TempDir(), "missing", "ui.log"), In: strings.NewReader(""), Out: &bytes.Buffer{}})
	if err == nil {
		t.Fatal("Run started without its log file")
	}
}

func ioPipe(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}

// When the lanes end (the CLI's --count reached), the screen keeps the
// last result and stops asking for the next tag.
func TestStoppedStation(t *testing.T) {
	c := &clockAt{at(30 * time.Second)}
	m := drive(newTestModel(c, "r"), events(history("r", 3))...)
	m = drive(m, eventMsg(station.Event{Kind: station.EvStopped, Reader: "r", At: c.t}), eventsClosedMsg{})
	v := ansi.Strip(m.View())
	if m.State() != StatePass {
		t.Errorf("state %v, want the last result", m.State())
	}
	for _, want := range []string{"STOPPED", "press q to quit", "r    stopped"} {
		if !strings.Contains(v, want) {
			t.Errorf("screen lacks %q:\n%s", want, v)
		}
	}
	if strings.Contains(v, "present the next") {
		t.Errorf("a stopped station asks for the next tag:\n%s", v)
	}
	if _, cmd := m.Update(key("q")); cmd == nil {
		t.Error("q did not quit")
	}
	// Lanes cancelled by the CLI may not get their EvStopped through; the
	// closed channel says it for them.
	m = drive(newTestModel(c, "r"), events(history("r", 3))...)
	m = drive(m, eventsClosedMsg{})
	if v := ansi.Strip(m.View()); !strings.Contains(v, "r    stopped") || !strings.Contains(v, "press q to quit") {
		t.Errorf("closed channel, no EvStopped:\n%s", v)
	}
	idle := drive(newTestModel(c, "r"), eventMsg(station.Event{Kind: station.EvStopped, Reader: "r"}))
	if v := ansi.Strip(idle.View()); !strings.Contains(v, "STOPPED · the lanes have ended") {
		t.Errorf("no tag, lanes ended:\n%s", v)
	}
}

// Two quick presses of p: their commands may run in either order; the
// gate and the screen end as the last press says.
func TestPausePressesApplyInOrder(t *testing.T) {
	g := &station.Gate{}
	c := &clockAt{at(0)}
	m := NewModel(Config{Batch: testBatch, Now: c.now, NoColor: true, Gate: g})
	m1, pause := m.Update(key("p"))
	m2, resume := m1.Update(key("p"))
	if m2.(Model).paused {
		t.Fatal("second p did not resume on screen")
	}
	// The resume's command runs first, the pause's after it.
	resumed := resume().(gateMsg) // no logger: the gate's command alone
	paused := pause().(gateMsg)
	if g.Paused() {
		t.Error("the earlier press, run late, paused the gate again")
	}
	final := drive(m2.(Model), resumed, paused)
	if final.paused || final.State() == StatePaused {
		t.Error("a stale gate report changed the screen")
	}
}

// Text from the lanes cannot break the layout or reach the terminal as
// escape sequences.
func TestLaneTextIsCleaned(t *testing.T) {
	c := &clockAt{at(10 * time.Second)}
	bad := failed(uid(1), time.Second, errors.New("driver said:\n\x1b[2Jboom\r\nagain"))
	bad.Hint = "line one\nline two"
	m := drive(newTestModel(c, "r"), events(cycle("r\n2", bad, time.Second))...)
	m = drive(m, eventMsg(station.Event{Kind: station.EvReaderLost, Reader: "r", Err: errors.New("gone\x1b[31m red"), At: c.t}))
	for _, sz := range [][2]int{{80, 24}, {160, 48}} {
		v := drive(m, tea.WindowSizeMsg{Width: sz[0], Height: sz[1]}).View()
		if strings.ContainsAny(v, "\x1b\r") {
			t.Errorf("escape or carriage return on a NoColor screen: %q", v)
		}
		checkFits(t, v, sz[0], sz[1])
	}
	if got := m.recent[0].reason; got != "driver said:  [2Jboom  again" {
		t.Errorf("reason %q", got)
	}
}

// The footer drops the keys that do not fit, whole and without an
// ellipsis, as it did before bubbles/help drew it.
func TestFooterDropsWhatDoesNotFit(t *testing.T) {
	m := NewModel(Config{NoColor: true, Out: io.Discard})
	for w, want := range map[int]string{
		80: " [q] quit   [?] help",
		20: " [q] quit   [?] help",
		19: " [q] quit",
		9:  " [q] quit",
		8:  " ",
	} {
		if got := m.viewFooter(w); got != want {
			t.Errorf("width %d: %q, want %q", w, got, want)
		}
	}
	m.confirm = true
	if got := m.viewFooter(80); got != " [w] wait, then quit   [y] quit now   [n] keep running" {
		t.Errorf("confirm: %q", got)
	}
}
