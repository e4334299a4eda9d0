package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/reader/libnfc"
	"github.com/tagline-station/tagline/reader/pcsc"
	"github.com/tagline-station/tagline/reader/sim"
)

// readerSpec is one --reader value:
//
//	sim                  the built-in simulated reader (also sim:LABEL)
//	pcsc:NAME or NAME    a PC/SC reader by its pcscd name
//	libnfc[:CONNSTRING]  a libnfc device (libnfc's default when empty)
//	ALIAS=any of these   the same reader, called ALIAS on screen, in logs and in --json
type readerSpec struct {
	Kind  reader.Kind
	Name  string // pcsc reader name, libnfc connstring, or the sim reader's name
	Raw   string
	Alias string // the lane's name when set (left=pcsc:NAME)
}

func parseReaderSpec(s string) (readerSpec, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return readerSpec{}, errors.New("empty reader name")
	}
	alias, rest, err := cutAlias(s)
	if err != nil {
		return readerSpec{}, err
	}
	sp, err := parseBareSpec(rest)
	if err != nil {
		return readerSpec{}, err
	}
	sp.Alias, sp.Raw = alias, s
	return sp, nil
}

func parseBareSpec(s string) (readerSpec, error) {
	if s == "" {
		return readerSpec{}, errors.New("empty reader name")
	}
	kind, rest, hasColon := strings.Cut(s, ":")
	switch strings.ToLower(kind) {
	case "sim":
		return readerSpec{Kind: reader.KindSim, Name: s, Raw: s}, nil
	case "pcsc":
		if !hasColon || rest == "" {
			return readerSpec{}, errors.New("pcsc: needs a reader name, e.g. pcsc:'ACS ACR122U PICC Interface 00 00' (tagline readers lists them)")
		}
		return readerSpec{Kind: reader.KindPCSC, Name: rest, Raw: s}, nil
	case "libnfc":
		return readerSpec{Kind: reader.KindLibNFC, Name: rest, Raw: s}, nil
	}
	return readerSpec{Kind: reader.KindPCSC, Name: s, Raw: s}, nil
}

func (r readerSpec) String() string { return r.Raw }

// lane is one opened reader and, for the simulated reader, its feeder.
type lane struct {
	spec   readerSpec
	r      reader.Reader
	name   string
	feeder *simFeeder
}

// openedReaders owns the readers of a run and the stacks behind them.
type openedReaders struct {
	lanes   []*lane
	closers []func() error
}

func (o *openedReaders) Close() {
	for _, l := range o.lanes {
		_ = l.r.Close()
	}
	for i := len(o.closers) - 1; i >= 0; i-- {
		_ = o.closers[i]()
	}
}

// closeWithin closes the readers, waiting at most d: a reader stuck in
// its driver must not keep a stopped station from exiting.
func (o *openedReaders) closeWithin(d time.Duration) {
	done := make(chan struct{})
	go func() {
		o.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d):
	}
}

func (o *openedReaders) names() []string {
	var n []string
	for _, l := range o.lanes {
		n = append(n, l.name)
	}
	return n
}

