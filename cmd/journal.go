package cmd

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/tagline-station/tagline/batch"
)

func newJournalCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "journal",
		Short: "Inspect the journal",
		Long: `The journal is the station's bbolt file: batches, the intent written before
a tag's keys change, and the binding written once the tag was read back and
verified.`,
		Example: `  tagline journal check
  tagline journal check --json --journal /var/lib/tagline/journal.db`,
		Args: cobra.ArbitraryArgs,
		RunE: groupRunE,
	}
	c.AddCommand(newJournalCheckCmd(e))
	return c
}

type journalCheckOptions struct {
	journal string
	json    bool
}

// journalCheckJSON is the --json output of journal check.
type journalCheckJSON struct {
	OK          bool             `json:"ok"`
	Path        string           `json:"path"`
	Error       string           `json:"error,omitempty"`
	Report      *batch.Report    `json:"report,omitempty"`
	OpenIntents []openIntentJSON `json:"open_intents"`
	OpenOps     []openOpJSON     `json:"open_operations,omitempty"`
}

type openIntentJSON struct {
	batch.Intent
	Action string `json:"action"`
}

func newJournalCheckCmd(e *env) *cobra.Command {
	o := &journalCheckOptions{}
	c := &cobra.Command{
		Use:   "check",
		Short: "Check the journal's consistency and list half-done tags",
		Long: `check opens the journal read-only (it never changes the file), runs bbolt's
page check and the journal's own consistency checks, and lists the open
intents: tags whose encoding started and did not finish, which may hold
some of the new keys. Each comes with what to do.

Every open intent may hold some new keys: the intent is written before the
station's first write to the tag, and a station stopped mid-attempt records
nothing after it.

It exits 0 for a healthy journal (open intents are not errors), 5 when the
file is corrupt (a damaged record, a damaged bbolt meta page, ...), foreign,
locked by a running station, or has problems. No tagline command writes to
or exports from a journal that check calls corrupt.`,
		Example: `  tagline journal check
  tagline journal check --journal tagline-demo.db --json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runJournalCheck(cmd, e, o)
		},
	}
	journalFlag(c.Flags(), &o.journal)
	c.Flags().BoolVar(&o.json, "json", false, "print a JSON report")
	return c
}

func runJournalCheck(cmd *cobra.Command, e *env, o *journalCheckOptions) error {
	jpath, err := e.journalPath(o.journal)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	fail := func(err error) error {
		if o.json {
			_ = writeJSONIndent(out, journalCheckJSON{Path: jpath, Error: err.Error(), OpenIntents: []openIntentJSON{}})
		}
		if exitCode(err) == ExitFailure {
			err = withCode(ExitJournal, err, "")
		}
		return err
	}
	store, err := e.openJournalRO(jpath)
	if err != nil {
		return fail(err)
	}
	defer store.Close()
	rep, err := store.Check()
	if err != nil {
		return fail(err)
	}
	intents, ierr := store.OpenIntents()
	if ierr != nil {
		rep.Problems = append(rep.Problems, "open intents unreadable: "+ierr.Error())
	}
	res := journalCheckJSON{OK: rep.OK(), Path: jpath, Report: &rep, OpenIntents: []openIntentJSON{}}
	if res.OpenOps, err = openOps(store); err != nil {
		rep.Problems = append(rep.Problems, "open rekeys and resets unreadable: "+err.Error())
	}
	for _, it := range intents {
		res.OpenIntents = append(res.OpenIntents, openIntentJSON{Intent: it, Action: intentAction(it)})
	}
	if res.Report.Problems == nil {
		res.Report.Problems = []string{}
	}
	e.log.Info("journal checked", "path", jpath, "ok", rep.OK(), "problems", len(rep.Problems), "open_intents", len(intents))
	if o.json {
		if err := writeJSONIndent(out, res); err != nil {
			return err
		}
	} else {
		writeCheckReport(out, res)
	}
	if !rep.OK() {
		return withCode(ExitJournal, fmt.Errorf("%w: journal %s has %d %s", batch.ErrCorrupt, jpath, len(rep.Problems), plural(len(rep.Problems), "problem", "problems")),
			"stop the line; keep the file as it is and restore the journal from a backup")
	}
	return nil
}

// intentAction says what to do with a tag whose encoding did not finish.
// Every open intent was recorded before the station's first write to the
// tag, so it always may carry some new keys; what differs is whether the
// journal knows how the last attempt ended.
func intentAction(it batch.Intent) string {
	finish := fmt.Sprintf("present it again at a station encoding batch %s (same master key, key version %d) to finish it; do not ship or discard it", it.BatchID, it.KeyVersion)
	if it.State == batch.IntentFailed {
		return "the tag may hold some new keys: " + finish
	}
	return "the tag may hold some new keys (no outcome was recorded: the station stopped during the attempt, or is still at work on the tag): " + finish
}

func writeCheckReport(w io.Writer, r journalCheckJSON) {
	rep := r.Report
	status := "ok"
	if !r.OK {
		status = "PROBLEMS FOUND"
	}
	fmt.Fprintf(w, "journal %s: %s\n", r.Path, status)
	fmt.Fprintf(w, "  station %s, format %d, %d %s, %d %s (%d superseded), last seq %d, synced up to %d\n",
		rep.StationID, rep.Format, rep.Batches, plural(rep.Batches, "batch", "batches"),
		rep.Bindings, plural(rep.Bindings, "binding", "bindings"), rep.Superseded, rep.LastSeq, rep.SyncedUpto)
	if rep.Unchecksummed > 0 {
		fmt.Fprintf(w, "  %d %s written before records carried a checksum (damage inside them is found only where it breaks their layout)\n",
			rep.Unchecksummed, plural(rep.Unchecksummed, "record", "records"))
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "  problem: %s\n", p)
	}
	writeOpenOps(w, r.OpenOps)
	if len(r.OpenIntents) == 0 {
		fmt.Fprintln(w, "  no open intents")
		return
	}
	fmt.Fprintf(w, "  %d open %s (tags started and not finished):\n", len(r.OpenIntents), plural(len(r.OpenIntents), "intent", "intents"))
	for _, it := range r.OpenIntents {
		fmt.Fprintf(w, "  %s  batch %s  started %s  attempts %d  %s", it.UID, it.BatchID, fmtTime(it.StartedAt), it.Attempts, intentStateWords(it.State))
		if it.LastError != "" {
			fmt.Fprintf(w, "  last error: %s", oneLine(it.LastError))
		}
		fmt.Fprintln(w)
		fmt.Fprintf(w, "      what to do: %s\n", it.Action)
	}
}

func intentStateWords(s batch.IntentState) string {
	if s == batch.IntentFailed {
		return "last attempt failed"
	}
	return "last attempt has no recorded outcome"
}
