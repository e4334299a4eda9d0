package cmd

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/sdm"
	"github.com/tagline-station/tagline/station"
)

const (
	demoKeyFile     = "tagline-demo.key"
	demoJournal     = "tagline-demo.db"
	demoSKU         = "DEMO-SKU"
	demoTemplate    = "https://sdm.tagline.example/tag?picc_data={picc}&cmac={mac}"
	demoEncTemplate = "https://sdm.tagline.example/tag?picc_data={picc}&enc={enc}&cmac={mac}"
	// demoTTTemplate keeps the path and names sdm-backend's TagTamper
	// endpoint reads (/tagtt: picc_data, enc with the status first, cmac).
	demoTTTemplate = "https://sdm.tagline.example/tagtt?picc_data={picc}&enc={tt}&cmac={mac}"
	demoKeyVersion = 1
)

type demoOptions struct {
	count         int
	masterKeyFile string
	journal       string
	kdf           string
	template      string
	enc           bool
	tt            bool
	lrp           bool
	json          bool
	serve         bool
	listen        string
}

func newDemoCmd(e *env) *cobra.Command {
	o := &demoOptions{}
	c := &cobra.Command{
		Use:   "demo",
		Short: "Personalise a few simulated tags end to end",
		Long: `demo runs the whole station on simulated NTAG 424 DNA tags: factory-fresh
tags with random UIDs 04xxxxxxxxxxxx are keyed, given a SUN URL template,
read back as a phone would and journaled in a new test batch (SKU DEMO-SKU,
key version 1, --kdf as given) in ./tagline-demo.db.

The master key is --master-key-file, or else ./tagline-demo.key: created
with a random key (mode 0600) on the first run and reused afterwards. The
output names the file and the key's check value (KCV), never the key.

demo reads no config file: it never touches the station's journal or
master key unless they are passed as flags.`,
		Example: `  tagline demo
  tagline demo --count 20 --json
  tagline demo --serve                     # then open the printed URL in a browser
  tagline demo --enc
  tagline demo --lrp --kdf sdm-backend --master-key-file ./sdm-backend.key --json
  tagline demo --tt --kdf sdm-backend --master-key-file ./sdm-backend.key --json
  tagline demo --kdf sdm-backend --master-key-file ./sdm-backend.key
  tagline demo --template 'https://brand.example/t?p={picc}&m={mac}' --journal /tmp/demo.db`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDemo(cmd, e, o)
		},
	}
	f := c.Flags()
	f.IntVar(&o.count, "count", 5, "number of simulated tags")
	f.StringVar(&o.masterKeyFile, "master-key-file", "", "master key `FILE` (32 hex digits; default ./"+demoKeyFile+", created when missing)")
	f.StringVar(&o.journal, "journal", demoJournal, "journal `FILE`")
	f.StringVar(&o.kdf, "kdf", string(keys.SchemeTagline), "key derivation `KDF`: tagline or sdm-backend")
	f.StringVar(&o.template, "template", "", "SUN URL `TEMPLATE` (default "+demoTemplate+")")
	f.BoolVar(&o.enc, "enc", false, "mirror encrypted file data too: "+demoEncTemplate)
	f.BoolVar(&o.tt, "tt", false, "simulate NTAG 424 DNA TT tags, their tamper loop mirrored: "+demoTTTemplate)
	f.BoolVar(&o.lrp, "lrp", false, "switch the simulated tags to LRP mode: the URLs carry LRP SUN messages (48-character picc_data)")
	f.BoolVar(&o.json, "json", false, "one JSON object per tag on stdout")
	f.BoolVar(&o.serve, "serve", false, "then start a local backend, sync the batch to it and print a fresh tap's URL that opens the genuine page")
	f.StringVar(&o.listen, "listen", "127.0.0.1:8424", "`ADDR` of the --serve backend")
	exclusive(c, "--enc picks the demo's template with {enc}; put {enc} in your own --template instead", "enc", "template")
	exclusive(c, "--tt picks the demo's template with {tt}; put {tt} in your own --template instead", "tt", "template")
	exclusive(c, "--tt and --enc pick one template each: --tt's carries encrypted file data too", "tt", "enc")
	return c
}

