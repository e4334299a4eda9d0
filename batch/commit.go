package batch

import (
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Group commit.
//
// Every write goes through one committer goroutine. It takes the requests
// that are queued, runs them one after another in a single read-write
// transaction and commits once, so one commit (two fdatasyncs in bbolt: data
// pages, then the meta page) makes the whole group durable. A caller
// returns only after the commit holding its change, or its error, is on
// disk.
//
// With N busy callers, each has at most one request in flight, so a group
// can hold at most N requests, and a group cut short costs a whole extra
// commit. When the last group had k requests, the committer therefore
// waits up to groupLinger for k requests before committing, which is the
// time callers just released by the previous commit need to come back.
// The expectation drops by one per group, so a lone caller (the common
// case at a station with one reader) never waits.
//
// bbolt's own DB.Batch waits for its timer even when every caller has
// joined or the caller is alone; tried for issue 11, it committed about a
// quarter as many bindings per second ("Durability and group commit" in
// doc.go has the figures).

const (
	maxGroup    = 512
	groupLinger = 200 * time.Microsecond
)

// txFunc is one request. It may be run more than once (when another
// request of its group fails, the group is rolled back and run again
// without it), so it must derive everything from the transaction it is
// given and set what it returns through variables afresh on every run. An
// error rolls back this request alone; a refusal that must still be
// recorded (BeginIntent's count of a duplicate) is returned through such a
// variable, with a nil error.
type txFunc func(tx *bolt.Tx) error

type request struct {
	fn   txFunc
	err  error
	done chan error
}

type committer struct {
	db      *bolt.DB
	fault   atomic.Pointer[func() error] // see Store.InjectWriteFault
	mu      sync.RWMutex                 // held shared while sending, exclusive to close reqs
	closed  bool
	reqs    chan *request
	stopped chan struct{}
}

func startCommitter(db *bolt.DB) *committer {
	c := &committer{
		db:      db,
		reqs:    make(chan *request, maxGroup),
		stopped: make(chan struct{}),
	}
	go c.loop()
	return c
}

// do runs fn in the next group and returns once that group is durable.
func (c *committer) do(fn txFunc) error {
	r := &request{fn: fn, done: make(chan error, 1)}
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return ErrClosed
	}
	c.reqs <- r
	c.mu.RUnlock()
	return <-r.done
}

// stop lets queued requests finish, then ends the loop.
func (c *committer) stop() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.reqs)
	}
	c.mu.Unlock()
	<-c.stopped
}

func (c *committer) loop() {
	debug.SetPanicOnFault(true) // this goroutine only; see guard
	defer close(c.stopped)
	group := make([]*request, 0, maxGroup)
	expected := 1
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for r := range c.reqs {
		group = append(group[:0], r)
		armed := false
	fill:
		for len(group) < maxGroup {
			select {
			case r, ok := <-c.reqs:
				if !ok {
					break fill
				}
				group = append(group, r)
				continue
			default:
			}
			if len(group) >= expected {
				break
			}
			if !armed {
				timer.Reset(groupLinger)
				armed = true
			}
			select {
			case r, ok := <-c.reqs:
				if !ok {
					break fill
				}
				group = append(group, r)
			case <-timer.C:
				armed = false
				break fill
			}
		}
		if armed {
			timer.Stop()
		}
		expected = max(len(group), expected-1)
		c.run(group)
	}
}

func (c *committer) run(group []*request) {
	live := group
	for {
		failed, err := c.attempt(live)
		if failed < 0 {
			if err != nil {
				err = fmt.Errorf("journal commit failed, nothing in this group was recorded: %w", writeFailure{err})
				for _, r := range group {
					r.err = err
				}
			}
			break
		}
		live = append(live[:failed:failed], live[failed+1:]...)
		if len(live) == 0 {
			break
		}
	}
	// A dropped request's error may rest on writes of earlier requests in
	// its group (two Completes for one tag); it is therefore only reported
	// after those writes are durable, and replaced by the commit error if
	// they never became so.
	for _, r := range group {
		r.done <- r.err
	}
}

// attempt runs reqs in one transaction. failed is the index of a request
// whose error aborted the transaction (nothing committed), or -1 when the
// transaction committed (err nil) or could not be begun or committed.
func (c *committer) attempt(reqs []*request) (failed int, err error) {
	tx, err := c.db.Begin(true)
	if err != nil {
		return -1, err
	}
	if f := c.fault.Load(); f != nil {
		if err := (*f)(); err != nil {
			_ = tx.Rollback()
			return -1, err
		}
	}
	// bbolt reads pages while it commits, too; damage found there fails
	// the group instead of the process.
	defer func() {
		if r := recover(); r != nil {
			failed, err = -1, fmt.Errorf("%w: reading the file failed (%v); run tagline check", ErrCorrupt, r)
			func() {
				defer func() { _ = recover() }()
				if tx.DB() != nil {
					_ = tx.Rollback()
				}
			}()
		}
	}()
	for i, r := range reqs {
		if r.err = call(r.fn, tx); r.err != nil {
			_ = tx.Rollback()
			return i, nil
		}
	}
	return -1, tx.Commit()
}

func call(fn txFunc, tx *bolt.Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: reading the file failed (%v); run tagline check", ErrCorrupt, r)
		}
	}()
	return fn(tx)
}
