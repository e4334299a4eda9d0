package cmd

import (
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tagline-station/tagline/serve"
)

func newRekeyCmd(e *env) *cobra.Command {
	o := &lifeOptions{}
	c := &cobra.Command{
		Use:   "rekey --batch ID --to-version V [--reader NAME]",
		Short: "Move the tags of a batch to another key version of the master key",
		Long: `rekey rotates keys: each tag of the batch presented on the reader gets
the five keys of key version V, derived from the same master key. It
authenticates once with the tag's current key 0, changes keys 1 to 4, then
key 0, and reads the tag back as a phone would: the SUN message must verify
with the new keys. The journal records the change before the first key
moves (tagline journal check lists open ones) and, once read back, a new
binding with the new key version that tagline sync sends to the backend.

A tag pulled away in the middle is not lost: its key versions tell which
keys moved, and presenting it again finishes it without a failed
authentication. Run tagline serve with both versions (--key-version 1,2
--rollout 1:2) while the rollout lasts.

rekey refuses, with nothing written and no key tried, a batch whose tags
were bound with another master key, and any tag this journal did not bind
in the batch. The sdm-backend derivation does not use the key version, so
its batches cannot be rekeyed: a new master key is needed there.

With --reader sim it presents simulated copies of the batch's tags (to
try the flow; the journal records them like real ones).`,
		Example: `  tagline rekey --batch 20250101-001 --to-version 2 --reader 'pcsc:ACS ACR122U PICC Interface 00 00'
  tagline rekey --batch 20250101-001 --to-version 2 --reader sim --json
  tagline rekey --batch 20250101-001 --to-version 3 --count 1 --master-key-file /etc/tagline/master.key`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlags(cmd, "batch", "to-version"); err != nil {
				return err
			}
			if err := checkKeyVersion(o.toVersion); err != nil {
				return err
			}
			if o.count < 0 {
				return usageErrorf("", "--count must not be negative")
			}
			r, err := e.openLife(cmd, o, true)
			if err != nil {
				return err
			}
			return r.run(cmd)
		},
	}
	f := c.Flags()
	f.StringVar(&o.batchID, "batch", "", "batch `ID` whose tags are rekeyed")
	f.IntVar(&o.toVersion, "to-version", 0, "key `VERSION` to move the tags to (1 to 255)")
	lifeFlags(c, o)
	return c
}

// parseRollout reads serve's --rollout FROM:TO.
func parseRollout(s string) (serve.Rollout, error) {
	if s == "" {
		return serve.Rollout{}, nil
	}
	from, to, ok := strings.Cut(s, ":")
	f, ferr := strconv.Atoi(from)
	t, terr := strconv.Atoi(to)
	if !ok || ferr != nil || terr != nil || f < 1 || f > 255 || t < 1 || t > 255 || f == t {
		return serve.Rollout{}, usageErrorf("e.g. --rollout 1:2 while tagline rekey moves tags from key version 1 to 2", "--rollout %q: give two different key versions FROM:TO, 1 to 255", s)
	}
	return serve.Rollout{From: byte(f), To: byte(t)}, nil
}
