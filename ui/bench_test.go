package ui

import (
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/muesli/termenv"

	"github.com/tagline-station/tagline/station"
)

// benchModel is a colour model at 80×24 well into a shift.
func benchModel(b *testing.B, readers int) Model {
	b.Helper()
	c := &clockAt{at(time.Minute)}
	p := termenv.ANSI256
	names := []string{"sim-0", "sim-1", "sim-2", "sim-3"}[:readers]
	m := NewModel(Config{Batch: testBatch, Readers: names, Now: c.now, Gate: &station.Gate{}, profile: &p})
	return drive(m, events(history("sim-0", 30))...)
}

// BenchmarkUpdateView is what the screen costs per tag result: one Update
// with the result event and one View, as bubbletea does for each message.
func BenchmarkUpdateView(b *testing.B) {
	var m tea.Model = benchModel(b, 1)
	res := pass(uid(1), 412*time.Millisecond)
	ev := eventMsg(evResult("sim-0", res, 50*time.Second))
	b.ReportAllocs()
	for b.Loop() {
		m, _ = m.Update(ev)
		_ = m.View()
	}
}

// BenchmarkTagCycle is the whole tag as the lane reports it: arrived,
// result, removed, waiting, each an Update and a View, with four lanes.
func BenchmarkTagCycle(b *testing.B) {
	var m tea.Model = benchModel(b, 4)
	msgs := events(cycle("sim-2", pass(uid(1), 412*time.Millisecond), 50*time.Second))
	b.ReportAllocs()
	for b.Loop() {
		for _, msg := range msgs {
			m, _ = m.Update(msg)
			_ = m.View()
		}
	}
}
