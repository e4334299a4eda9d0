package cmd

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/reader/sim"
	"github.com/tagline-station/tagline/reader/vpcd"
)

type simOptions struct {
	vpcd    string
	uid     string
	onEnter bool
	every   time.Duration
	tt      bool
	openTT  time.Duration
}

func newSimCmd(e *env) *cobra.Command {
	o := &simOptions{}
	c := &cobra.Command{
		Use:   "sim [--vpcd HOST:PORT] [--uid HEX] [--on-enter | --every DURATION]",
		Short: "Serve simulated tags to pcscd through the vpcd driver",
		Long: `sim puts simulated NTAG 424 DNA tags into a "Virtual PCD" reader of a
running pcscd (vsmartcard's vpcd driver), so that the real PC/SC stack, and
tagline encode --reader pcsc:..., can be tried without hardware.

By default it inserts one factory-fresh tag (--uid chooses its 7-byte UID)
that stays in the reader, keeping its state in memory, until sim ends
(Ctrl-C). --on-enter replaces it with a new fresh tag each time Enter is
pressed; --every replaces it every DURATION.

--tt makes the tags NTAG 424 DNA TT chips, with a closed tamper loop that
a batch whose template has {tt} mirrors into every tap; --open-loop-after
cuts the loop of each tag that long after it is inserted, as opening the
package would.

Debian's vpcd driver listens on 127.0.0.1:35963 (reader "Virtual PCD 00 00")
and 35964 ("Virtual PCD 00 01").`,
		Example: `  tagline sim --vpcd 127.0.0.1:35963
  tagline sim --vpcd 127.0.0.1:35963 --uid 04A1B2C3D4E5F6
  tagline sim --vpcd 127.0.0.1:35964 --on-enter
  tagline sim --every 5s &
  tagline sim --tt --open-loop-after 30s
  tagline encode --batch 20250101-001 --reader 'pcsc:Virtual PCD 00 00' --no-tui`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSim(cmd, e, o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.vpcd, "vpcd", vpcd.DefaultAddr, "address of the vpcd reader slot (`HOST:PORT`)")
	f.StringVar(&o.uid, "uid", "", "7-byte UID of the tag in hex (default: random 04xxxxxxxxxxxx)")
	f.BoolVar(&o.onEnter, "on-enter", false, "present a new fresh tag each time Enter is pressed")
	f.DurationVar(&o.every, "every", 0, "present a new fresh tag every `DURATION` (e.g. 5s)")
	f.BoolVar(&o.tt, "tt", false, "serve NTAG 424 DNA TT tags, with a tamper loop")
	f.DurationVar(&o.openTT, "open-loop-after", 0, "with --tt, cut each tag's tamper loop `DURATION` after it is inserted")
	exclusive(c, "pick one way of changing tags", "on-enter", "every")
	exclusive(c, "--uid serves one tag; every new tag gets a random UID", "uid", "on-enter")
	exclusive(c, "--uid serves one tag; every new tag gets a random UID", "uid", "every")
	return c
}

func runSim(cmd *cobra.Command, e *env, o *simOptions) error {
	if o.every < 0 {
		return usageErrorf("", "--every must be positive")
	}
	if o.openTT != 0 && (!o.tt || o.openTT < 0) {
		return usageErrorf("--open-loop-after cuts the loop of a TT tag: add --tt", "--open-loop-after needs --tt and a positive duration")
	}
	sv := &simServer{e: e, o: o, out: cmd.OutOrStdout()}
	if o.uid != "" {
		u, err := hex.DecodeString(strings.NewReplacer(":", "", " ", "").Replace(o.uid))
		if err != nil || len(u) != 7 {
			return usageErrorf("a UID is 7 bytes, 14 hex digits, e.g. 04A1B2C3D4E5F6", "--uid %q is not a 7-byte hex UID", o.uid)
		}
		sv.uid = u
	}
	ctx := cmd.Context()
	err := sv.insert(ctx)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	if err != nil {
		return err
	}
	switch {
	case o.onEnter:
		fmt.Fprintln(sv.out, "press Enter for a new tag, Ctrl-C (or end of input) to stop")
	case o.every > 0:
		fmt.Fprintf(sv.out, "a new tag every %s; Ctrl-C to stop\n", o.every)
	default:
		fmt.Fprintln(sv.out, "the tag stays in the reader until Ctrl-C")
	}
	return sv.serve(ctx)
}

// simServer keeps one simulated tag in a vpcd slot and replaces it on
// Enter or every interval.
type simServer struct {
	e    *env
	o    *simOptions
	out  io.Writer
	uid  []byte // --uid; nil: a random one per tag
	card *vpcd.Card
	tag  *sim.Tag
}

// serve replaces the tag when asked until Ctrl-C or the end of input.
func (sv *simServer) serve(ctx context.Context) error {
	var lines, inputDone <-chan struct{}
	if sv.o.onEnter {
		lines, inputDone = readLines(sv.e.stdin)
	}
	var tick <-chan time.Time
	if sv.o.every > 0 {
		t := time.NewTicker(sv.o.every)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			sv.remove()
			return nil
		case <-inputDone:
			sv.remove()
			return nil
		case <-sv.card.Done():
			return withCode(ExitTag, fmt.Errorf("%w: vpcd %s dropped the card: %w", reader.ErrStackUnavailable, sv.o.vpcd, sv.card.Err()),
				"pcscd (or its vpcd driver) stopped; start it again and rerun tagline sim")
		case <-lines:
		case <-tick:
		}
		sv.remove()
		if err := sv.insert(ctx); err != nil {
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		}
	}
}

