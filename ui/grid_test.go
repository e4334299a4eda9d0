package ui

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/station"
)

// Two ACR122U readers differ only at the end of their names.
const (
	acr0 = "ACS ACR122U PICC Interface 00 00"
	acr1 = "ACS ACR122U PICC Interface 00 01"
)

var errStall = errors.New("pcsc: no answer from the reader for 5 s")

func evStalled(r string, d time.Duration) station.Event {
	return station.Event{Kind: station.EvStalled, Reader: r, Err: errStall, At: at(d)}
}

func evHold(d time.Duration) station.Event {
	err := fmt.Errorf("journal: commit binding: write /var/lib/tagline/journal.db: %w", errors.New("no space left on device"))
	return station.Event{Kind: station.EvHold, Err: err, At: at(d)}
}

// evOffline is the sync's state with the backend unreachable for two
// minutes and 37 bindings waiting.
func evOffline(d time.Duration) station.Event {
	return station.Event{Kind: station.EvSync, At: at(d), Sync: &station.SyncState{
		Endpoint: "https://tags.example.com", Backlog: 37, LastAck: at(d - 2*time.Minute), Offline: true,
		Err: errors.New("dial tcp 10.0.0.5:8424: connect: connection refused"),
	}}
}

// laneShift is lane r's history: n passes, then what follows.
func laneShift(r string, n int, first int, then ...station.Event) []station.Event {
	evs := []station.Event{evWaiting(r, 0)}
	for i := 0; i < n; i++ {
		took := time.Duration(380+37*(i%5)) * time.Millisecond
		evs = append(evs, cycle(r, pass(uid(first+i), took), time.Duration(i)*2500*time.Millisecond+time.Second)...)
	}
	return append(evs, then...)
}

// The states a lane can be in at 30 s, one per kind.
func laneEncoding(r string, u int) []station.Event {
	return laneShift(r, 3, u, evArrived(r, uid(u+3), 29500*time.Millisecond))
}

func lanePass(r string, u int) []station.Event {
	return laneShift(r, 3, u, evArrived(r, uid(u+3), 29*time.Second), evResult(r, pass(uid(u+3), 412*time.Millisecond), 29412*time.Millisecond))
}

func laneFail(r string, u int) []station.Event {
	res := failed(uid(u+3), 1130*time.Millisecond, fmt.Errorf("change keys: %w", reader.ErrTagRemoved))
	return laneShift(r, 3, u, evArrived(r, uid(u+3), 28*time.Second), evResult(r, res, 29130*time.Millisecond))
}

func laneDuplicate(r string, u int) []station.Event {
	return laneShift(r, 3, u, evArrived(r, uid(u+3), 26*time.Second), evResult(r, duplicate(uid(u+3)), 26210*time.Millisecond))
}

func laneWaiting(r string, u int) []station.Event { return laneShift(r, 2, u) }

// laneReady has had no tag yet.
func laneReady(r string, _ int) []station.Event { return []station.Event{evWaiting(r, 0)} }

func laneStalled(r string, u int) []station.Event {
	return laneShift(r, 2, u, evStalled(r, 27*time.Second))
}

func laneLost(r string, u int) []station.Event {
	lost := fmt.Errorf("pcsc: %s: %w", r, reader.ErrNoReader)
	return laneShift(r, 2, u, station.Event{Kind: station.EvReaderLost, Reader: r, Err: lost, At: at(29800 * time.Millisecond)})
}

