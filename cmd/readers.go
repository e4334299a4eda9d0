package cmd

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/reader/libnfc"
	"github.com/tagline-station/tagline/reader/pcsc"
)

type readersOptions struct {
	json    bool
	timeout time.Duration
}

// readerJSON is one reader in tagline readers --json.
type readerJSON struct {
	reader.Info
	// Spec is what to pass to --reader for it.
	Spec string `json:"spec"`
}

// stackJSON says whether a reader stack could be asked.
type stackJSON struct {
	Kind      reader.Kind `json:"kind"`
	Available bool        `json:"available"`
	Error     string      `json:"error,omitempty"`
}

type readersJSON struct {
	Readers []readerJSON `json:"readers"`
	Stacks  []stackJSON  `json:"stacks"`
}

func newReadersCmd(e *env) *cobra.Command {
	o := &readersOptions{}
	c := &cobra.Command{
		Use:   "readers",
		Short: "List the readers tagline can use",
		Long: `readers lists the PC/SC readers pcscd knows, the default libnfc device and
the built-in simulated reader, each with whether a tag is in its field and
the name to pass to --reader. A reader stack that is not available (pcscd
not running, libnfc not compiled in or no device) is reported as such; it
is not an error.`,
		Example: `  tagline readers
  tagline readers --json | jq -r '.readers[].spec'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReaders(cmd, e, o)
		},
	}
	c.Flags().BoolVar(&o.json, "json", false, "print JSON")
	c.Flags().DurationVar(&o.timeout, "timeout", 5*time.Second, "how long to wait for pcscd")
	return c
}

func runReaders(cmd *cobra.Command, e *env, o *readersOptions) error {
	cfg, err := e.config()
	if err != nil {
		return err
	}
	res := readersJSON{Readers: []readerJSON{{Info: reader.Info{Name: "sim", Kind: reader.KindSim}, Spec: "sim"}}}

	ctx, cancel := context.WithTimeout(cmd.Context(), o.timeout)
	defer cancel()
	if st, err := pcsc.Open(ctx); err != nil {
		res.Stacks = append(res.Stacks, stackJSON{Kind: reader.KindPCSC, Error: stackReason(err)})
	} else {
		infos, err := st.List()
		_ = st.Close()
		if err != nil {
			res.Stacks = append(res.Stacks, stackJSON{Kind: reader.KindPCSC, Error: stackReason(err)})
		} else {
			res.Stacks = append(res.Stacks, stackJSON{Kind: reader.KindPCSC, Available: true})
			for _, in := range infos {
				res.Readers = append(res.Readers, readerJSON{Info: in, Spec: "pcsc:" + in.Name})
			}
		}
	}

	conn := ""
	if sp, err := parseReaderSpec(cfg.Reader); err == nil && sp.Kind == reader.KindLibNFC {
		conn = sp.Name
	}
	e.quietLibNFC()
	if !libnfc.Compiled {
		res.Stacks = append(res.Stacks, stackJSON{Kind: reader.KindLibNFC, Error: "not compiled in (this tagline was built without cgo)"})
	} else if d, err := libnfc.Open(conn); err != nil {
		res.Stacks = append(res.Stacks, stackJSON{Kind: reader.KindLibNFC, Error: stackReason(err)})
	} else {
		in := d.Info()
		spec := "libnfc:" + d.Connstring()
		_ = d.Close()
		res.Stacks = append(res.Stacks, stackJSON{Kind: reader.KindLibNFC, Available: true})
		res.Readers = append(res.Readers, readerJSON{Info: in, Spec: spec})
	}

	out := cmd.OutOrStdout()
	if o.json {
		return writeJSONIndent(out, res)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tREADER\tTAG\t--reader")
	for _, r := range res.Readers {
		tag := "no tag"
		switch {
		case r.Kind == reader.KindSim:
			tag = "simulated"
		case r.TagPresent:
			tag = "present"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Kind, r.Name, tag, quoteSpec(r.Spec))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range res.Stacks {
		if !s.Available {
			fmt.Fprintf(out, "%s: unavailable (%s)\n", s.Kind, s.Error)
		}
	}
	return nil
}

// stackReason is the error without the sentinel's generic prefix.
func stackReason(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, reader.ErrStackUnavailable.Error()+": ")
	s = strings.TrimPrefix(s, "pcsc: ")
	return s
}

// quoteSpec quotes a --reader value for a shell when it needs it.
func quoteSpec(s string) string {
	if strings.ContainsAny(s, " \t'\"$\\`!*?&;|<>()[]{}") {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	return s
}
