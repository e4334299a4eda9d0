package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/encoder"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/reader/sim"
	"github.com/tagline-station/tagline/sdm"
	"github.com/tagline-station/tagline/station"
)

// What rekey and reset share: the journal, the master key, one reader and
// a loop over presented tags with a line (or a JSON object) per tag.

type lifeOptions struct {
	batchID       string
	toVersion     int
	reader        string
	readers       []string
	count         int
	json          bool
	journal       string
	masterKeyFile string
	kdf           string
	stationID     string
}

func lifeFlags(c *cobra.Command, o *lifeOptions) {
	f := c.Flags()
	f.StringVar(&o.reader, "reader", "", "`READER` to use: sim, pcsc:NAME, NAME or libnfc[:CONNSTRING]")
	f.StringSliceVar(&o.readers, "readers", nil, "several `READERS`, comma separated (one lane each)")
	exclusive(c, "give one of --reader or --readers", "reader", "readers")
	f.IntVar(&o.count, "count", 0, "stop after `N` tags (0: until Ctrl-C; with --reader sim: every tag of the batch)")
	f.BoolVar(&o.json, "json", false, "print one JSON object per tag")
	journalFlag(f, &o.journal)
	masterKeyFileFlag(f, &o.masterKeyFile)
	kdfFlag(f, &o.kdf)
	f.StringVar(&o.stationID, "station-id", "", "this station's `ID` in the journal (default: station_id in the config file, else the host name)")
}

// lifeJSON is one line of rekey's and reset's --json output. Fields are
// only ever added.
type lifeJSON struct {
	Reader      string       `json:"reader"`
	UID         manifest.UID `json:"uid"`
	Batch       string       `json:"batch"`
	Outcome     string       `json:"outcome"`
	OK          bool         `json:"ok"`
	FromVersion int          `json:"from_version"`
	ToVersion   int          `json:"to_version"`
	KeyVersions string       `json:"key_versions,omitempty"`
	URL         string       `json:"url,omitempty"`
	ReadCtr     uint32       `json:"read_ctr,omitempty"`
	Exchanges   int          `json:"exchanges"`
	DurationMS  float64      `json:"duration_ms"`
	Reason      string       `json:"reason,omitempty"`
	Hint        string       `json:"hint,omitempty"`
}

// lifeRun is one rekey or reset run.
type lifeRun struct {
	e     *env
	o     *lifeOptions
	store *batch.Store
	life  *station.Life
	rekey bool
	b     *batch.Batch
	// master is kept for the simulated copies (--reader sim).
	master keys.Master
	failed int
	done   int
}

// openLife opens the journal and the master key and proves the batch
// ours before any reader is opened: it must hold tags bound with this
// master key.
func (e *env) openLife(cmd *cobra.Command, o *lifeOptions, rekey bool) (*lifeRun, error) {
	jpath, err := e.journalPath(o.journal)
	if err != nil {
		return nil, err
	}
	stationID, err := e.stationID(o.stationID)
	if err != nil {
		return nil, err
	}
	master, err := e.loadStationMaster(o.kdf, o.masterKeyFile)
	if err != nil {
		return nil, err
	}
	if err := journalExists(jpath); err != nil {
		return nil, err
	}
	store, err := e.openJournal(jpath, stationID)
	if err != nil {
		return nil, err
	}
	r := &lifeRun{e: e, o: o, store: store, rekey: rekey, master: master}
	if err := r.proveBatch(o.kdf); err != nil {
		store.Close()
		return nil, err
	}
	cfg := station.LifeConfig{Journal: store, Master: master, Batch: r.b, ToVersion: byte(o.toVersion), Now: e.now}
	if r.life, err = station.NewLife(cfg, rekey); err != nil {
		store.Close()
		if errors.Is(err, batch.ErrInvalid) {
			return nil, withCode(ExitUsage, err, "nothing was written")
		}
		return nil, err
	}
	return r, nil
}

