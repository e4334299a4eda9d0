package station

import (
	"context"
	"sync"
)

// Gate pauses lanes between tags; a lane never stops in the middle of one.
// A pause also cancels the lanes' waits for a tag, and a tag that arrives
// while the gate is closed is left untouched, so that no tag is started
// once Pause has returned. The zero value is an open gate.
//
// A gate can also hold: the journal refused a write, and every lane stays
// paused until Resume finds the journal writable again (the probe the
// runtime installs), however often the operator presses resume.
type Gate struct {
	mu      sync.Mutex
	paused  bool
	resume  chan struct{} // closed on Resume
	pausedC chan struct{} // closed on Pause
	held    error         // the journal's refusal while holding

	// Set by the runtime before the lanes start; read under mu.
	probe  func() error       // the journal takes writes again (nil: no hold)
	onHold func(err error)    // a hold began (err) or ended (nil)
	admit  func(string) error // may a tag start on this reader now?
	enters int                // tags started
	inTag  int                // tags started and not yet left
}

// Pause makes lanes wait before their next tag and cancels their waits
// for one.
func (g *Gate) Pause() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pauseLocked()
}

func (g *Gate) pauseLocked() {
	if g.paused {
		return
	}
	g.paused, g.resume = true, make(chan struct{})
	if g.pausedC == nil {
		g.pausedC = make(chan struct{})
	}
	close(g.pausedC)
}

// Resume lets lanes go on. While the gate holds, it first asks the probe
// whether the journal takes writes again, and stays closed if not.
func (g *Gate) Resume() {
	g.mu.Lock()
	held, probe, notify := g.held, g.probe, g.onHold
	g.mu.Unlock()
	if held != nil && probe != nil {
		if err := probe(); err != nil {
			g.mu.Lock()
			g.held = err
			g.mu.Unlock()
			if notify != nil {
				notify(err)
			}
			return
		}
	}
	g.mu.Lock()
	released := g.held != nil
	g.held = nil
	if g.paused {
		g.paused = false
		g.pausedC = make(chan struct{})
		close(g.resume)
	}
	g.mu.Unlock()
	if released && notify != nil {
		notify(nil)
	}
}

// Paused reports the gate's state.
func (g *Gate) Paused() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.paused
}

// Held is the journal's refusal while the gate holds, nil otherwise.
func (g *Gate) Held() error {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.held
}

// Started is the number of tags the gate let start.
func (g *Gate) Started() int {
	if g == nil {
		return 0
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.enters
}

// hold closes the gate because the journal refused a write. Only the
// first refusal is reported: the others are the same cause.
func (g *Gate) hold(err error) {
	if g == nil {
		return
	}
	g.mu.Lock()
	first := g.held == nil
	g.held = err
	g.pauseLocked()
	notify := g.onHold
	g.mu.Unlock()
	if first && notify != nil {
		notify(err)
	}
}

// enter lets a tag that arrived on reader start, unless the gate closed
// meanwhile or the runtime refuses it. It is the one point where a tag
// starts, decided under the gate's lock, so a Pause that returned is
// never overtaken.
func (g *Gate) enter(reader string) bool {
	if g == nil {
		return true
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.paused {
		return false
	}
	if g.admit != nil && g.admit(reader) != nil {
		// Refused (the target, a stop): the lanes wait at the gate
		// rather than take up the same tag again and again.
		g.pauseLocked()
		return false
	}
	g.enters++
	g.inTag++
	return true
}

// leave says a tag that entered has its result. A stop that finds no tag
// in progress here cancels the lanes at once: counted under the gate's
// lock, a tag that entered just before the stop is waited for even when
// its arrival has not reached the dispatcher yet.
func (g *Gate) leave() {
	if g == nil {
		return
	}
	g.mu.Lock()
	g.inTag--
	g.mu.Unlock()
}

// inProgress is the number of tags entered and not yet left.
func (g *Gate) inProgress() int {
	if g == nil {
		return 0
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.inTag
}

// pausedChan is closed once the gate is paused.
func (g *Gate) pausedChan() <-chan struct{} {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.pausedC == nil {
		g.pausedC = make(chan struct{})
	}
	return g.pausedC
}

func (g *Gate) wait(ctx context.Context) error {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	ch, paused := g.resume, g.paused
	g.mu.Unlock()
	if !paused {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
