package cmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tagline-station/tagline/batch"
)

type batchCloseOptions struct {
	journal   string
	stationID string
}

func newBatchCloseCmd(e *env) *cobra.Command {
	o := &batchCloseOptions{}
	c := &cobra.Command{
		Use:   "close ID",
		Short: "Close a batch so that it takes no new tags",
		Long: `close stops a batch from taking new tags. Tags already started in it (open
intents) can still be finished. Closing a closed batch changes nothing.`,
		Example: `  tagline batch close 20250101-001`,
		Args:    exactArgs(1, "a batch ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBatchClose(cmd, e, o, args[0])
		},
	}
	journalFlag(c.Flags(), &o.journal)
	c.Flags().StringVar(&o.stationID, "station-id", "", "this station's `ID` (default: station_id in the config file)")
	return c
}

func runBatchClose(cmd *cobra.Command, e *env, o *batchCloseOptions, id string) error {
	jpath, err := e.journalPath(o.journal)
	if err != nil {
		return err
	}
	sid, err := e.stationID(o.stationID)
	if err != nil {
		return err
	}
	if err := journalExists(jpath); err != nil {
		return err
	}
	store, err := e.openJournal(jpath, sid)
	if err != nil {
		return err
	}
	defer store.Close()
	b, err := store.GetBatch(id)
	if err != nil {
		return err
	}
	if b.Status == batch.StatusClosed {
		fmt.Fprintf(cmd.OutOrStdout(), "batch %s was already closed (%s)\n", id, fmtTime(b.ClosedAt))
		return nil
	}
	if err := store.CloseBatch(id); err != nil {
		return err
	}
	st, err := store.Stats(id)
	if err != nil {
		return err
	}
	if err := store.Close(); err != nil {
		return err
	}
	e.log.Info("batch closed", "batch", id)
	fmt.Fprintf(cmd.OutOrStdout(), "closed batch %s (%d done", id, st.Done)
	if st.Target > 0 {
		fmt.Fprintf(cmd.OutOrStdout(), " of %d", st.Target)
	}
	fmt.Fprintln(cmd.OutOrStdout(), ")")
	if st.OpenIntents > 0 {
		fmt.Fprintf(cmd.OutOrStdout(), "%d tag(s) still have open intents; tagline journal check lists them\n", st.OpenIntents)
	}
	return nil
}
