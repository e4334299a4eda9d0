package ui

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/muesli/termenv"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/station"
)

// t0 is the scripted shift's start; events are placed relative to it.
var t0 = time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

var testBatch = batch.Batch{ID: "B-2025-0314-A", SKU: "WINE-750-RED", Target: 1200, KeyVersion: 1, Status: batch.StatusOpen}

func uid(i int) string { return fmt.Sprintf("04A1B2C3D4%04X", 0x5E00+i) }

func evWaiting(r string, d time.Duration) station.Event {
	return station.Event{Kind: station.EvWaiting, Reader: r, At: at(d)}
}

func evArrived(r, u string, d time.Duration) station.Event {
	return station.Event{Kind: station.EvArrived, Reader: r, UID: manifest.UID(u), At: at(d)}
}

func evRemoved(r, u string, d time.Duration) station.Event {
	return station.Event{Kind: station.EvRemoved, Reader: r, UID: manifest.UID(u), At: at(d)}
}

func evResult(r string, res station.Result, d time.Duration) station.Event {
	res.Reader = r
	if res.SKU == "" {
		res.SKU = testBatch.SKU
	}
	res.Batch = testBatch.ID
	return station.Event{Kind: station.EvResult, Reader: r, UID: res.UID, Result: &res, At: at(d)}
}

func pass(u string, took time.Duration) station.Result {
	return station.Result{UID: manifest.UID(u), Outcome: manifest.Encoded, Duration: took, ReadCtr: 1, Exchanges: 23}
}

// cycle is one tag through a lane: arrived, result after took, removed,
// waiting again; the tag arrives at start.
func cycle(r string, res station.Result, start time.Duration) []station.Event {
	end := start + res.Duration
	return []station.Event{
		evArrived(r, string(res.UID), start),
		evResult(r, res, end),
		evRemoved(r, string(res.UID), end+300*time.Millisecond),
		evWaiting(r, end+300*time.Millisecond),
	}
}

// history is n passed tags on one reader, one every 2.5 s, with varied
// times, starting at 0 with the lane waiting; it ends at n*2.5 s.
func history(r string, n int) []station.Event {
	evs := []station.Event{evWaiting(r, 0)}
	for i := 0; i < n; i++ {
		took := time.Duration(380+37*(i%5)) * time.Millisecond
		evs = append(evs, cycle(r, pass(uid(i), took), time.Duration(i)*2500*time.Millisecond+time.Second)...)
	}
	return evs
}

// scenario drives the real program (teatest) with events on a channel.
type scenario struct {
	events    []station.Event
	readers   []string
	stats     batch.BatchStats
	now       time.Time
	w, h      int
	noColor   bool
	afterEvts string // screen text once the events are handled
	keys      string // typed after that
	afterKeys string // screen text once the keys are handled
	gate      *station.Gate
	simulated bool
	out       io.Writer // the program's Out (the bell rings there); default io.Discard
}

var ansi256 = termenv.ANSI256

func (sc scenario) config(ch <-chan station.Event) Config {
	now := sc.now
	if now.IsZero() {
		now = at(time.Minute)
	}
	readers := sc.readers
	if readers == nil {
		readers = []string{"sim-0"}
	}
	stats := sc.stats
	if stats == (batch.BatchStats{}) {
		stats = batch.BatchStats{Done: 412, Target: testBatch.Target}
	}
	cfg := Config{
		Batch: testBatch, Stats: stats, Readers: readers, Events: ch, Gate: sc.gate,
		Now: func() time.Time { return now }, Out: io.Discard, NoColor: sc.noColor, Simulated: sc.simulated,
	}
	if sc.out != nil {
		cfg.Out = sc.out
	}
	if !sc.noColor {
		cfg.profile = &ansi256
	}
	return cfg
}

// run plays the scenario and returns the final model. The channel is
// unbuffered, so a send returns only once the model asked for that event;
// the screen text then says when the last one was handled.
func (sc scenario) run(t *testing.T) Model {
	t.Helper()
	if sc.gate == nil {
		sc.gate = &station.Gate{}
	}
	w, h := sc.w, sc.h
	if w == 0 {
		w, h = 80, 24
	}
	ch := make(chan station.Event)
	tm := teatest.NewTestModel(t, NewModel(sc.config(ch)), teatest.WithInitialTermSize(w, h))
	for _, e := range sc.events {
		select {
		case ch <- e:
		case <-time.After(3 * time.Second):
			t.Fatalf("the model stopped reading events at %+v", e)
		}
	}
	if sc.afterEvts != "" {
		waitScreen(t, tm, sc.afterEvts)
	}
	if sc.keys != "" {
		tm.Type(sc.keys)
		waitScreen(t, tm, sc.afterKeys)
	}
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	fm := tm.FinalModel(t, teatest.WithFinalTimeout(3*time.Second)).(Model)
	if fm.seen != len(sc.events) {
		t.Fatalf("model handled %d of %d events", fm.seen, len(sc.events))
	}
	return fm
}

// waitScreen waits until text shows on the program's output.
func waitScreen(t *testing.T, tm *teatest.TestModel, text string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
		return strings.Contains(ansi.Strip(string(b)), text)
	}, teatest.WithDuration(3*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
}

// requireGolden compares got with testdata/name; -update (the flag the
// golden package registers for teatest) rewrites the file.
func requireGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./ui -update to create it)", err)
	}
	if !bytes.Equal(want, []byte(got)) {
		t.Errorf("screen differs from %s (go test ./ui -update rewrites it)\n--- want\n%s\n--- got\n%s", path, ansi.Strip(string(want)), ansi.Strip(got))
	}
}

// checkFits fails when the view is taller or wider than the terminal.
func checkFits(t *testing.T, view string, w, h int) {
	t.Helper()
	lines := strings.Split(view, "\n")
	if len(lines) > h {
		t.Errorf("view has %d lines for a %d-line terminal", len(lines), h)
	}
	for i, l := range lines {
		if lw := ansi.StringWidth(l); lw > w {
			t.Errorf("line %d is %d wide for %d columns: %q", i+1, lw, w, ansi.Strip(l))
		}
	}
}

// drive feeds events straight into Update, without a program.
func drive(m Model, msgs ...tea.Msg) Model {
	var tm tea.Model = m
	for _, msg := range msgs {
		tm, _ = tm.Update(msg)
	}
	return tm.(Model)
}

func events(evs []station.Event) []tea.Msg {
	out := make([]tea.Msg, len(evs))
	for i, e := range evs {
		out[i] = eventMsg(e)
	}
	return out
}
