package station

import (
	"context"
	"fmt"
	"time"

	"github.com/tagline-station/tagline/reader"
)

// laneWaiter runs a lane's waits on its reader so that a reader that
// ignores cancellation (a driver stuck in a call) can neither start a tag
// after a pause nor keep the lane, and so the station, from stopping.
type laneWaiter struct {
	r          reader.Reader
	gate       *Gate
	stallAfter time.Duration
	emit       func(Event)
}

type waited struct {
	tag reader.Tag
	err error
}

// waitTag waits for a tag until one comes, ctx ends or the gate pauses.
func (w *laneWaiter) waitTag(ctx context.Context) (reader.Tag, error) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	paused := w.gate.pausedChan()
	ch := make(chan waited, 1)
	go func() {
		t, err := w.r.WaitTag(wctx)
		ch <- waited{t, err}
	}()
	select {
	case x := <-ch:
		return x.tag, x.err
	case <-wctx.Done():
	case <-paused:
		cancel()
	}
	x, ok := w.settle(ctx, ch, "a tag")
	if !ok {
		return nil, ctx.Err()
	}
	return x.tag, x.err
}

// waitRemoved waits for the tag to leave until it does or ctx ends.
func (w *laneWaiter) waitRemoved(ctx context.Context) error {
	ch := make(chan waited, 1)
	go func() { ch <- waited{err: w.r.WaitRemoved(ctx)} }()
	select {
	case x := <-ch:
		return x.err
	case <-ctx.Done():
	}
	x, ok := w.settle(ctx, ch, "the tag to leave")
	if !ok {
		return ctx.Err()
	}
	return x.err
}

// settle waits for a wait that was told to end. A reader that does not
// let go within stallAfter is reported stalled; when ctx has ended it is
// then left behind (its late tag, if any, is closed untouched), so a stop
// never waits on it. ok is false when it was left behind.
func (w *laneWaiter) settle(ctx context.Context, ch chan waited, what string) (waited, bool) {
	t := time.NewTimer(w.stallAfter)
	defer t.Stop()
	select {
	case x := <-ch:
		return x, true
	case <-t.C:
	}
	w.emit(Event{Kind: EvStalled, Err: fmt.Errorf("the reader did not give up waiting for %s within %s: it may hang; check its cable, or restart its driver", what, w.stallAfter)})
	if ctx.Err() == nil {
		select {
		case x := <-ch:
			return x, true
		case <-ctx.Done():
		}
	}
	go func() {
		if x := <-ch; x.tag != nil {
			_ = x.tag.Close()
		}
	}()
	return waited{}, false
}

// indicate drives the reader's lights or buzzer, when it has them, for a
// result. Its error is ignored (a reader may refuse the command), and a
// reader that does not answer holds the lane no longer than stallAfter.
func (w *laneWaiter) indicate(ctx context.Context, passed bool) {
	ind, ok := w.r.(reader.Indicator)
	if !ok {
		return
	}
	// The last tag of a run gets its light too: a stop does not cut it.
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.stallAfter)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer cancel()
		_ = ind.Indicate(ictx, passed)
	}()
	select {
	case <-done:
	case <-ictx.Done():
	}
}