func runDemo(cmd *cobra.Command, e *env, o *demoOptions) error {
	out := cmd.OutOrStdout()
	info := out
	if o.json {
		info = cmd.ErrOrStderr()
	}
	if o.count < 1 || o.count > 100000 {
		return usageErrorf("", "--count must be between 1 and 100000, got %d", o.count)
	}
	raw := demoTemplate
	if o.enc {
		raw = demoEncTemplate
	}
	if o.tt {
		raw = demoTTTemplate
	}
	if o.template != "" {
		raw = o.template
	}
	tmpl, err := sdm.ParseTemplate(raw)
	if err != nil {
		return withCode(ExitUsage, fmt.Errorf("--template: %w", err), hintFor(sdm.ErrTemplate))
	}
	if o.lrp {
		if err := checkLRPTemplate(raw); err != nil {
			return err
		}
	}
	scheme, err := keys.ParseScheme(o.kdf)
	if err != nil {
		return usageErrorf("--kdf is tagline or sdm-backend", "%w", err)
	}

	master, keyNote, err := demoMasterKey(e, o.masterKeyFile)
	if err != nil {
		return err
	}
	deriver, err := keys.NewDeriver(scheme, master, demoKeyVersion)
	if err != nil {
		return withHint(err, "the tagline derivation needs a 16-byte key (32 hex digits); sdm-backend accepts 16 to 64 bytes")
	}

	store, err := e.openJournal(o.journal, "")
	if err != nil {
		return err
	}
	defer store.Close()
	b, err := createDemoBatch(e, store, raw, o.count, scheme, o.lrp)
	if err != nil {
		return err
	}
	// A demo batch is a test batch, so the rule holds here too; a weak key
	// gets a word on screen, not a refusal.
	if err := refuseWeakMaster(master, b); err != nil {
		return err
	}
	if what, weak := weakMaster(master); weak {
		fmt.Fprintf(cmd.ErrOrStderr(), "tagline: warning: the master key is %s; accepted for the demo's test batch only\n", what)
	}
	demoReaders := []readerSpec{{Kind: reader.KindSim, Name: "sim", Raw: "sim"}}
	st, err := station.New(station.Config{Journal: store, Batch: b, Deriver: deriver, Template: tmpl, Now: e.now,
		Genuine: genuineKeys(demoReaders, false, b.Test)})
	if err != nil {
		return err
	}
	readers, err := e.openReaders(cmd.Context(), demoReaders, false,
		simFeederOptions{Max: o.count, UID: e.simRandom, TagTamper: tmpl.HasTT()})
	if err != nil {
		return err
	}
	defer readers.Close()

	mode := ""
	if o.lrp {
		mode = ", switched to LRP mode,"
	}
	fmt.Fprintf(info, "demo: %d simulated %s%s into batch %s (journal %s)\n", o.count, plural(o.count, "tag", "tags"), mode, b.ID, store.Path())
	fmt.Fprintf(info, "master key: %s (kcv %s, kdf %s, key version %d)\n", keyNote, master.KCV(), scheme, demoKeyVersion)
	t, err := e.runStation(cmd.Context(), runOptions{
		station: st, store: store, batch: b, readers: readers,
		count: o.count, json: o.json, out: out, info: cmd.ErrOrStderr(),
	})
	if err != nil {
		return err
	}
	writeDemoSummary(info, t, o.count, b, store.Path())
	if err := t.failureError(); err != nil || !o.serve {
		return err
	}
	return e.demoServe(cmd, o, store, b, master, scheme, raw)
}

func writeDemoSummary(w io.Writer, t *tally, want int, b batch.Batch, journal string) {
	s := t.summary()
	if t.Total < want {
		s += fmt.Sprintf("; interrupted after %d of %d", t.Total, want)
	}
	fmt.Fprintln(w, s)
	fmt.Fprintf(w, "next: tagline batch show %s --journal %s\n", b.ID, journal)
}

// demoMasterKey loads --master-key-file, or the demo key file in the
// working folder, creating it with a random key when it does not exist.
func demoMasterKey(e *env, flag string) (keys.Master, string, error) {
	if flag != "" {
		m, err := e.loadMaster(keys.Source{File: flag, Stdin: e.stdin})
		return m, flag, err
	}
	note := demoKeyFile
	if _, err := os.Stat(demoKeyFile); errors.Is(err, fs.ErrNotExist) {
		if err := createKeyFile(demoKeyFile); err != nil && !errors.Is(err, fs.ErrExist) {
			return keys.Master{}, "", fmt.Errorf("creating the demo key %s: %w", demoKeyFile, err)
		}
		note += ", created now with a random key"
	}
	m, err := e.loadMaster(keys.Source{File: demoKeyFile})
	if err != nil {
		return keys.Master{}, "", withHint(err, "remove "+demoKeyFile+" to let the demo create a new one, or pass --master-key-file")
	}
	return m, note, nil
}

// createDemoBatch opens a new batch named after the clock. It is a test
// batch: its tags are simulated, and demo accepts any master key.
func createDemoBatch(e *env, store *batch.Store, template string, target int, scheme keys.Scheme, lrp bool) (batch.Batch, error) {
	base := "demo-" + e.now().Format("20060102-150405")
	id := base
	for i := 2; ; i++ {
		b, err := store.CreateBatch(batch.Batch{ID: id, SKU: demoSKU, Target: target, Template: template, KeyVersion: demoKeyVersion,
			KDF: string(scheme), Test: true, Simulated: true, Notes: "tagline demo", LRP: lrp})
		if errors.Is(err, batch.ErrBatchExists) && i < 100 {
			id = fmt.Sprintf("%s-%d", base, i)
			continue
		}
		return b, err
	}
}