// insert puts a new factory-fresh tag into the vpcd slot.
func (sv *simServer) insert(ctx context.Context) error {
	e, o := sv.e, sv.o
	opts := sim.Options{UID: sv.uid, TagTamper: o.tt}
	if sv.uid == nil && e.simRandom != nil {
		opts.UID = e.simRandom()
	}
	t := sim.New(opts)
	if o.openTT > 0 {
		time.AfterFunc(o.openTT, func() {
			t.OpenTamperLoop()
			e.log.Info("sim tag tamper loop opened", "uid", fmt.Sprintf("%X", t.RealUID()))
		})
	}
	ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := vpcd.Insert(ictx, o.vpcd, t, vpcd.Options{})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return withCode(ExitTag, fmt.Errorf("%w: %w", reader.ErrStackUnavailable, err),
			"start pcscd with vsmartcard's vpcd driver (Debian: apt install pcscd vsmartcard-vpcd); its first slot listens on "+vpcd.DefaultAddr)
	}
	e.log.Info("sim tag inserted", "vpcd", o.vpcd, "uid", fmt.Sprintf("%X", t.RealUID()))
	fmt.Fprintf(sv.out, "inserted tag %X into vpcd %s\n", t.RealUID(), o.vpcd)
	sv.card, sv.tag = c, t
	return nil
}

// remove takes the tag out and says in which state it leaves.
func (sv *simServer) remove() {
	_ = sv.card.Remove()
	t := sv.tag
	s := t.Snapshot()
	state := "factory-fresh"
	if !s.FactoryFresh {
		state = fmt.Sprintf("personalised, key version %d", s.KeyVersion[0])
	}
	if t.RandomID() {
		state += ", random id on"
	}
	if sv.o.tt {
		state += ", tamper status " + t.TamperStatus()
	}
	sv.e.log.Info("sim tag removed", "uid", fmt.Sprintf("%X", t.RealUID()), "exchanges", s.Exchanges)
	fmt.Fprintf(sv.out, "removed tag %X (%s, %d APDUs)\n", t.RealUID(), state, s.Exchanges)
}

// readLines signals each line read from r, and closes done at its end.
func readLines(r io.Reader) (<-chan struct{}, <-chan struct{}) {
	lines := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lines <- struct{}{}
		}
	}()
	return lines, done
}
