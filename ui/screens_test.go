package ui

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/station"
)

// shift is eight passed tags on sim-0, the lane waiting again at ~21.6 s.
func shift() []station.Event { return history("sim-0", 8) }

func with(evs []station.Event, more ...station.Event) []station.Event {
	return append(slices.Clone(evs), more...)
}

func failed(u string, took time.Duration, err error) station.Result {
	reason, hint := station.Explain(err)
	return station.Result{UID: manifest.UID(u), Outcome: manifest.Failed, Duration: took, Reason: reason, Hint: hint, Err: err}
}

func duplicate(u string) station.Result {
	// The words station.alreadyOurs uses for a bound tag.
	return station.Result{
		UID: manifest.UID(u), Outcome: manifest.Duplicate, Duration: 210 * time.Millisecond,
		Reason: "already encoded in batch B-2025-0313-C at 2025-03-13T16:02:11Z",
		Hint:   "set this tag aside; it is done (use --reencode to encode it again)",
	}
}

// twoLanes is a shift on sim-0 and sim-1 with a failure and a duplicate,
// ending with sim-0 encoding and sim-1 just passed.
func twoLanes() []station.Event {
	evs := []station.Event{evWaiting("sim-0", 0), evWaiting("sim-1", 0)}
	for i := 0; i < 12; i++ {
		r := fmt.Sprintf("sim-%d", i%2)
		res := pass(uid(i), time.Duration(390+41*(i%4))*time.Millisecond)
		switch i {
		case 5:
			res = failed(uid(i), 1100*time.Millisecond, fmt.Errorf("read back: %w", reader.ErrTagRemoved))
		case 8:
			res = duplicate(uid(i))
		}
		evs = append(evs, cycle(r, res, time.Duration(i)*1300*time.Millisecond+time.Second)...)
	}
	return append(evs,
		evArrived("sim-0", uid(12), 17*time.Second),
		evArrived("sim-1", uid(13), 17100*time.Millisecond),
		evResult("sim-1", pass(uid(13), 402*time.Millisecond), 17502*time.Millisecond),
	)
}

