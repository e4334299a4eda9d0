package cmd

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/reader/pcsc"
)

// completionBudget bounds each dynamic completion: a shell waits for it
// at every Tab, and a journal held by a running station or a pcscd that
// does not answer must cost the operator a short pause, never a hang.
const completionBudget = 500 * time.Millisecond

// flagCompletions complete the values of flags by name, wherever a
// command has such a flag.
func (e *env) flagCompletions() map[string]cobra.CompletionFunc {
	fixed := func(vals ...string) cobra.CompletionFunc {
		return cobra.FixedCompletions(vals, cobra.ShellCompDirectiveNoFileComp)
	}
	return map[string]cobra.CompletionFunc{
		"batch":     e.completeBatchIDs,
		"reader":    e.completeReaders,
		"readers":   e.completeReaders,
		"kdf":       fixed(string(keys.SchemeTagline)+"\ttagline's own derivation (default)", string(keys.SchemeSDMBackend)+"\tthe sdm-backend project's derivation"),
		"format":    fixed("jsonl\tone JSON object per line", "csv\tcomma-separated values"),
		"log-level": fixed("debug", "info", "warn", "error"),
	}
}

// batchArgCommands take a batch ID as their one positional argument.
var batchArgCommands = []string{"tagline batch show", "tagline batch close", "tagline batch export"}

// addCompletions registers the dynamic completions on every command of
// the tree, so that commands added later get them by their flags' names.
// A completion a command registered itself is kept.
func (e *env) addCompletions(root *cobra.Command) {
	funcs := e.flagCompletions()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for name, fn := range funcs {
			if c.LocalNonPersistentFlags().Lookup(name) != nil {
				if _, ok := c.GetFlagCompletionFunc(name); !ok {
					_ = c.RegisterFlagCompletionFunc(name, fn)
				}
			}
		}
		for _, p := range batchArgCommands {
			if c.CommandPath() == p && c.ValidArgsFunction == nil {
				c.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
					if len(args) > 0 {
						return nil, cobra.ShellCompDirectiveNoFileComp
					}
					return e.completeBatchIDs(cmd, args, toComplete)
				}
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// completeBatchIDs offers the batches of the journal the command would
// use (--journal, else the config file, else the default), open ones
// first. The journal is opened read-only under a shared lock with a
// short timeout: a station holding it for writing makes the completion
// empty rather than slow, and the station never waits for a shell.
func (e *env) completeBatchIDs(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	none := cobra.ShellCompDirectiveNoFileComp
	flag := ""
	if f := cmd.Flags().Lookup("journal"); f != nil {
		flag = f.Value.String()
	}
	path, err := e.journalPath(flag)
	if err != nil || journalPathProblem(path) != nil {
		return nil, none
	}
	st, err := batch.Open(path, batch.Options{ReadOnly: true, LockTimeout: completionBudget})
	if err != nil {
		return nil, none
	}
	defer st.Close()
	list, err := st.ListBatches()
	if err != nil {
		return nil, none
	}
	var open, closed []cobra.Completion
	for _, b := range list {
		if !strings.HasPrefix(b.ID, toComplete) {
			continue
		}
		c := cobra.CompletionWithDesc(b.ID, b.SKU+", "+string(b.Status))
		if b.Status == batch.StatusOpen {
			open = append(open, c)
		} else {
			closed = append(closed, c)
		}
	}
	return append(open, closed...), none | cobra.ShellCompDirectiveKeepOrder
}

// completeReaders offers the simulated reader, libnfc's default device
// and the PC/SC readers pcscd knows. libnfc devices are not opened: that
// would claim a USB reader a running station may be using.
func (e *env) completeReaders(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	out := []cobra.Completion{
		cobra.CompletionWithDesc("sim", "the built-in simulated reader"),
		cobra.CompletionWithDesc("libnfc", "libnfc's default device"),
	}
	for _, n := range pcscReaderNames(cmd.Context(), completionBudget) {
		out = append(out, cobra.CompletionWithDesc("pcsc:"+n, "PC/SC reader"))
	}
	var keep []cobra.Completion
	for _, c := range out {
		if v, _, _ := strings.Cut(c, "\t"); strings.HasPrefix(v, toComplete) {
			keep = append(keep, c)
		}
	}
	return keep, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveKeepOrder
}

// pcscReaderNames lists pcscd's readers within budget; a pcscd that is
// not running, or one that does not answer in time, gives none.
func pcscReaderNames(parent context.Context, budget time.Duration) []string {
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithTimeout(parent, budget)
	defer cancel()
	got := make(chan []string, 1)
	go func() {
		st, err := pcsc.Open(ctx)
		if err != nil {
			got <- nil
			return
		}
		defer st.Close()
		infos, err := st.List()
		var names []string
		for _, in := range infos {
			names = append(names, in.Name)
		}
		if err != nil {
			names = nil
		}
		got <- names
	}()
	select {
	case n := <-got:
		return n
	case <-ctx.Done():
		return nil
	}
}
