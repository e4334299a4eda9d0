package cmd

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/internal/atomicfile"
	"github.com/tagline-station/tagline/manifest"
)

type batchExportOptions struct {
	journal string
	format  string
	since   uint64
	output  string
}

func newBatchExportCmd(e *env) *cobra.Command {
	o := &batchExportOptions{}
	c := &cobra.Command{
		Use:   "export ID [--format jsonl|csv] [--since N] [-o FILE]",
		Short: "Export a batch's manifest",
		Long: `export writes the manifest of a batch (format tagline-manifest/1, see
manifest/MANIFEST.md): a header, one record per encoded tag in journal order and
a trailer with the count, the SHA-256 of the records and next_since, the
cursor to resume from with --since. The output depends on the journal only:
exporting twice gives the same bytes.

The journal is checked first (as tagline journal check does): a corrupt
journal exports nothing and exits 5, and so does a damaged record met while
writing, named by its seq and tag.

The manifest goes to standard output, or with -o to FILE, written to a
temporary file first and renamed into place, so FILE is never half-written.`,
		Example: `  tagline batch export 20250101-001 > manifest.jsonl
  tagline batch export 20250101-001 --format csv -o manifest.csv
  tagline batch export 20250101-001 --since 1200 -o delta.jsonl`,
		Args: exactArgs(1, "a batch ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBatchExport(cmd, e, o, args[0])
		},
	}
	f := c.Flags()
	journalFlag(f, &o.journal)
	f.StringVar(&o.format, "format", "jsonl", "manifest format: jsonl or csv")
	f.Uint64Var(&o.since, "since", 0, "only records after sequence number `N` (the next_since of an earlier export)")
	f.StringVarP(&o.output, "output", "o", "", "write to `FILE` (atomically) instead of standard output")
	return c
}

func runBatchExport(cmd *cobra.Command, e *env, o *batchExportOptions, id string) error {
	switch o.format {
	case "jsonl", "csv":
	default:
		return usageErrorf("--format is jsonl or csv", "unknown manifest format %q", o.format)
	}
	jpath, err := e.journalPath(o.journal)
	if err != nil {
		return err
	}
	store, err := e.openJournalRO(jpath)
	if err != nil {
		return err
	}
	defer store.Close()
	// A manifest is shipped and trusted under its checksum; it is never
	// made from a journal that journal check calls corrupt. The check
	// comes first, so that damage to a batch's record is reported as
	// damage, not as a batch that does not exist.
	if err := store.Verify(); err != nil {
		return withCode(ExitJournal, fmt.Errorf("no manifest exported: %w", err),
			"run tagline journal check; restore the journal from a backup before exporting")
	}
	if _, err := store.GetBatch(id); err != nil {
		return err
	}
	opts := batch.ExportOptions{Format: o.format, Since: o.since}
	if o.output == "" || o.output == "-" {
		_, err := store.Export(cmd.OutOrStdout(), id, opts)
		return err
	}
	var sum manifest.Summary
	err = atomicfile.Write(o.output, 0o644, func(w io.Writer) error {
		var err error
		sum, err = store.Export(w, id, opts)
		return err
	})
	if err != nil {
		return err
	}
	e.log.Info("manifest exported", "batch", id, "file", o.output, "records", sum.Count, "sha256", sum.SHA256)
	fmt.Fprintf(cmd.ErrOrStderr(), "wrote %d %s to %s (sha256 %s, next --since %d)\n",
		sum.Count, plural(sum.Count, "record", "records"), o.output, sum.SHA256, sum.NextSince)
	return nil
}
