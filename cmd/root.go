package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tagline-station/tagline/reader/sim"
	"golang.org/x/term"
)

// env is what every command shares: the process's streams and
// environment, the global flags and the lazily loaded configuration.
// Tests build one with their own streams and environment.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	now    func() time.Time

	// stdinTTY and stdoutTTY report terminals: stdout decides the operator
	// UI, stdin whether a confirmation can be asked.
	stdinTTY  bool
	stdoutTTY bool

	// Global flags.
	configFlag string
	logFile    string
	noColor    bool

	cfg       *config
	log       *slog.Logger
	closeLog  func() error
	runUI     uiRunner
	simRandom func() []byte // UID source of simulated tags; nil: random
	// simPresented is told of every simulated tag encode and verify present, so a
	// test can read it again as a phone would.
	simPresented func(*sim.Tag)
}

func newEnv(stdin io.Reader, stdout, stderr io.Writer) *env {
	return &env{
		stdin:     stdin,
		stdout:    stdout,
		stderr:    stderr,
		getenv:    os.Getenv,
		now:       time.Now,
		stdinTTY:  isTerminal(stdin),
		stdoutTTY: isTerminal(stdout),
		log:       slog.New(slog.DiscardHandler),
		closeLog:  func() error { return nil },
		runUI:     defaultUIRunner,
	}
}

func isTerminal(v any) bool {
	f, ok := v.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// config returns the configuration file's content, reading it on first
// use. Commands that do not need it (version, completion, demo) never
// read it, so a broken config file does not stop them.
func (e *env) config() (config, error) {
	if e.cfg != nil {
		return *e.cfg, nil
	}
	c, err := loadLayeredConfig(e.configFlag, e.getenv)
	if err != nil {
		return config{}, withHint(err, configHint)
	}
	e.cfg = &c
	for _, p := range c.Files {
		e.log.Info("config loaded", "path", p)
	}
	return c, nil
}

// Execute runs tagline with args (without the program name) and returns
// the process exit code. The first SIGINT, SIGTERM or SIGHUP cancels the command's
// context, which long-running commands treat as "stop cleanly"; a second
// one ends the process at once.
func Execute(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := stopContext()
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // restore the default action for the next signal
	}()
	return run(ctx, newEnv(stdin, stdout, stderr), args)
}

// stopSignals stop a command cleanly: Ctrl-C, a service manager's
// SIGTERM, and SIGHUP when the terminal closes, which would otherwise
// kill the station in the middle of a tag.
var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP}

// stopContext is cancelled by the first of stopSignals.
func stopContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), stopSignals...)
}

// run executes the command tree with an env and a context of the caller's.
func run(ctx context.Context, e *env, args []string) int {
	root := newRootCmd(e)
	root.SetArgs(args)
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if cmd == nil {
		cmd = root
	}
	var ce *cliError
	if exitCode(err) == ExitUsage && hintOf(err) == "" && errors.As(err, &ce) {
		ce.hint = fmt.Sprintf("run '%s --help' for usage", cmd.CommandPath())
	}
	if err != nil {
		e.log.Error("command failed", "err", err) // before the close, so that it is counted if lost
	}
	cerr := e.closeLog()
	if err == nil {
		err, cerr = cerr, nil
	}
	reportError(e.stderr, err)
	reportError(e.stderr, cerr)
	return exitCode(err)
}

func newRootCmd(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "tagline",
		Short: "NTAG 424 DNA encoding station",
		Long: `tagline personalises NTAG 424 DNA tags on a production line: it gives each
tag its own keys derived from the station's master key, writes a SUN URL
template, reads the tag back as a phone would, verifies the SUN message and
records the tag in a journal (a bbolt file) before and after.

Start with "tagline demo", which runs the whole flow on simulated tags.

` + exitCodesHelp + `

Configuration: /etc/tagline/config.toml, overridden key by key by --config
FILE, else $TAGLINE_CONFIG, else the per-user config.toml (see
tagline-config(5) and "tagline config show"); flags override both.`,
		Example: `  # try the whole flow on simulated tags
  tagline demo

  # production: create a batch, then run the station on a PC/SC reader
  tagline batch new --sku SKU-123 --target 5000 --key-version 1 \
    --template 'https://sdm.tagline.example/tag?picc_data={picc}&cmac={mac}'
  tagline encode --batch 20250101-001 --reader 'pcsc:ACS ACR122U PICC Interface 00 00'`,
		Args:          cobra.ArbitraryArgs,
		RunE:          groupRunE,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if err := checkExclusive(cmd); err != nil {
				return err
			}
			return e.openLog()
		},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErrorf(fmt.Sprintf("run '%s --help' for usage", c.CommandPath()), "%w", err)
	})
	pf := root.PersistentFlags()
	pf.StringVar(&e.configFlag, "config", "", "config `FILE` (default $TAGLINE_CONFIG, else the per-user config.toml)")
	pf.StringVar(&e.logFile, "log", "", "append a log to `FILE` (never to the screen)")
	pf.BoolVar(&e.noColor, "no-color", false, "no colours in the operator UI (also when NO_COLOR is set)")

	root.InitDefaultHelpCmd()
	for _, c := range root.Commands() {
		if c.Name() == "help" {
			c.Example = "  tagline help encode\n  tagline help batch export"
		}
	}
	root.AddCommand(
		newDemoCmd(e),
		newEncodeCmd(e),
		newVerifyCmd(e),
		newRekeyCmd(e),
		newResetCmd(e),
		newBatchCmd(e),
		newJournalCmd(e),
		newReadersCmd(e),
		newKeysCmd(e),
		newSimCmd(e),
		newSyncCmd(e),
		newServeCmd(e),
		newVersionCmd(e),
		newCompletionCmd(e),
	)
	root.AddCommand(newConfigCmd(e), newManCmd(e))
	e.addCompletions(root)
	return root
}

// openLog starts the --log file, if any.
func (e *env) openLog() error {
	if e.getenv("NO_COLOR") != "" {
		e.noColor = true
	}
	if e.logFile == "" {
		return nil
	}
	sink, l, err := openLogSink(e.logFile, e.now)
	if err != nil {
		return err
	}
	e.log, e.closeLog = l, sink.Close
	return nil
}

// groupRunE is the RunE of commands that only group others: without
// arguments it prints the help, with an unknown one it is a usage error.
func groupRunE(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return cmd.Help()
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf("; did you mean %q?", s[0])
	}
	return usageErrorf(fmt.Sprintf("run '%s --help' for the list of commands", cmd.CommandPath()), "%s", msg)
}

// noArgs refuses positional arguments with a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf(fmt.Sprintf("run '%s --help' for usage", cmd.CommandPath()),
			"%s takes no arguments, got %q", cmd.CommandPath(), strings.Join(args, " "))
	}
	return nil
}

// exactArgs wants exactly n positional arguments, named what.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErrorf(fmt.Sprintf("usage: %s", cmd.UseLine()),
				"%s needs %s, got %d argument(s)", cmd.CommandPath(), what, len(args))
		}
		return nil
	}
}

// requireFlags reports the first missing required flag as a usage error.
func requireFlags(cmd *cobra.Command, names ...string) error {
	for _, n := range names {
		if !cmd.Flags().Changed(n) {
			return usageErrorf(fmt.Sprintf("usage: %s (see --help)", cmd.UseLine()), "--%s is required", n)
		}
	}
	return nil
}