// proveBatch checks --batch: it exists, its derivation is the one asked
// for, and its tags were bound with this master key.
func (r *lifeRun) proveBatch(kdfFlag string) error {
	if r.o.batchID == "" {
		return nil
	}
	b, err := r.store.GetBatch(r.o.batchID)
	if err != nil {
		return err
	}
	if _, err := r.e.batchKeys(kdfFlag, r.master, b); err != nil {
		return err
	}
	uids, err := boundUIDs(r.store, b.ID)
	if err != nil {
		return err
	}
	if len(uids) == 0 {
		return usageErrorf("tagline batch show prints its counts", "batch %s has no bound tags: nothing proves a tag of it ours; nothing was written", b.ID)
	}
	bd, _, err := r.store.Lookup(uids[0])
	if err != nil {
		return err
	}
	if kcv := r.master.KCV(); bd.MasterKCV != kcv {
		return usageErrorf("use the master key the batch was encoded with (tagline keys check prints a key's kcv)",
			"batch %s was encoded with the master key of kcv %s, not this one (kcv %s): its tags are not provably ours with it; nothing was written", b.ID, bd.MasterKCV, kcv)
	}
	r.b = &b
	return nil
}

// run presents tags until --count, Ctrl-C, or (sim) the batch's tags run
// out; with several readers, one lane each, as encode runs them.
func (r *lifeRun) run(cmd *cobra.Command) error {
	defer r.store.Close()
	defer r.e.shareJournal(r.store)()
	specs, err := r.readerSpecs()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	readers, err := r.e.openReaders(ctx, specs, false, simFeederOptions{})
	if err != nil {
		return err
	}
	defer readers.Close()
	if l := readers.lanes[0]; len(readers.lanes) == 1 && l.spec.Kind == reader.KindSim {
		err = r.simLane(cmd, l)
	} else {
		err = r.lanes(cmd, readers.lanes)
	}
	if err != nil {
		return err
	}
	what := "rekeyed"
	if !r.rekey {
		what = "reset"
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "tagline: %d %s %s, %d not\n", r.done, plural(r.done, "tag", "tags"), what, r.failed)
	if r.failed > 0 {
		return silentExit(ExitTag)
	}
	return nil
}

// lanes runs one lane per reader until --count tags are done or Ctrl-C.
func (r *lifeRun) lanes(cmd *cobra.Command, lanes []*lane) error {
	for _, l := range lanes {
		if l.spec.Kind == reader.KindSim {
			return usageErrorf("use --reader sim alone", "the simulated reader presents copies of the batch's tags and runs alone, not with other readers")
		}
	}
	ctx, stop := context.WithCancel(cmd.Context())
	defer stop()
	var mu sync.Mutex
	errs := make(chan error, len(lanes))
	for _, l := range lanes {
		go func() { errs <- r.lane(ctx, stop, cmd, l, &mu) }()
	}
	var first error
	for range lanes {
		if err := <-errs; err != nil && first == nil {
			first = err
			stop()
		}
	}
	return first
}

