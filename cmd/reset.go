package cmd

import (
	"github.com/spf13/cobra"
)

func newResetCmd(e *env) *cobra.Command {
	o := &lifeOptions{}
	c := &cobra.Command{
		Use:   "reset [--batch ID] [--reader NAME]",
		Short: "Return our tags to the factory state for rework",
		Long: `reset reclaims tags: each tag presented on the reader that this journal
bound gets the factory state back: its NDEF file zeroed, its settings as
delivered (SDM off, read and write free, change with key 0), keys 1 to 4
and then key 0 set to zero with key version 0. Its keys are derived from
the master key with the batch and key version of its binding; one
authentication with its key 0 is all it costs. The journal records the
reset before the first change and a reclaim once the tag reads back
factory; the binding stays in the journal's history.

A tag pulled away in the middle is finished when presented again, without
a failed authentication. A tag this journal never bound is quarantined:
reported, recorded in the journal, and never tried with any key. With
--batch only that batch's tags are reset; a batch whose tags were bound
with another master key is refused before any tag is touched.

Two changes a chip cannot undo survive a reset: a tag of an LRP batch stays
in LRP mode, and one of a random-ID batch keeps answering readers with a
random UID. Such a tag can be encoded again only by a batch of the same
kind (--lrp; --random-id, or any batch for random ID).

With --reader sim (which needs --batch) it presents simulated copies of
the batch's tags.`,
		Example: `  tagline reset --reader 'pcsc:ACS ACR122U PICC Interface 00 00'
  tagline reset --batch 20250101-001 --reader sim --json
  tagline reset --batch 20250101-001 --count 1 --master-key-file /etc/tagline/master.key`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.count < 0 {
				return usageErrorf("", "--count must not be negative")
			}
			r, err := e.openLife(cmd, o, false)
			if err != nil {
				return err
			}
			return r.run(cmd)
		},
	}
	c.Flags().StringVar(&o.batchID, "batch", "", "reset only the tags of batch `ID`")
	lifeFlags(c, o)
	return c
}
