package ui

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/station"
)

// The case: lane 2's PASS came 4 s after lane 1's ALREADY DONE
// and hid it. Each lane now keeps its own word and what to do.
func TestOneLaneDoesNotHideAnother(t *testing.T) {
	c := &clockAt{at(40 * time.Second)}
	m := drive(newTestModel(c, "left", "right"),
		events(join(laneDuplicate("left", 0x10), lanePass("right", 0x20)))...)
	if m.laneState(&m.lanes[0]) != StateDuplicate || m.laneState(&m.lanes[1]) != StatePass {
		t.Fatalf("lane states %v, %v", m.laneState(&m.lanes[0]), m.laneState(&m.lanes[1]))
	}
	view := ansi.Strip(m.View())
	for _, s := range []string{"ALREADY DONE", uid(0x13), "set this tag aside", uid(0x23), "remove the tag, present the next"} {
		if !strings.Contains(view, s) {
			t.Errorf("screen lacks %q:\n%s", s, view)
		}
	}
}

func TestStalledReaderShowsOnItsLaneUntilItAnswers(t *testing.T) {
	c := &clockAt{at(30 * time.Second)}
	m := drive(newTestModel(c, "a", "b"), events(join(laneWaiting("a", 0), lanePass("b", 0x10)))...)
	m = drive(m, eventMsg(evStalled("a", 29*time.Second)))
	if got := m.laneState(&m.lanes[0]); got != StateStalled {
		t.Fatalf("lane a: %v, want stalled", got)
	}
	if got := m.laneState(&m.lanes[1]); got != StatePass {
		t.Errorf("lane b: %v, want its PASS", got)
	}
	view := ansi.Strip(m.View())
	for _, s := range []string{"STALLED", "no answer from the reader for 5 s", "1 STALLED"} {
		if !strings.Contains(view, s) {
			t.Errorf("screen lacks %q:\n%s", s, view)
		}
	}
	m = drive(m, eventMsg(evWaiting("a", 31*time.Second)))
	if got := m.laneState(&m.lanes[0]); got == StateStalled {
		t.Errorf("lane a still stalled after it answered")
	}
	if strings.Contains(ansi.Strip(m.View()), "STALLED") {
		t.Errorf("STALLED still on screen:\n%s", ansi.Strip(m.View()))
	}
}

// A journal hold stops every lane on screen (a tag in flight still
// finishes), says what to do, and p resumes: the runtime probes the
// journal again then.
func TestJournalHoldOnEveryLaneUntilResumed(t *testing.T) {
	c := &clockAt{at(30 * time.Second)}
	gate := &station.Gate{}
	m := NewModel(Config{Batch: testBatch, Readers: []string{"a", "b", "c"}, Now: c.now, NoColor: true, Gate: gate})
	m = drive(m, events(join(lanePass("a", 0), laneEncoding("b", 0x10), laneWaiting("c", 0x20)))...)
	m = drive(m, eventMsg(evHold(29800*time.Millisecond)))
	if m.lanes[0].name != "a" || len(m.lanes) != 3 {
		t.Fatalf("the hold made a lane of its own: %+v", m.lanes)
	}
	want := []State{StateHeld, StateEncoding, StateHeld}
	for i, w := range want {
		if got := m.laneState(&m.lanes[i]); got != w {
			t.Errorf("lane %s: %v, want %v", m.lanes[i].name, got, w)
		}
	}
	view := ansi.Strip(m.View())
	for _, s := range []string{"JOURNAL HOLD", "left on device", "free disk space (or fix the disk), then press p to resume", "[p] resume"} {
		if !strings.Contains(view, s) {
			t.Errorf("screen lacks %q:\n%s", s, view)
		}
	}
	tm, cmd := m.Update(key("p"))
	m = tm.(Model)
	runCmds(cmd)
	if m.hold || m.paused {
		t.Errorf("after p: hold %v paused %v", m.hold, m.paused)
	}
	if gate.Paused() {
		t.Error("p did not resume the gate")
	}
	// The runtime holds again when the journal still refuses.
	m = drive(m, eventMsg(evHold(31*time.Second)))
	if !m.hold || m.laneState(&m.lanes[0]) != StateHeld {
		t.Errorf("a second hold is not shown")
	}
	// A tag starting means the runtime resumed.
	m = drive(m, eventMsg(evArrived("a", uid(0x30), 32*time.Second)))
	if m.hold {
		t.Error("hold still shown after a tag started")
	}
}