// openReaders opens every reader of the run. all adds every PC/SC reader
// pcscd knows and libnfc's default device.
func (e *env) openReaders(ctx context.Context, specs []readerSpec, all bool, simOpts simFeederOptions) (*openedReaders, error) {
	o := &openedReaders{}
	fail := func(err error) (*openedReaders, error) {
		o.Close()
		return nil, err
	}
	var stack *pcsc.Stack
	pcscStack := func() (*pcsc.Stack, error) {
		if stack != nil {
			return stack, nil
		}
		octx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		s, err := pcsc.Open(octx)
		if err != nil {
			return nil, err
		}
		stack = s
		o.closers = append(o.closers, s.Close)
		return s, nil
	}
	seen := map[string]bool{}
	add := func(l *lane) error {
		// The lanes name their results and events after the reader's
		// Info: it must be the lane's name, or the screen shows a second
		// row for the lane (PC/SC readers call themselves by their bare
		// name) and an alias would not reach logs and --json.
		l.r = withName(l.r, l.name)
		if seen[l.name] {
			_ = l.r.Close()
			return usageErrorf("name each reader once", "reader %q is given twice", l.name)
		}
		seen[l.name] = true
		o.lanes = append(o.lanes, l)
		e.log.Info("reader opened", "reader", l.name, "kind", string(l.spec.Kind))
		return nil
	}
	if all {
		s, err := pcscStack()
		if err == nil {
			infos, lerr := s.List()
			if lerr != nil {
				return fail(lerr)
			}
			for _, in := range infos {
				specs = append(specs, readerSpec{Kind: reader.KindPCSC, Name: in.Name, Raw: "pcsc:" + in.Name})
			}
		} else {
			e.log.Info("pcsc unavailable for --all-readers", "err", err)
		}
		if libnfc.Compiled {
			e.quietLibNFC()
			if d, err := libnfc.Open(""); err == nil {
				if err := add(&lane{spec: readerSpec{Kind: reader.KindLibNFC, Raw: "libnfc"}, r: d, name: "libnfc:" + d.Connstring()}); err != nil {
					return fail(err)
				}
			}
		}
		if len(specs) == 0 && len(o.lanes) == 0 {
			return fail(withCode(ExitTag, fmt.Errorf("%w: --all-readers found no PC/SC reader and no libnfc device", reader.ErrNoReader),
				"plug a reader in, check it with tagline readers, or name one with --reader"))
		}
	}
	for _, sp := range specs {
		var l *lane
		switch sp.Kind {
		case reader.KindSim:
			name := sp.Name
			if sp.Alias != "" {
				name = sp.Alias
			}
			sr := sim.NewReader(name)
			l = &lane{spec: sp, r: sr, name: name, feeder: newSimFeeder(sr, simOpts)}
		case reader.KindPCSC:
			s, err := pcscStack()
			if err != nil {
				return fail(err)
			}
			r, err := s.Reader(sp.Name)
			if err != nil {
				return fail(withHint(err, "tagline readers lists the PC/SC readers pcscd knows"))
			}
			// The bare name, as results and --json have always said it.
			l = &lane{spec: sp, r: r, name: sp.Name}
			if sp.Alias != "" {
				l.name = sp.Alias
			}
		case reader.KindLibNFC:
			e.quietLibNFC()
			d, err := libnfc.Open(sp.Name)
			if err != nil {
				return fail(err)
			}
			l = &lane{spec: sp, r: d, name: "libnfc:" + d.Connstring()}
			if sp.Alias != "" {
				l.name = sp.Alias
			}
		}
		if err := add(l); err != nil {
			return fail(err)
		}
	}
	return o, nil
}

// quietLibNFC keeps libnfc from logging to the process's stderr (it
// writes there directly, under the operator UI too) unless the operator
// asked for its log with LIBNFC_LOG_LEVEL. Errors still reach tagline as
// return values.
func (e *env) quietLibNFC() {
	if e.getenv("LIBNFC_LOG_LEVEL") == "" {
		_ = os.Setenv("LIBNFC_LOG_LEVEL", "0")
	}
}

// simFeederOptions says how the simulated reader presents tags.
type simFeederOptions struct {
	Interval time.Duration // pause between a tag's result and the next tag
	Max      int           // stop after this many tags (0: no limit)
	UID      func() []byte // UID of the next tag; nil: random 04xxxxxxxxxxxx
	// Presented, when set, is told of each tag before it is presented.
	Presented func(*sim.Tag)
	// TagTamper makes NTAG 424 DNA TT tags (for a template with {tt}).
	TagTamper bool
}

// simFeeder presents factory-fresh simulated tags to a sim.Reader, as an
// operator would: the first at once; once a tag has its result, it waits
// Interval and takes the tag away; once the lane has seen it leave, it
// presents the next. It is driven by the lane's events (ResultSeen,
// RemovedSeen), never by guessing, so a tag is never swapped under a lane.
type simFeeder struct {
	r       *sim.Reader
	opts    simFeederOptions
	result  chan struct{}
	removed chan struct{}
}

func newSimFeeder(r *sim.Reader, opts simFeederOptions) *simFeeder {
	return &simFeeder{r: r, opts: opts, result: make(chan struct{}, 1), removed: make(chan struct{}, 1)}
}

func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// ResultSeen tells the feeder that the tag in the field has its result.
func (f *simFeeder) ResultSeen() { notify(f.result) }

// RemovedSeen tells the feeder that the lane saw the tag leave.
func (f *simFeeder) RemovedSeen() { notify(f.removed) }

func (f *simFeeder) Run(ctx context.Context) {
	wait := func(c <-chan struct{}) bool {
		select {
		case <-ctx.Done():
			return false
		case <-c:
			return true
		}
	}
	for n := 1; ; n++ {
		opts := sim.Options{TagTamper: f.opts.TagTamper}
		if f.opts.UID != nil {
			opts.UID = f.opts.UID()
		}
		tag := sim.New(opts)
		if f.opts.Presented != nil {
			f.opts.Presented(tag)
		}
		f.r.Present(tag)
		if !wait(f.result) {
			return
		}
		if f.opts.Interval > 0 {
			t := time.NewTimer(f.opts.Interval)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		f.r.Remove()
		if f.opts.Max > 0 && n >= f.opts.Max {
			return
		}
		if !wait(f.removed) {
			return
		}
	}
}
