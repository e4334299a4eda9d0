package cmd

import (
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

type batchListOptions struct {
	journal string
	json    bool
}

func newBatchListCmd(e *env) *cobra.Command {
	o := &batchListOptions{}
	c := &cobra.Command{
		Use:   "list",
		Short: "List the batches of the journal",
		Example: `  tagline batch list
  tagline batch list --json | jq -r '.[] | select(.status == "open") | .id'
  tagline batch list --journal tagline-demo.db`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBatchList(cmd, e, o)
		},
	}
	journalFlag(c.Flags(), &o.journal)
	c.Flags().BoolVar(&o.json, "json", false, "print a JSON array")
	return c
}

func runBatchList(cmd *cobra.Command, e *env, o *batchListOptions) error {
	jpath, err := e.journalPath(o.journal)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	store, err := e.openJournalRO(jpath)
	if errors.Is(err, errNoJournal) {
		// A station that has not created a batch yet has no journal:
		// that is an empty list, not an error.
		if o.json {
			fmt.Fprintln(out, "[]")
		} else {
			fmt.Fprintf(out, "no batches (no journal at %s yet)\n", jpath)
		}
		return nil
	}
	if err != nil {
		return err
	}
	defer store.Close()
	bs, err := store.ListBatches()
	if err != nil {
		return err
	}
	list := make([]batchJSON, 0, len(bs))
	for _, b := range bs {
		st, err := store.Stats(b.ID)
		if err != nil {
			return err
		}
		list = append(list, newBatchJSON(b, st))
	}
	if o.json {
		return writeJSONIndent(out, list)
	}
	if len(list) == 0 {
		fmt.Fprintf(out, "no batches in %s\n", jpath)
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tSKU\tKEY VER\tDONE\tTARGET\tFAILED\tOPEN\tCREATED\tKDF")
	for _, b := range list {
		status := string(b.Status)
		if b.Test {
			status += " (test)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", b.ID, status, b.SKU, b.KeyVersion,
			b.Stats.Done, b.Target, b.Stats.Failed, b.Stats.OpenIntents, fmtTime(b.CreatedAt), b.KDF)
	}
	return tw.Flush()
}
