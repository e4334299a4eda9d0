package cmd

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/tagline-station/tagline/batch"
)

func newBatchCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "batch",
		Short: "Create, list, show, close and export batches",
		Long: `A batch is one production run of a single SKU with one key version and one
URL template. Tags are encoded into a batch (tagline encode --batch ID) and
its manifest is exported for the backend (tagline batch export).`,
		Example: `  tagline batch new --sku SKU-123 --target 5000 --key-version 1 \
    --template 'https://sdm.tagline.example/tag?picc_data={picc}&cmac={mac}'
  tagline batch list
  tagline batch show 20250101-001 --json
  tagline batch export 20250101-001 --format csv -o manifest.csv
  tagline batch close 20250101-001`,
		Args: cobra.ArbitraryArgs,
		RunE: groupRunE,
	}
	c.AddCommand(
		newBatchNewCmd(e),
		newBatchListCmd(e),
		newBatchShowCmd(e),
		newBatchCloseCmd(e),
		newBatchExportCmd(e),
	)
	return c
}

// batchJSON is a batch with its progress, as batch list/show --json print
// it.
type batchJSON struct {
	batch.Batch
	Stats    batch.BatchStats `json:"stats"`
	Progress float64          `json:"progress"` // done/target, 0 without a target
}

func newBatchJSON(b batch.Batch, st batch.BatchStats) batchJSON {
	p := 0.0
	if st.Target > 0 {
		p = float64(st.Done) / float64(st.Target)
	}
	return batchJSON{Batch: b, Stats: st, Progress: p}
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