// lane presents the tags of one reader. A tag in progress is finished
// even after Ctrl-C or the count was reached on another lane.
func (r *lifeRun) lane(ctx context.Context, stop context.CancelFunc, cmd *cobra.Command, l *lane, mu *sync.Mutex) error {
	for {
		fmt.Fprintf(cmd.ErrOrStderr(), "present a tag on %s (Ctrl-C to stop)\n", l.name)
		t, err := l.r.WaitTag(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		res := r.one(ctx, t, l.r.Info().Name)
		mu.Lock()
		r.report(cmd.OutOrStdout(), res)
		reached := r.o.count > 0 && r.done+r.failed >= r.o.count
		mu.Unlock()
		if reached {
			stop()
			return nil
		}
		if err := l.r.WaitRemoved(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// one rekeys or resets one presented tag and releases it.
func (r *lifeRun) one(ctx context.Context, t reader.Tag, name string) station.LifeResult {
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	defer t.Close()
	if r.rekey {
		return r.life.Rekey(tctx, t, name)
	}
	return r.life.Reset(tctx, t, name)
}

// simLane presents a simulated copy of each tag of the batch left to do.
func (r *lifeRun) simLane(cmd *cobra.Command, l *lane) error {
	if r.b == nil {
		return usageErrorf("give --batch B to present simulated copies of its tags", "--reader sim needs --batch")
	}
	copies, err := r.simCandidates()
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "tagline: note: reader %s presents simulated copies of batch %s's tags; the journal records them like real ones\n", l.name, r.b.ID)
	simReader := l.r.(*sim.Reader)
	ctx := cmd.Context()
	for _, u := range copies {
		if r.o.count > 0 && r.done+r.failed >= r.o.count || ctx.Err() != nil {
			break
		}
		tag, err := r.simCopy(ctx, u)
		if err != nil {
			return err
		}
		simReader.Present(tag)
		t, err := l.r.WaitTag(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return err
		}
		r.report(cmd.OutOrStdout(), r.one(ctx, t, l.r.Info().Name))
		simReader.Remove()
	}
	return nil
}

// readerSpecs are --reader, --readers, else the config file's reader.
func (r *lifeRun) readerSpecs() ([]readerSpec, error) {
	raw := r.o.readers
	if r.o.reader != "" {
		raw = []string{r.o.reader}
	}
	if len(raw) == 0 {
		v, _, err := r.e.lookup(settingReader, "")
		if err != nil {
			return nil, err
		}
		if v == "" {
			return nil, usageErrorf("tagline readers lists the readers; pass one with --reader NAME (or --reader sim to try it)", "no reader chosen")
		}
		raw = []string{v}
	}
	var specs []readerSpec
	for _, x := range raw {
		sp, err := parseReaderSpec(x)
		if err != nil {
			return nil, usageErrorf("tagline readers lists the readers", "--reader %q: %w", x, err)
		}
		specs = append(specs, sp)
	}
	return specs, nil
}

// report prints one tag and counts it.
func (r *lifeRun) report(w io.Writer, res station.LifeResult) {
	hint := lifeHint(res)
	if res.Outcome.Passed() {
		r.done++
	} else {
		r.failed++
	}
	r.e.log.Info("lifecycle tag", "uid", res.UID, "outcome", string(res.Outcome), "reason", res.Reason)
	if r.o.json {
		_ = writeJSON(w, lifeJSON{
			Reader: res.Reader, UID: res.UID, Batch: res.Batch, Outcome: string(res.Outcome), OK: res.Outcome.Passed(),
			FromVersion: int(res.From), ToVersion: int(res.To), KeyVersions: res.Slots, URL: res.URL, ReadCtr: res.ReadCtr,
			Exchanges: res.Exchanges, DurationMS: math.Round(float64(res.Duration)/float64(time.Microsecond)) / 1000,
			Reason: res.Reason, Hint: hint,
		})
		return
	}
	label := map[manifest.Outcome]string{manifest.Rekeyed: "PASS", manifest.Reclaimed: "PASS", manifest.AlreadyDone: "DONE",
		manifest.Refused: "REFUSED", manifest.Quarantined: "QUARANTINE", manifest.Failed: "FAIL"}[res.Outcome]
	uid := res.UID
	if uid == "" {
		uid = "(no uid)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-10s  %-14s  ", label, uid)
	switch res.Outcome {
	case manifest.Rekeyed:
		fmt.Fprintf(&b, "batch %s  key version %d -> %d  ctr %d  %s", res.Batch, res.From, res.To, res.ReadCtr, res.URL)
	case manifest.Reclaimed:
		fmt.Fprintf(&b, "batch %s  key version %d -> factory", res.Batch, res.From)
	case manifest.AlreadyDone:
		if r.rekey {
			fmt.Fprintf(&b, "already at key version %d", res.To)
		} else {
			b.WriteString("already reset to the factory state")
		}
	default:
		b.WriteString(oneLine(res.Reason))
	}
	fmt.Fprintln(w, b.String())
	if hint != "" {
		fmt.Fprintf(w, "      hint: %s\n", hint)
	}
}

// lifeHint says what to do with a tag that is not done.
func lifeHint(res station.LifeResult) string {
	switch res.Outcome {
	case manifest.Failed:
		if errors.Is(res.Err, reader.ErrTagRemoved) || errors.Is(res.Err, encoder.ErrTimeout) {
			return "present the same tag again: the journal knows where it stopped and finishes it"
		}
		return "present the same tag again; if it fails again, set it aside and report it"
	case manifest.Quarantined:
		return "set the tag aside: this journal never bound it, so no key was tried; it is recorded as quarantined"
	case manifest.Refused:
		return "set the tag aside: nothing was written to it"
	}
	return ""
}

// simCandidates are the batch's tags a simulated copy is presented for:
// rekey, those not at the target version; reset, those not reclaimed.
func (r *lifeRun) simCandidates() ([]manifest.UID, error) {
	uids, err := boundUIDs(r.store, r.b.ID)
	if err != nil {
		return nil, err
	}
	var out []manifest.UID
	for _, u := range uids {
		bd, ok, err := r.store.Lookup(u)
		if err != nil {
			return nil, err
		}
		if !ok || bd.BatchID != r.b.ID {
			continue
		}
		if _, gone, err := r.store.Reclaimed(u); err != nil || gone {
			if err != nil {
				return nil, err
			}
			continue
		}
		if r.rekey && bd.KeyVersion == byte(r.o.toVersion) {
			continue
		}
		out = append(out, u)
	}
	return out, nil
}

// simCopy makes a simulated tag as the journal says the tag uid is: a
// fresh tag personalised in memory with the batch's template at its
// binding's key version (the journal is not written by it).
func (r *lifeRun) simCopy(ctx context.Context, uid manifest.UID) (*sim.Tag, error) {
	u := uid.Bytes()
	if len(u) != 7 {
		return nil, fmt.Errorf("journal uid %q is not 7 bytes of hex", uid)
	}
	bd, _, err := r.store.Lookup(uid)
	if err != nil {
		return nil, err
	}
	scheme, err := keys.ParseScheme(r.b.KDF)
	if err != nil {
		return nil, err
	}
	d, err := keys.NewDeriver(scheme, r.master, bd.KeyVersion)
	if err != nil {
		return nil, err
	}
	tmpl, err := sdm.ParseTemplate(r.b.Template)
	if err != nil {
		return nil, fmt.Errorf("batch %s: %w", r.b.ID, err)
	}
	tag := sim.New(sim.Options{UID: u})
	rd := sim.NewReader("copy")
	defer rd.Close()
	rd.Present(tag)
	c, err := rd.WaitTag(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	job := encoder.Job{Deriver: d, Template: tmpl, ReaderUID: u}
	if tmpl.HasEnc() {
		job.EncData = station.DefaultEncData(r.b.SKU)
	}
	if _, err := encoder.Personalise(ctx, c, job, encoder.Options{}); err != nil {
		return nil, fmt.Errorf("simulated copy of %s: %w", uid, err)
	}
	rd.Remove()
	return tag, nil
}

// openOpJSON is an open rekey or reset in journal check's output.
type openOpJSON struct {
	batch.Op
	Action string `json:"action"`
}

func openOps(store *batch.Store) ([]openOpJSON, error) {
	ops, err := store.OpenOps()
	var out []openOpJSON
	for _, op := range ops {
		cmd := fmt.Sprintf("tagline rekey --batch %s --to-version %d", op.BatchID, op.ToVersion)
		if op.Kind == batch.OpReset {
			cmd = "tagline reset --batch " + op.BatchID
		}
		out = append(out, openOpJSON{Op: op, Action: fmt.Sprintf("the tag may hold keys of version %d and %d in any mix: present it to %s to finish it (its key versions tell which moved); do not ship or discard it", op.FromVersion, op.ToVersion, cmd)})
	}
	return out, err
}

func writeOpenOps(w io.Writer, ops []openOpJSON) {
	if len(ops) == 0 {
		return
	}
	fmt.Fprintf(w, "  %d open %s (rekey or reset started and not finished):\n", len(ops), plural(len(ops), "operation", "operations"))
	for _, op := range ops {
		fmt.Fprintf(w, "  %s  %s  batch %s  key version %d -> %d  started %s  attempts %d\n", op.UID, op.Kind, op.BatchID, op.FromVersion, op.ToVersion, fmtTime(op.StartedAt), op.Attempts)
		fmt.Fprintf(w, "      what to do: %s\n", op.Action)
	}
}