func join(parts ...[]station.Event) []station.Event {
	var out []station.Event
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestGridScreens(t *testing.T) {
	now := at(30 * time.Second)
	eight := []string{"left", "right", acr0, acr1, "sim-4", "sim-5", "sim-6", "sim-7"}
	eightEvents := join(
		laneDuplicate("left", 0x10), lanePass("right", 0x20), laneFail(acr0, 0x30), laneEncoding(acr1, 0x40),
		laneWaiting("sim-4", 0x50), laneStalled("sim-5", 0x60), laneLost("sim-6", 0x70), laneReady("sim-7", 0x80),
		[]station.Event{evOffline(29 * time.Second)},
	)
	type golden struct {
		name    string
		sc      scenario
		must    []string // on the screen, uncut
		mustNot []string
	}
	var cases []golden
	for _, sz := range [][2]int{{80, 24}, {160, 48}} {
		suffix := fmt.Sprintf("-%dx%d", sz[0], sz[1])
		cases = append(cases,
			golden{
				name: "one-stalled-sync" + suffix,
				sc: scenario{events: with(laneStalled("sim-0", 0), evOffline(29*time.Second)), now: now, w: sz[0], h: sz[1],
					simulated: true, afterEvts: "SYNC OFFLINE"},
				must: []string{"STALLED · sim-0 stopped answering", "no answer from the reader for 5 s", "if the reader stays silent, replug it",
					"SIMULATED", "1 STALLED", "SYNC OFFLINE · 37 to send · ack 2 min ago"},
			},
			golden{
				name: "one-hold" + suffix,
				sc:   scenario{events: with(lanePass("sim-0", 0), evHold(29800*time.Millisecond)), now: now, w: sz[0], h: sz[1], afterEvts: "JOURNAL HOLD"},
				must: []string{"STOP · the journal refused a write: no tag starts", "no space", "free disk space (or fix the disk)",
					"press p to resume", "JOURNAL HOLD"},
			},
			golden{
				// Lane 2's PASS no longer hides lane 1's ALREADY DONE.
				name: "two-lanes" + suffix,
				sc: scenario{events: join(laneDuplicate("left", 0x10), lanePass("right", 0x20)), readers: []string{"left", "right"},
					now: now, w: sz[0], h: sz[1], afterEvts: uid(0x23)},
				must: []string{"left", "right", uid(0x13), uid(0x23), "set this tag aside", "remove the tag, present the next"},
			},
			golden{
				name: "four-lanes" + suffix,
				sc: scenario{events: with(join(laneReady(acr0, 0x10), laneEncoding(acr1, 0x20), lanePass("left", 0x30), laneFail("right", 0x40)), evOffline(29*time.Second)),
					readers: []string{acr0, acr1, "left", "right"}, now: now, w: sz[0], h: sz[1], afterEvts: "SYNC OFFLINE"},
				must: []string{"00 00", "00 01", uid(0x23), uid(0x33), uid(0x43), "present a tag", "tag moved away", "SYNC OFFLINE · 37 to send"},
			},
			golden{
				name: "four-lanes-hold" + suffix,
				sc: scenario{events: with(join(laneWaiting(acr0, 0x10), laneEncoding(acr1, 0x20), lanePass("left", 0x30), laneFail("right", 0x40)), evHold(29800*time.Millisecond)),
					readers: []string{acr0, acr1, "left", "right"}, now: now, w: sz[0], h: sz[1], afterEvts: "JOURNAL HOLD"},
				must: []string{"JOURNAL HOLD · every lane has stopped", "no space", "free disk space (or fix the disk)", "press p to resume", uid(0x23)},
			},
			golden{
				name: "eight-lanes" + suffix,
				sc:   scenario{events: eightEvents, readers: eight, now: now, w: sz[0], h: sz[1], afterEvts: "SYNC OFFLINE"},
				must: []string{"left", "right", "sim-7", "00 00", "00 01", "SYNC OFFLINE",
					"set this tag aside", "present the same tag again", "keep the tag on the reader", "the reader stopped answering"},
			},
			golden{
				name: "eight-lanes-paused" + suffix,
				sc: scenario{events: eightEvents, readers: eight, now: now, w: sz[0], h: sz[1], afterEvts: "SYNC OFFLINE",
					keys: "p", afterKeys: "PAUSED"},
				// A failed tag still on its reader keeps saying what to do.
				must: []string{"PAUSED", "resume", "present the same tag again", "set this tag aside"},
			},
		)
	}
	for i := range cases {
		switch c := &cases[i]; {
		case strings.HasPrefix(c.name, "eight-lanes-80x24"):
			// Readers of one model, cut in the middle to fit.
			c.must = append(c.must, "ACS ACR122…rface 00 00", "ACS AC…e 00 01")
		case strings.HasPrefix(c.name, "eight-lanes-160x48"):
			// Room for why, and for the last tags.
			c.must = append(c.must, "reader not found", "already encoded in batch", "LAST TAGS")
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := c.sc.run(t)
			view := m.View()
			checkFits(t, view, c.sc.w, c.sc.h)
			if n := strings.Count(view, "\n") + 1; n != c.sc.h {
				t.Errorf("%d lines, want the full height %d", n, c.sc.h)
			}
			plain := ansi.Strip(view)
			for _, s := range c.must {
				if !strings.Contains(plain, s) {
					t.Errorf("screen lacks %q:\n%s", s, plain)
				}
			}
			for _, s := range c.mustNot {
				if strings.Contains(plain, s) {
					t.Errorf("screen has %q:\n%s", s, plain)
				}
			}
			requireGolden(t, c.name+".golden", view)
		})
	}
}

var _ = batch.BatchStats{}
