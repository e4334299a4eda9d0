package cmd

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

type batchShowOptions struct {
	journal string
	json    bool
}

func newBatchShowCmd(e *env) *cobra.Command {
	o := &batchShowOptions{}
	c := &cobra.Command{
		Use:   "show ID",
		Short: "Show a batch and its progress",
		Example: `  tagline batch show 20250101-001
  tagline batch show 20250101-001 --json | jq .stats.done`,
		Args: exactArgs(1, "a batch ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBatchShow(cmd, e, o, args[0])
		},
	}
	journalFlag(c.Flags(), &o.journal)
	c.Flags().BoolVar(&o.json, "json", false, "print JSON")
	return c
}

func runBatchShow(cmd *cobra.Command, e *env, o *batchShowOptions, id string) error {
	jpath, err := e.journalPath(o.journal)
	if err != nil {
		return err
	}
	store, err := e.openJournalRO(jpath)
	if err != nil {
		return err
	}
	defer store.Close()
	b, err := store.GetBatch(id)
	if err != nil {
		return err
	}
	st, err := store.Stats(id)
	if err != nil {
		return err
	}
	bj := newBatchJSON(b, st)
	out := cmd.OutOrStdout()
	if o.json {
		return writeJSONIndent(out, bj)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, args...)...) }
	row("batch", "%s", b.ID)
	row("status", "%s", b.Status)
	row("sku", "%s", b.SKU)
	row("key version", "%d", b.KeyVersion)
	row("kdf", "%s", b.KDF)
	if b.Test {
		row("test batch", "yes: a weak master key is allowed; never ship its tags")
	}
	if b.LRP {
		row("lrp", "yes: tags are switched to LRP mode")
	}
	if b.RandomID {
		row("random id", "yes: tags answer readers with a random UID")
	}
	row("template", "%s", b.Template)
	if b.Notes != "" {
		row("notes", "%s", oneLine(b.Notes))
	}
	row("created", "%s", fmtTime(b.CreatedAt))
	if !b.ClosedAt.IsZero() {
		row("closed", "%s", fmtTime(b.ClosedAt))
	}
	if b.Target > 0 {
		row("done", "%d of %d (%.1f%%)", st.Done, b.Target, 100*bj.Progress)
	} else {
		row("done", "%d", st.Done)
	}
	row("failed attempts", "%d", st.Failed)
	row("duplicates", "%d", st.Duplicates)
	row("open intents", "%d", st.OpenIntents)
	if err := tw.Flush(); err != nil {
		return err
	}
	if st.OpenIntents > 0 {
		fmt.Fprintln(out, "tagline journal check lists the open intents and what to do with them")
	}
	return nil
}
