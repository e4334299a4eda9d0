package cmd

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tagline-station/tagline/keys"
)

func newKeysCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "keys",
		Short: "Check the master key",
		Example: `  tagline keys check --master-key-file /etc/tagline/master.key
  tagline keys check --kdf sdm-backend --json`,
		Args: cobra.ArbitraryArgs,
		RunE: groupRunE,
	}
	c.AddCommand(newKeysCheckCmd(e))
	return c
}

type keysCheckOptions struct {
	masterKeyFile string
	kdf           string
	keyVersion    int
	json          bool
}

// keysCheckJSON describes a master key without revealing it.
type keysCheckJSON struct {
	Source      string `json:"source"`
	Length      int    `json:"length"`
	KCV         string `json:"kcv"`
	KDF         string `json:"kdf"`
	KeyVersion  int    `json:"key_version"`
	MetaReadKCV string `json:"meta_read_kcv"`
	Zero        bool   `json:"zero,omitempty"`
}

func newKeysCheckCmd(e *env) *cobra.Command {
	o := &keysCheckOptions{}
	c := &cobra.Command{
		Use:   "check",
		Short: "Load the master key and print its check values",
		Long: `check loads the master key the station would use (--master-key-file, else
$TAGLINE_MASTER_KEY_FILE, else master_key_file in the config file) and
prints its length, its key check value (KCV), the key derivation, the key
version and the KCV of the SDM meta-read key that a backend needs. It never
prints the key. Compare the KCV with the one of the backend's key.`,
		Example: `  tagline keys check --master-key-file /etc/tagline/master.key
  tagline keys check --kdf sdm-backend --key-version 2
  TAGLINE_MASTER_KEY_FILE=/etc/tagline/master.key tagline keys check --json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runKeysCheck(cmd, e, o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.masterKeyFile, "master-key-file", "", "master key `FILE` ('-' reads standard input)")
	kdfFlag(f, &o.kdf)
	f.IntVar(&o.keyVersion, "key-version", 1, "key version `V` (1-255)")
	f.BoolVar(&o.json, "json", false, "print JSON")
	return c
}

func runKeysCheck(cmd *cobra.Command, e *env, o *keysCheckOptions) error {
	if err := checkKeyVersion(o.keyVersion); err != nil {
		return err
	}
	scheme, m, src, err := e.stationKeys(o.kdf, o.masterKeyFile)
	if err != nil {
		return err
	}
	d, err := keys.NewDeriver(scheme, m, byte(o.keyVersion))
	if err != nil {
		return err
	}
	where := src.File
	if where == "-" {
		where = "standard input"
	}
	r := keysCheckJSON{
		Source: where, Length: m.Len(), KCV: m.KCV(), KDF: string(scheme),
		KeyVersion: o.keyVersion, MetaReadKCV: d.MetaRead().KCV(), Zero: m.IsZero(),
	}
	out := cmd.OutOrStdout()
	if o.json {
		return writeJSONIndent(out, r)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "source\t%s\n", r.Source)
	fmt.Fprintf(tw, "length\t%d bytes\n", r.Length)
	fmt.Fprintf(tw, "kcv\t%s\n", r.KCV)
	fmt.Fprintf(tw, "kdf\t%s\n", r.KDF)
	fmt.Fprintf(tw, "key version\t%d\n", r.KeyVersion)
	fmt.Fprintf(tw, "meta-read key kcv\t%s\n", r.MetaReadKCV)
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.Zero {
		fmt.Fprintln(cmd.ErrOrStderr(), "tagline: warning: the master key is all zeros; never use it for production batches")
	}
	return nil
}