// runCmds runs a command and the commands it batches, for their effects
// (a tick would wait: those are skipped by a short deadline).
func runCmds(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	done := make(chan tea.Msg, 1)
	go func() { done <- cmd() }()
	select {
	case msg := <-done:
		if b, ok := msg.(tea.BatchMsg); ok {
			for _, c := range b {
				runCmds(c)
			}
		}
	case <-time.After(200 * time.Millisecond):
	}
}

func TestSyncStateInTheFooter(t *testing.T) {
	c := &clockAt{at(30 * time.Second)}
	m := drive(newTestModel(c, "a"), events(lanePass("a", 0))...)
	if strings.Contains(ansi.Strip(m.View()), "SYNC") {
		t.Fatal("sync shown without a sync")
	}
	m = drive(m, eventMsg(evOffline(29*time.Second)))
	view := ansi.Strip(m.View())
	if !strings.Contains(view, "SYNC OFFLINE · 37 to send · ack 2 min ago") {
		t.Errorf("footer:\n%s", view)
	}
	if len(m.lanes) != 1 {
		t.Errorf("the sync event made a lane: %+v", m.lanes)
	}
	m = drive(m, eventMsg(station.Event{Kind: station.EvSync, At: at(30 * time.Second), Sync: &station.SyncState{Backlog: 0, LastAck: at(26 * time.Second)}}))
	if view := ansi.Strip(m.View()); !strings.Contains(view, "SYNC · 0 to send · ack 4 s ago") || strings.Contains(view, "OFFLINE") {
		t.Errorf("footer back online:\n%s", view)
	}
}

func TestSimulatedInTheHeader(t *testing.T) {
	c := &clockAt{at(30 * time.Second)}
	for _, sim := range []bool{false, true} {
		m := NewModel(Config{Batch: testBatch, Readers: []string{"sim"}, Now: c.now, NoColor: true, Simulated: sim})
		header := strings.SplitN(ansi.Strip(m.View()), "\n", 2)[0]
		if strings.Contains(header, "SIMULATED") != sim {
			t.Errorf("Simulated %v: header %q", sim, header)
		}
	}
}

// A FAIL rings the terminal bell once; PASS and ALREADY DONE do not.
func TestFailRingsTheBell(t *testing.T) {
	for _, c := range []struct {
		name  string
		res   station.Result
		rings int
	}{
		{"pass", pass(uid(1), 400*time.Millisecond), 0},
		{"duplicate", duplicate(uid(1)), 0},
		{"fail", failed(uid(1), time.Second, fmt.Errorf("change keys: %w", reader.ErrTagRemoved)), 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out syncBuffer
			sc := scenario{events: with(history("sim-0", 1), evArrived("sim-0", uid(1), 5*time.Second), evResult("sim-0", c.res, 6*time.Second)),
				now: at(7 * time.Second), out: &out, afterEvts: uid(1)}
			sc.run(t)
			if got := strings.Count(out.String(), "\a"); got != c.rings {
				t.Errorf("%d bells, want %d", got, c.rings)
			}
		})
	}
}

