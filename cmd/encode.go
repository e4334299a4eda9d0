package cmd

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/sdm"
	"github.com/tagline-station/tagline/station"
)

type encodeOptions struct {
	batchID       string
	reader        string
	readers       []string
	allReaders    bool
	count         int
	reencode      bool
	lrp           bool
	yes           bool
	noTUI         bool
	json          bool
	journal       string
	masterKeyFile string
	kdf           string
	stationID     string
	simInterval   time.Duration
	sync          string
	tokenFile     string
	overTarget    bool
}

func newEncodeCmd(e *env) *cobra.Command {
	o := &encodeOptions{}
	c := &cobra.Command{
		Use:   "encode --batch ID [--reader NAME | --readers N1,N2 | --all-readers]",
		Short: "Run the encoding station on one or more readers",
		Long: `encode is the station: it waits for tags on each reader (one lane per
reader, all into one journal), personalises them for the batch, reads each
back as a phone would, verifies its SUN message and journals it.

The batch's template and key version come from the journal's batch record;
the master key from --master-key-file, $TAGLINE_MASTER_KEY_FILE or the
config file's master_key_file, in that order. The key derivation is the
batch's (tagline batch new --kdf); --kdf or the config file's kdf, when
given, must name the same. A master key anyone can guess (all zeros, one
byte repeated) is refused unless the batch is a test batch (batch new --test).

Readers (--reader, or reader in the config file):
  sim                  built-in simulated reader: a fresh simulated tag every
                       --sim-interval, to try the station without hardware
  pcsc:NAME or NAME    a PC/SC reader (tagline readers lists the names)
  libnfc[:CONNSTRING]  a libnfc device (libnfc's default device when empty)
  ALIAS=any of these   the same reader, called ALIAS on the screen, in logs
                       and in --json (left=pcsc:NAME): tells two readers of
                       one model apart

On a terminal encode opens the operator UI; with --no-tui, --json or without
a terminal it prints one line (or one JSON object) per tag as results come.

Ctrl-C (or SIGTERM, or SIGHUP when the terminal closes) stops the station
cleanly: lanes stop taking new tags, a tag in progress is finished, and
encode exits 0 unless a tag failed. A second Ctrl-C quits at once (the
journal keeps any half-done tag open; tagline journal check lists it).

The station stops at the batch's target (tagline batch new --target): no
tag starts once the batch's done tags and those in progress reach it.
--over-target goes on past it.

--sync URL (or sync in the config file) sends each binding to the backend
(tagline serve) in the background as soon as it is journaled, with the
bearer token tagline sync uses (--token-file, $TAGLINE_SYNC_TOKEN_FILE or
token_file). The station never waits for the backend: while it cannot be
reached the station keeps encoding, retries with a growing pause (at most
15 s), and sends the backlog once it answers. What is left at the end is
sent by the next encode --sync or by tagline sync.

When the journal cannot be written (a full disk, an I/O error) every lane
holds at once and no tag starts: free space (or fix the disk) and resume
(p on the screen; without a screen the station checks the journal every
5 s). The tag that failed is finished when presented again.

--reencode rewrites the URL and file settings of tags that already carry
this station's keys (keys are kept). It asks for confirmation on a terminal
and needs --yes otherwise.

--lrp is required for a batch made with batch new --lrp, and refused for
any other: it acknowledges that each tag is switched to LRP mode, for good,
after its keys are written. It asks for confirmation the same way.`,
		Example: `  tagline encode --batch 20250101-001 --reader 'pcsc:ACS ACR122U PICC Interface 00 00'
  tagline encode --batch 20250101-001 --readers 'pcsc:Reader A 00 00,pcsc:Reader B 00 00'
  tagline encode --batch 20250101-001 --all-readers --no-tui
  tagline encode --batch demo-20250101-120000 --journal tagline-demo.db \
    --master-key-file tagline-demo.key --reader sim --count 3 --json
  tagline encode --batch 20250101-001 --reader libnfc:pn532_uart:/dev/ttyUSB0 --reencode --yes`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEncode(cmd, e, o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.batchID, "batch", "", "batch `ID` to encode (tagline batch list shows them)")
	f.StringVar(&o.reader, "reader", "", "`READER` to use: sim, pcsc:NAME, NAME or libnfc[:CONNSTRING]")
	f.StringSliceVar(&o.readers, "readers", nil, "several `READERS`, comma separated (one lane each)")
	f.BoolVar(&o.allReaders, "all-readers", false, "every PC/SC reader and the default libnfc device")
	f.IntVar(&o.count, "count", 0, "stop after `N` tags (0: until Ctrl-C)")
	f.BoolVar(&o.reencode, "reencode", false, "rewrite tags that already carry this station's keys (destructive)")
	f.BoolVar(&o.lrp, "lrp", false, "encode an LRP batch: switch each tag to LRP mode, irreversibly")
	f.BoolVarP(&o.yes, "yes", "y", false, "confirm --reencode or --lrp without asking")
	f.BoolVar(&o.noTUI, "no-tui", false, "print one line per tag instead of the operator UI")
	f.BoolVar(&o.json, "json", false, "print one JSON object per tag (implies --no-tui)")
	journalFlag(f, &o.journal)
	masterKeyFileFlag(f, &o.masterKeyFile)
	kdfFlag(f, &o.kdf)
	f.StringVar(&o.stationID, "station-id", "", "this station's `ID` in the journal (default: station_id in the config file, else the host name)")
	f.StringVar(&o.sync, "sync", "", "backend `URL` to send bindings to while encoding (default: sync in the config file; path /v1/sync when none)")
	f.StringVar(&o.tokenFile, "token-file", "", "with --sync: `FILE` holding the bearer token (default $"+envSyncTokenFile+", else token_file in the config file)")
	f.BoolVar(&o.overTarget, "over-target", false, "go on past the batch's target")
	f.DurationVar(&o.simInterval, "sim-interval", 500*time.Millisecond, "with --reader sim: pause between one simulated tag's result and the next tag")
	exclusive(c, "give one of --reader, --readers or --all-readers", "reader", "readers", "all-readers")
	return c
}

func defaultJournalHelp() string {
	if p, err := batch.DefaultPath(); err == nil {
		return p
	}
	return "the per-user data folder"
}

func runEncode(cmd *cobra.Command, e *env, o *encodeOptions) error {
	in, err := e.encodeInputs(cmd, o)
	if err != nil {
		return err
	}
	specs, jpath, master, syncCfg := in.specs, in.journal, in.master, in.sync
	// The batch must exist, so the journal must too: never create one here.
	if err := journalExists(jpath); err != nil {
		return err
	}
	store, err := e.openJournal(jpath, in.station)
	if err != nil {
		return err
	}
	defer store.Close()
	defer e.shareJournal(store)()
	b, tmpl, err := encodableBatch(store, o.batchID)
	if err != nil {
		return err
	}
	scheme, err := e.batchKeys(o.kdf, master, b)
	if err != nil {
		return err
	}
	deriver, err := keys.NewDeriver(scheme, master, b.KeyVersion)
	if err != nil {
		return err
	}
	if err := e.confirmEncode(cmd, o, store, &b, specs); err != nil {
		return err
	}
	st, err := station.New(station.Config{Journal: store, Batch: b, Deriver: deriver, Template: tmpl, Reencode: o.reencode, Now: e.now,
		Genuine: genuineKeys(specs, o.allReaders, b.Test)})
	if err != nil {
		return err
	}
	readers, err := e.openReaders(cmd.Context(), specs, o.allReaders,
		simFeederOptions{Interval: o.simInterval, Max: o.count, UID: e.simRandom, Presented: e.simPresented, TagTamper: tmpl.HasTT()})
	if err != nil {
		return err
	}
	defer readers.closeWithin(time.Second)
	info := cmd.ErrOrStderr()
	if b.Test {
		fmt.Fprintf(info, "tagline: note: batch %s is a test batch (master kcv %s); never ship its tags\n", b.ID, master.KCV())
	}
	if b.Simulated {
		fmt.Fprint(info, simulatedNote(b))
	}
	useTUI := !o.noTUI && !o.json && e.stdoutTTY && uiAvailable
	out := cmd.OutOrStdout()
	e.log.Info("station starting", "batch", b.ID, "readers", strings.Join(readers.names(), ","), "tui", useTUI,
		"kdf", string(scheme), "test_batch", b.Test, "master_kcv", master.KCV(), "reencode", o.reencode)
	t, err := e.runStation(cmd.Context(), runOptions{
		station: st, store: store, batch: b, readers: readers,
		count: o.count, json: o.json, tui: useTUI, out: out, info: info,
		overTarget: o.overTarget, sync: syncCfg,
	})
	if err != nil {
		return err
	}
	sum := out
	if o.json {
		sum = info
	}
	fmt.Fprintln(sum, t.summary()+batchProgress(store, b.ID)+t.syncSummary())
	return t.failureError()
}

// encodeInputs are what encode needs before it opens the journal.
type encodeInputs struct {
	specs            []readerSpec
	journal, station string
	master           keys.Master
	sync             *station.SyncConfig
}

func (e *env) encodeInputs(cmd *cobra.Command, o *encodeOptions) (encodeInputs, error) {
	var in encodeInputs
	if err := requireFlags(cmd, "batch"); err != nil {
		return in, err
	}
	if o.count < 0 {
		return in, usageErrorf("", "--count must not be negative")
	}
	if o.simInterval < 0 {
		return in, usageErrorf("", "--sim-interval must not be negative")
	}
	var err error
	if in.specs, err = e.encodeReaderSpecs(cmd, o); err != nil {
		return in, err
	}
	if in.journal, err = e.journalPath(o.journal); err != nil {
		return in, err
	}
	if in.station, err = e.stationID(o.stationID); err != nil {
		return in, err
	}
	if in.master, err = e.loadStationMaster(o.kdf, o.masterKeyFile); err != nil {
		return in, err
	}
	in.sync, err = e.encodeSync(cmd, o)
	return in, err
}

// encodableBatch is the batch to encode and its template: open, with a
// template that still parses.
func encodableBatch(store *batch.Store, id string) (batch.Batch, *sdm.Template, error) {
	b, err := store.GetBatch(id)
	if err != nil {
		return b, nil, err
	}
	if b.Status == batch.StatusClosed {
		return b, nil, withHint(fmt.Errorf("%w: %s", batch.ErrBatchClosed, b.ID), "create a new batch with tagline batch new")
	}
	if b.Template == "" {
		return b, nil, usageErrorf("create a batch with --template", "batch %s has no URL template", b.ID)
	}
	tmpl, err := sdm.ParseTemplate(b.Template)
	if err != nil {
		// Only a batch made by an older tagline can get here: no phone tap
		// of a tag encoded with it could be verified.
		return b, nil, withHint(fmt.Errorf("batch %s: %w", b.ID, err),
			"no phone tap of a tag encoded with this template could be verified: close the batch (tagline batch close) and create a new one with a template that passes tagline batch new")
	}
	return b, tmpl, nil
}

// confirmEncode asks for what cannot be undone (a re-encode, LRP mode)
// and marks a batch encoded from simulated readers.
func (e *env) confirmEncode(cmd *cobra.Command, o *encodeOptions, store *batch.Store, b *batch.Batch, specs []readerSpec) error {
	if o.reencode && !o.yes {
		if err := e.confirmReencode(cmd, *b); err != nil {
			return err
		}
	}
	if err := e.checkEncodeLRP(cmd, *b, o.lrp, o.yes); err != nil {
		return err
	}
	return e.markSimulated(store, b, specs, o.allReaders)
}

// batchProgress is the closing line's "; batch B: D of T done", or
// nothing when the journal cannot say.
func batchProgress(store *batch.Store, id string) string {
	stats, err := store.Stats(id)
	if err != nil {
		return ""
	}
	s := fmt.Sprintf("; batch %s: %d", id, stats.Done)
	if stats.Target > 0 {
		s += fmt.Sprintf(" of %d", stats.Target)
	}
	return s + " done"
}

// encodeReaderSpecs picks the readers: --reader, --readers, --all-readers,
// else the config file's reader.
func (e *env) encodeReaderSpecs(cmd *cobra.Command, o *encodeOptions) ([]readerSpec, error) {
	var raw []string
	switch {
	case o.allReaders:
		return nil, nil
	case o.reader != "":
		raw = []string{o.reader}
	case len(o.readers) > 0:
		raw = o.readers
	default:
		r, _, err := e.lookup(settingReader, "")
		if err != nil {
			return nil, err
		}
		if r == "" {
			return nil, usageErrorf("tagline readers lists the readers; pass one with --reader NAME (or --reader sim to try without hardware), or set reader in the config file",
				"no reader chosen")
		}
		raw = []string{r}
	}
	var specs []readerSpec
	for _, r := range raw {
		sp, err := parseReaderSpec(r)
		if err != nil {
			return nil, usageErrorf("tagline readers lists the readers", "--reader %q: %w", r, err)
		}
		specs = append(specs, sp)
	}
	return specs, nil
}

// confirmReencode asks on a terminal and refuses without one.
func (e *env) confirmReencode(cmd *cobra.Command, b batch.Batch) error {
	if !e.stdinTTY {
		return usageErrorf("pass --yes to confirm re-encoding when there is no terminal to ask on",
			"--reencode rewrites tags that are already encoded and needs confirmation")
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "--reencode rewrites the URL and file settings of tags already encoded with this station's keys (batch %s). Continue? [y/N] ", b.ID)
	ok, err := readYes(e.stdin)
	if err != nil {
		return err
	}
	if !ok {
		return withCode(ExitFailure, errors.New("re-encoding not confirmed; nothing was done"), "")
	}
	return nil
}

func readYes(r io.Reader) (bool, error) {
	line, err := newLineReader(r, "the answer", 1024, "answer y or n").Line()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		return false, err
	}
	switch strings.ToLower(strings.TrimSpace(string(line))) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// encodeSync is the background sync of encode: --sync, else sync in the
// config file; nil when neither names a backend.
func (e *env) encodeSync(cmd *cobra.Command, o *encodeOptions) (*station.SyncConfig, error) {
	raw, _, err := e.lookup(settingSync, o.sync)
	if err != nil || raw == "" {
		if err == nil && o.tokenFile != "" {
			return nil, usageErrorf("add --sync URL", "--token-file only applies with --sync")
		}
		return nil, err
	}
	endpoint, err := syncEndpoint(raw)
	if err != nil {
		return nil, err
	}
	token, err := e.syncToken(o.tokenFile)
	if err != nil {
		return nil, err
	}
	if token != "" && endpoint.Scheme == "http" && !isLoopback(endpoint.Hostname()) {
		fmt.Fprintf(cmd.ErrOrStderr(), "tagline: warning: %s is plain http: the token and the records travel unencrypted\n", endpoint.Redacted())
	}
	return &station.SyncConfig{Endpoint: endpoint.String(), Shown: endpoint.Redacted(), Token: token, Client: &http.Client{}}, nil
}