func TestScreens(t *testing.T) {
	lost := fmt.Errorf("pcsc: ACS ACR122U PICC Interface 00 00: %w", reader.ErrNoReader)
	cases := []struct {
		name  string
		sc    scenario
		state State
		must  []string // texts that must be on the screen, uncut
	}{
		{
			name:  "waiting",
			sc:    scenario{events: []station.Event{evWaiting("sim-0", 0)}, now: at(2 * time.Second), afterEvts: "sim-0 ready"},
			state: StateWaiting,
			must:  []string{"READY · present a tag to the reader", "412 / 1200", "PASS 0 · FAIL 0 · ALREADY DONE 0"},
		},
		{
			name:  "encoding",
			sc:    scenario{events: with(shift(), evArrived("sim-0", uid(8), 22*time.Second)), now: at(22700 * time.Millisecond), afterEvts: "HOLD · encoding " + uid(8)},
			state: StateEncoding,
			must:  []string{"HOLD · encoding 04A1B2C3D45E08 ◒ 0.7 s", "keep the tag on the reader until it says PASS or FAIL", "420 / 1200"},
		},
		{
			name: "pass",
			sc: scenario{events: with(shift(), evArrived("sim-0", uid(8), 22*time.Second), evResult("sim-0", pass(uid(8), 412*time.Millisecond), 22412*time.Millisecond)),
				now: at(22600 * time.Millisecond), afterEvts: "PASS · " + uid(8)},
			state: StatePass,
			must:  []string{"PASS · 04A1B2C3D45E08 · SKU WINE-750-RED", "remove the tag and present the next one", "421 / 1200", "PASS 9 · FAIL 0"},
		},
		{
			name: "fail",
			sc: scenario{events: with(shift(), evArrived("sim-0", uid(8), 22*time.Second), evResult("sim-0", failed(uid(8), 1130*time.Millisecond, fmt.Errorf("change keys: %w", reader.ErrTagRemoved)), 23130*time.Millisecond)),
				now: at(23300 * time.Millisecond), afterEvts: "FAIL · " + uid(8)},
			state: StateFail,
			must:  []string{"FAIL · 04A1B2C3D45E08", "Why:  tag moved away", "Do:   present the same tag again to finish it", "420 / 1200", "FAIL 1"},
		},
		{
			name: "fail-long-hint",
			sc: scenario{events: with(shift(), evArrived("sim-0", uid(8), 22*time.Second), evResult("sim-0", failed(uid(8), 180*time.Millisecond, batch.ErrIntentOpen), 22180*time.Millisecond)),
				now: at(22300 * time.Millisecond), afterEvts: "FAIL · " + uid(8)},
			state: StateFail,
			must:  []string{"Why:  tag was started in another batch", "Do:   finish it in the batch that started it (tagline journal check lists", "open intents)"},
		},
		{
			name: "duplicate",
			sc: scenario{events: with(shift(), evArrived("sim-0", uid(3), 22*time.Second), evResult("sim-0", duplicate(uid(3)), 22210*time.Millisecond)),
				now: at(22400 * time.Millisecond), afterEvts: "ALREADY DONE · " + uid(3)},
			state: StateDuplicate,
			must:  []string{"ALREADY DONE · 04A1B2C3D45E03", "already encoded in batch B-2025-0313-C at 2025-03-13T16:02:11Z", "set this tag aside; it is done (use --reencode to encode it again)", "ALREADY DONE 1"},
		},
		{
			name: "reader-lost",
			sc: scenario{events: with(shift(), station.Event{Kind: station.EvReaderLost, Reader: "sim-0", Err: lost, At: at(23 * time.Second)}),
				now: at(23500 * time.Millisecond), afterEvts: "NO READER · sim-0"},
			state: StateReaderLost,
			must:  []string{"NO READER · sim-0", "reader not found", "check the reader's cable and power", "READER LOST"},
		},
		{
			name:  "paused",
			sc:    scenario{events: shift(), now: at(25 * time.Second), afterEvts: "sim-0 ready", keys: "p", afterKeys: "PAUSED · no new tag starts", gate: &station.Gate{}},
			state: StatePaused,
			must:  []string{"PAUSED · no new tag starts", "press p to resume", "resume"},
		},
		{
			name:  "help",
			sc:    scenario{events: shift(), now: at(25 * time.Second), afterEvts: "sim-0 ready", keys: "?", afterKeys: "WHAT THE SCREEN SAYS"},
			state: StatePass,
			must:  []string{"pause / resume", "quit (asks first while a tag is being encoded)", "ALREADY DONE  encoded before: set it aside", "close help"},
		},
		{
			name: "quit-confirm",
			sc: scenario{events: with(shift(), evArrived("sim-0", uid(8), 22*time.Second)), now: at(22300 * time.Millisecond),
				afterEvts: "HOLD · encoding", keys: "q", afterKeys: "QUIT? · a tag is being encoded"},
			state: StateEncoding,
			must:  []string{"QUIT? · a tag is being encoded: 04A1B2C3D45E08 on sim-0", "w wait for its result, then quit · y quit now · n keep running"},
		},
		{
			name: "pass-160x48",
			sc: scenario{events: twoLanes(), readers: []string{"sim-0", "sim-1"}, now: at(17800 * time.Millisecond), w: 160, h: 48,
				afterEvts: "verified and journaled"},
			state: StatePass,
			// One panel per lane: sim-1's PASS beside sim-0's tag in flight.
			must: []string{"sim-1", "04A1B2C3D45E0D", "verified and journaled · 0.40 s", "tag moved away", "ALREADY DONE", "04A1B2C3D45E0C ◐ 0.8 s", "PASS 11 · FAIL 1 · ALREADY DONE 1"},
		},
		{
			name: "pass-nocolor",
			sc: scenario{events: with(shift(), evArrived("sim-0", uid(8), 22*time.Second), evResult("sim-0", pass(uid(8), 412*time.Millisecond), 22412*time.Millisecond)),
				now: at(22600 * time.Millisecond), afterEvts: "PASS · " + uid(8), noColor: true},
			state: StatePass,
			must:  []string{"PASS · 04A1B2C3D45E08 · SKU WINE-750-RED", "[p] pause"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := c.sc.run(t)
			if got := m.State(); got != c.state {
				t.Errorf("state %v, want %v", got, c.state)
			}
			view := m.View()
			w, h := c.sc.w, c.sc.h
			if w == 0 {
				w, h = 80, 24
			}
			checkFits(t, view, w, h)
			plain := ansi.Strip(view)
			for _, s := range c.must {
				if !strings.Contains(plain, s) {
					t.Errorf("screen lacks %q:\n%s", s, plain)
				}
			}
			if c.sc.noColor && strings.Contains(view, "\x1b") {
				t.Errorf("NoColor screen has escape sequences")
			}
			if !c.sc.noColor && !strings.Contains(view, "\x1b[") {
				t.Errorf("colour screen has no colour")
			}
			requireGolden(t, c.name+".golden", view)
			if c.name == "pass-nocolor" {
				// The README's picture of the screen.
				requireGolden(t, "screen-pass.txt", view+"\n")
			}
			if c.name == "paused" && !c.sc.gate.Paused() {
				t.Errorf("p did not pause the gate")
			}
		})
	}
}