func TestHalfTextIsTheFontInThreeLines(t *testing.T) {
	got := halfText("PA")
	want := []string{
		"█▀▀▀▄ ▄▀▀▀▄",
		"█▀▀▀  █▀▀▀█",
		"▀     ▀   ▀",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("halfText(PA):\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if halfWidth("PASS") != 23 || ansi.StringWidth(halfText("PASS")[0]) != 23 {
		t.Errorf("width %d", halfWidth("PASS"))
	}
}

func TestGridShape(t *testing.T) {
	for _, c := range []struct{ n, w, cols, rows int }{
		{2, 80, 1, 2}, {2, 160, 2, 1}, {3, 80, 2, 2}, {4, 80, 2, 2}, {4, 160, 2, 2},
		{8, 80, 2, 4}, {8, 120, 2, 4}, {8, 160, 3, 3}, {8, 220, 4, 2},
	} {
		if cols, rows := gridShape(c.n, c.w); cols != c.cols || rows != c.rows {
			t.Errorf("%d lanes in %d columns: %d×%d, want %d×%d", c.n, c.w, cols, rows, c.cols, c.rows)
		}
	}
}

var _ = errors.New

// Three to eight lanes in every state fit any terminal from 40×12 up,
// fill its height, and from 80×24 show every lane's name and Do line.
func TestGridFits(t *testing.T) {
	c := &clockAt{at(30 * time.Second)}
	makers := []func(string, int) []station.Event{laneDuplicate, lanePass, laneFail, laneEncoding, laneWaiting, laneStalled, laneLost, laneWaiting}
	names := []string{"left", "right", acr0, acr1, "sim-4", "sim-5", "a-very-long-reader-name-from-pcsc 00 00", "sim-7"}
	for n := 3; n <= 8; n++ {
		m := NewModel(Config{Batch: testBatch, Readers: names[:n], Now: c.now, Gate: &station.Gate{}, profile: &ansi256})
		for i := 0; i < n; i++ {
			m = drive(m, events(makers[i](names[i], 0x10*i))...)
		}
		variants := map[string]Model{
			"plain":  m,
			"hold":   drive(m, eventMsg(evHold(29*time.Second))),
			"paused": drive(m, key("p")),
			"sync":   drive(m, eventMsg(evOffline(29*time.Second))),
		}
		for vname, vm := range variants {
			for _, sz := range [][2]int{{80, 24}, {160, 48}, {100, 30}, {120, 40}, {60, 20}, {40, 12}} {
				v := drive(vm, tea.WindowSizeMsg{Width: sz[0], Height: sz[1]}).View()
				where := fmt.Sprintf("%d lanes, %s, %dx%d", n, vname, sz[0], sz[1])
				checkFits(t, v, sz[0], sz[1])
				if got := strings.Count(v, "\n") + 1; got != sz[1] {
					t.Errorf("%s: %d lines", where, got)
				}
				if sz[0] < 80 || vname == "hold" && sz[1] < 30 {
					continue
				}
				plain := ansi.Strip(v)
				if strings.Count(plain, "Do:") < n-1 { // the waiting lane has no Do
					t.Errorf("%s: %d Do lines for %d lanes:\n%s", where, strings.Count(plain, "Do:"), n, plain)
				}
				for _, name := range names[:n] {
					if !strings.Contains(plain, name[:3]) || !strings.Contains(plain, name[len(name)-3:]) {
						t.Errorf("%s: lane %q not named:\n%s", where, name, plain)
					}
				}
			}
		}
	}
}

// One lane stalled, held or syncing offline fits every terminal and, from
// 80×24, keeps its summary and Do line.
func TestOneLaneNewStatesFit(t *testing.T) {
	c := &clockAt{at(30 * time.Second)}
	base := drive(newTestModel(c, "sim-0"), events(lanePass("sim-0", 0))...)
	variants := map[string]Model{
		"stalled": drive(base, eventMsg(evStalled("sim-0", 29*time.Second)), eventMsg(evOffline(29*time.Second))),
		"hold":    drive(base, eventMsg(evHold(29*time.Second))),
	}
	for name, m := range variants {
		for _, sz := range [][2]int{{80, 24}, {160, 48}, {100, 30}, {60, 20}, {40, 12}} {
			v := drive(m, tea.WindowSizeMsg{Width: sz[0], Height: sz[1]}).View()
			checkFits(t, v, sz[0], sz[1])
			if sz[0] < 80 {
				continue
			}
			plain := ansi.Strip(v)
			if scr := m.screen(); !strings.Contains(plain, scr.summary) || !strings.Contains(plain, "Do:") {
				t.Errorf("%s at %v: summary %q or Do missing:\n%s", name, sz, scr.summary, plain)
			}
		}
	}
}
