package sim

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/tagline-station/tagline/reader"
)

// ErrClosed is returned by a Reader after Close and by a card after its
// Close.
var ErrClosed = errors.New("sim: closed")

// Reader is a simulated reader with one slot. It implements reader.Reader
// and is safe for concurrent use; each Reader is one independent lane.
type Reader struct {
	name string

	mu      sync.Mutex
	tag     *Tag
	gen     uint64        // incremented on every Present and Remove
	changed chan struct{} // closed and replaced on every change
	closed  bool
	// handed is the tag WaitTag last returned: WaitRemoved waits for that
	// tag to leave, even if another was presented in its place meanwhile.
	handed *Tag
}

var _ reader.Reader = (*Reader)(nil)

// NewReader returns an empty reader.
func NewReader(name string) *Reader {
	return &Reader{name: name, changed: make(chan struct{})}
}

// notify wakes every waiter; the caller holds mu.
func (r *Reader) notify() {
	r.gen++
	close(r.changed)
	r.changed = make(chan struct{})
}

// Present puts t into the field (replacing any tag there): a new
// activation, so t loses its session and selection and its fault hooks are
// cleared.
func (r *Reader) Present(t *Tag) {
	t.activate()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tag != nil && r.tag != t {
		r.tag.mu.Lock()
		r.tag.leave()
		r.tag.mu.Unlock()
	}
	r.tag = t
	r.notify()
}

// Activate brings t into a field that is not a sim.Reader (the vpcd card,
// the PN532 emulator): after a fault hook took it out, it answers again,
// with its session and selection reset, as a tag powered up anew.
func (t *Tag) Activate() { t.activate() }

// Remove takes the tag out of the field.
func (r *Reader) Remove() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tag == nil {
		return
	}
	r.tag.mu.Lock()
	r.tag.leave()
	r.tag.mu.Unlock()
	r.tag = nil
	r.notify()
}

// Tag returns the tag in the field, nil when there is none or it left
// through a fault hook.
func (r *Reader) Tag() *Tag {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tag == nil || r.tag.Removed() {
		return nil
	}
	return r.tag
}

// Info describes the reader.
func (r *Reader) Info() reader.Info {
	return reader.Info{Name: r.name, Kind: reader.KindSim, TagPresent: r.Tag() != nil}
}

// WaitTag blocks until a tag is in the field and returns it connected.
func (r *Reader) WaitTag(ctx context.Context) (reader.Tag, error) {
	for {
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return nil, reader.ErrNoReader
		}
		t, gen, changed := r.tag, r.gen, r.changed
		r.mu.Unlock()
		var gone <-chan struct{}
		if t != nil {
			gone = t.Gone()
			select {
			case <-gone:
			default:
				r.mu.Lock()
				r.handed = t
				r.mu.Unlock()
				return &card{r: r, t: t, gen: gen}, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-changed:
		}
	}
}

// WaitRemoved blocks until the tag WaitTag last returned has left the
// field (Remove, a fault hook, or another tag presented in its place).
func (r *Reader) WaitRemoved(ctx context.Context) error {
	for {
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return reader.ErrNoReader
		}
		t, handed, changed := r.tag, r.handed, r.changed
		r.mu.Unlock()
		if t == nil || handed != nil && t != handed {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.Gone():
			return nil
		case <-changed:
		}
	}
}

// Close removes any tag and makes every wait return reader.ErrNoReader.
func (r *Reader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	if r.tag != nil {
		r.tag.mu.Lock()
		r.tag.leave()
		r.tag.mu.Unlock()
		r.tag = nil
	}
	r.closed = true
	r.notify()
	return nil
}

// card is the connection to one presented tag.
type card struct {
	r   *Reader
	t   *Tag
	gen uint64

	mu     sync.Mutex
	closed bool
}

var _ reader.Tag = (*card)(nil)

// present reports whether the tag this card was connected to is still the
// one in the field, from the same presentation.
func (c *card) present() bool {
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	return c.r.tag == c.t && c.r.gen == c.gen
}

func (c *card) Transmit(ctx context.Context, capdu []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if !c.present() {
		return nil, reader.ErrTagRemoved
	}
	r, d := c.t.exchange(append([]byte(nil), capdu...))
	if d > 0 {
		tm := time.NewTimer(d)
		select {
		case <-ctx.Done():
			tm.Stop()
			return nil, ctx.Err()
		case <-tm.C:
		}
	}
	if r == nil {
		return nil, reader.ErrTagRemoved
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return r, nil
}

func (c *card) UID() []byte { return c.t.UID() }

func (c *card) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}
