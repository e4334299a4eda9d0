package cmd

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// annExclusive is the flag annotation that holds, for each group of
// mutually exclusive flags the flag is in, the group (names joined by
// spaces) and its hint, as "GROUP\tHINT".
const annExclusive = "tagline_exclusive"

// exclusive declares flags of c that exclude each other. cobra is told
// too, so that completion stops offering the others once one is given;
// checkExclusive, run before cobra's own check, reports the conflict as a
// usage error (exit 2) with hint.
func exclusive(c *cobra.Command, hint string, names ...string) {
	c.MarkFlagsMutuallyExclusive(names...)
	entry := strings.Join(names, " ") + "\t" + hint
	for _, n := range names {
		f := c.Flags().Lookup(n)
		f.Annotations = mapAppend(f.Annotations, annExclusive, entry)
	}
}

func mapAppend(m map[string][]string, k, v string) map[string][]string {
	if m == nil {
		m = map[string][]string{}
	}
	m[k] = append(m[k], v)
	return m
}

// checkExclusive returns a usage error for the first group declared with
// exclusive of which more than one flag was given: "--a and --b exclude
// each other", naming every flag of the group.
func checkExclusive(c *cobra.Command) error {
	var err error
	c.Flags().VisitAll(func(f *pflag.Flag) {
		for _, entry := range f.Annotations[annExclusive] {
			if err != nil {
				return
			}
			group, hint, _ := strings.Cut(entry, "\t")
			names := strings.Fields(group)
			given := 0
			for _, n := range names {
				if c.Flags().Changed(n) {
					given++
				}
			}
			if given > 1 {
				err = usageErrorf(hint, "%s exclude each other", flagList(names))
			}
		}
	})
	return err
}

// flagList writes names as "--a, --b and --c".
func flagList(names []string) string {
	s := "--" + strings.Join(names, ", --")
	if i := strings.LastIndex(s, ", "); i >= 0 {
		s = s[:i] + " and " + s[i+2:]
	}
	return s
}
