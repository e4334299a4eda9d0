package cmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/sdm"
)

type batchNewOptions struct {
	id         string
	sku        string
	target     int
	template   string
	keyVersion int
	notes      string
	journal    string
	stationID  string
	kdf        string
	test       bool
	lrp        bool
	randomID   bool
	yes        bool
	json       bool
}

func newBatchNewCmd(e *env) *cobra.Command {
	o := &batchNewOptions{}
	c := &cobra.Command{
		Use:   "new --sku SKU --target N --key-version V [--template URL] [--notes TEXT] [--id ID]",
		Short: "Create a batch",
		Long: `new records a new open batch in the journal (creating the journal file if
needed). The template is checked against what an NTAG 424 DNA can mirror:
an https URL with {picc} (encrypted UID and counter) and {mac}, optionally
{enc}; or {uid} and {ctr} in plain. --template defaults to template in the
config file. Without --id the batch is named YYYYMMDD-NNN.

The batch is pinned to one key derivation, --kdf (default: kdf in the config
file, else tagline), as it is to one key version: encode and verify refuse
another. --test marks a batch for trials: only a test batch may be encoded
with a master key anyone can guess (all zeros, one byte repeated), and its
manifest says "test".

--lrp makes an LRP batch: encode switches each tag to LRP mode (AN12304)
once it is personalised. --random-id makes a random-ID batch: encode turns
on random ID (UID privacy) as each tag's last change, so that a reader sees a
new random UID at every tap; the journal, manifests, sync and the backend
keep the real UID, which the station reads inside its session. Neither can be
undone on a tag, so each is confirmed on a terminal, or with --yes in
scripts.`,
		Example: `  tagline batch new --sku SKU-123 --target 5000 --key-version 1 \
    --template 'https://sdm.tagline.example/tag?picc_data={picc}&cmac={mac}'
  tagline batch new --id spring-run --sku SKU-9 --target 200 --key-version 2 --notes 'pilot' --json
  tagline batch new --id trial --sku SKU-9 --target 10 --key-version 1 --kdf sdm-backend --test
  tagline batch new --id lrp-run --sku SKU-9 --target 100 --key-version 1 --lrp --yes
  tagline batch new --id private-run --sku SKU-9 --target 100 --key-version 1 --random-id --yes`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBatchNew(cmd, e, o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.id, "id", "", "batch `ID` (letters, digits, '-', '_', '.'; default YYYYMMDD-NNN)")
	f.StringVar(&o.sku, "sku", "", "product `SKU` of every tag in the batch")
	f.IntVar(&o.target, "target", 0, "number of tags planned (`N`)")
	f.StringVar(&o.template, "template", "", "SUN URL `TEMPLATE` (default: template in the config file)")
	f.IntVar(&o.keyVersion, "key-version", 0, "key version `V` (1-255) written to every key")
	f.StringVar(&o.notes, "notes", "", "free `TEXT` kept with the batch")
	journalFlag(f, &o.journal)
	f.StringVar(&o.stationID, "station-id", "", "this station's `ID` (default: station_id in the config file, else the host name)")
	kdfFlag(f, &o.kdf)
	f.BoolVar(&o.test, "test", false, "a test batch: allows a weak master key such as all zeros; never ship its tags")
	f.BoolVar(&o.lrp, "lrp", false, "an LRP batch: encode switches its tags to LRP mode, irreversibly")
	f.BoolVar(&o.randomID, "random-id", false, "a random-ID batch: encode turns on random ID (UID privacy) on its tags, irreversibly")
	f.BoolVarP(&o.yes, "yes", "y", false, "confirm --lrp and --random-id without asking")
	f.BoolVar(&o.json, "json", false, "print the new batch as JSON")
	return c
}

func runBatchNew(cmd *cobra.Command, e *env, o *batchNewOptions) error {
	if err := requireFlags(cmd, "sku", "target", "key-version"); err != nil {
		return err
	}
	if o.target < 0 {
		return usageErrorf("", "--target must not be negative")
	}
	if o.keyVersion < 1 || o.keyVersion > 255 {
		return usageErrorf("key version 0 is the factory keys' version; use 1 for a first key generation", "--key-version must be 1 to 255, got %d", o.keyVersion)
	}
	raw, _, err := e.lookup(settingTemplate, o.template)
	if err != nil {
		return err
	}
	if raw == "" {
		return usageErrorf(hintFor(sdm.ErrTemplate), "--template is required (or set template in the config file)")
	}
	if _, err := sdm.ParseTemplate(raw); err != nil {
		return withCode(ExitUsage, fmt.Errorf("--template: %w", err), hintFor(sdm.ErrTemplate))
	}
	if o.lrp {
		if err := checkLRPTemplate(raw); err != nil {
			return err
		}
	}
	scheme, err := e.kdfScheme(o.kdf)
	if err != nil {
		return err
	}
	if o.lrp && !o.yes {
		if err := e.confirmLRP(cmd, o.id); err != nil {
			return err
		}
	}
	if o.randomID && !o.yes {
		if err := e.confirmForGood(cmd, "random-id", "random ID", randomIDWarning, o.id); err != nil {
			return err
		}
	}
	jpath, err := e.journalPath(o.journal)
	if err != nil {
		return err
	}
	sid, err := e.stationID(o.stationID)
	if err != nil {
		return err
	}
	store, err := e.openJournal(jpath, sid)
	if err != nil {
		return err
	}
	defer store.Close()
	b, err := store.CreateBatch(batch.Batch{
		ID: o.id, SKU: o.sku, Target: o.target, Template: raw,
		KeyVersion: byte(o.keyVersion), KDF: string(scheme), Test: o.test, Notes: o.notes, LRP: o.lrp, RandomID: o.randomID,
	})
	if err != nil {
		return err
	}
	if err := store.Close(); err != nil {
		return err
	}
	e.log.Info("batch created", "batch", b.ID, "sku", b.SKU, "target", b.Target, "key_version", b.KeyVersion, "kdf", b.KDF, "test", b.Test, "lrp", b.LRP, "random_id", b.RandomID)
	if o.json {
		return writeJSONIndent(cmd.OutOrStdout(), newBatchJSON(b, batch.BatchStats{Target: b.Target}))
	}
	kind := "batch"
	if b.Test {
		kind = "test batch"
	}
	fmt.Fprintf(cmd.OutOrStdout(), "created %s %s (sku %s, target %d, key version %d) in %s\n", kind, b.ID, b.SKU, b.Target, b.KeyVersion, jpath)
	fmt.Fprintf(cmd.OutOrStdout(), "kdf: %s (every tag of the batch is keyed with it)\n", b.KDF)
	if b.Test {
		fmt.Fprintln(cmd.OutOrStdout(), "test batch: a guessable master key is accepted; never ship its tags")
	}
	if b.LRP {
		fmt.Fprintln(cmd.OutOrStdout(), "lrp: encode --lrp "+lrpWarning)
	}
	if b.RandomID {
		fmt.Fprintln(cmd.OutOrStdout(), "random id: encode "+randomIDWarning)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "next: tagline encode --batch %s --reader NAME\n", b.ID)
	return nil
}
