package cmd

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/internal/errkind"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/qa"
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/sdm"
	"github.com/tagline-station/tagline/syncer"
)

// Exit codes of tagline. This file is the one place where errors become
// exit codes; commands return errors and never call os.Exit.
const (
	ExitOK      = 0 // success (also: the operator stopped the station with Ctrl-C and it shut down cleanly)
	ExitFailure = 1 // anything not covered below
	ExitUsage   = 2 // bad flags or arguments, bad configuration, bad master key or template
	ExitTag     = 3 // a tag or reader error: a tag could not be encoded, no reader, reader stack gone
	ExitVerify  = 4 // verification failure: a tag failed QA, a read-back SUN message did not verify
	ExitJournal = 5 // journal error: corrupt, foreign, unwritable or newer format
	ExitBusy    = 6 // the journal is held by a running station (or another tagline process)
)

// exitCodesHelp is shown in the root command's --help.
const exitCodesHelp = `Exit codes:
  0  ok (also after Ctrl-C when the station shut down cleanly)
  1  any other error
  2  usage: bad flags or arguments, bad config file, bad master key or template
  3  tag or reader error: a tag failed or was a duplicate, no reader, reader stack unavailable
  4  verification failure: a tag failed QA (its read-back SUN message did not verify)
  5  journal error: corrupt, unwritable, foreign, another station's, or newer format
  6  busy: a running station (or another tagline process) holds the journal; try again when it stops`

// cliError carries an explicit exit code and an optional hint line.
type cliError struct {
	code int // 0: classify the wrapped error
	err  error
	hint string
}

func (e *cliError) Error() string { return e.err.Error() }
func (e *cliError) Unwrap() error { return e.err }

// usageErrorf reports bad flags, arguments or configuration (exit 2).
func usageErrorf(hint, format string, args ...any) error {
	return &cliError{code: ExitUsage, err: fmt.Errorf(format, args...), hint: hint}
}

// withHint attaches a hint to err without changing its exit code.
func withHint(err error, hint string) error {
	if err == nil {
		return nil
	}
	return &cliError{err: err, hint: hint}
}

// withCode forces the exit code of err.
func withCode(code int, err error, hint string) error {
	return &cliError{code: code, err: err, hint: hint}
}

// errSilent is returned by commands that already reported everything they
// had to say (per-tag lines, a journal check report); only the exit code
// is left to set.
type silentError struct{ code int }

func (e *silentError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func silentExit(code int) error {
	if code == ExitOK {
		return nil
	}
	return &silentError{code: code}
}

// exitCode maps an error to the process exit code.
func exitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var se *silentError
	if errors.As(err, &se) {
		return se.code
	}
	var ce *cliError
	for e := err; errors.As(e, &ce); e = ce.err {
		if ce.code != 0 {
			return ce.code
		}
	}
	return classify(err)
}

// classify is the exit code of an error by its kind, shared by
// whole-command errors and per-tag results.
func classify(err error) int {
	if err == nil {
		return ExitOK
	}
	k := errkind.Of(err)
	switch k {
	case errkind.Usage:
		return ExitUsage
	case errkind.Tag:
		return ExitTag
	case errkind.Verification:
		return ExitVerify
	case errkind.Busy:
		return ExitBusy
	case errkind.Journal:
		return ExitJournal
	}
	return ExitFailure // none, network
}

// hintFor is the default advice for an error that carries none.
func hintFor(err error) string {
	switch {
	case errors.Is(err, batch.ErrLocked):
		return "a running station holds the journal until it stops; batch list/show/export, journal check and verify read it meanwhile, other commands wait for it to stop"
	case errors.Is(err, batch.ErrCorrupt):
		return "stop the line; tagline never repairs a journal: keep the damaged file for analysis"
	case errors.Is(err, batch.ErrWrongStation):
		return "each station writes its own journal: check --journal, and --station-id or station_id in the config file"
	case errors.Is(err, batch.ErrForeign):
		return "this file is not this station's tagline journal; check --journal (and station_id in the config)"
	case errors.Is(err, batch.ErrFormat):
		return "the journal was written by a newer tagline; upgrade this one"
	case errors.Is(err, keys.ErrMasterKey):
		return "give the master key with --master-key-file FILE (32 hex digits), master_key_file in the config, or TAGLINE_MASTER_KEY_FILE; tagline keys check tests it"
	case errors.Is(err, sdm.ErrTemplate):
		return `a template is an https URL with {picc} and {mac} placeholders (optionally {enc}), e.g. "https://sdm.tagline.example/tag?picc_data={picc}&cmac={mac}"`
	case errors.Is(err, batch.ErrNoBatch):
		return "tagline batch list shows the batches of this journal"
	case errors.Is(err, batch.ErrBatchClosed):
		return "create a new batch with tagline batch new"
	case errors.Is(err, reader.ErrStackUnavailable):
		return "tagline readers shows which reader stacks are available"
	case errors.Is(err, reader.ErrNoReader):
		return "tagline readers lists the readers; pass one with --reader"
	case errors.Is(err, qa.ErrWrongMaster):
		return "verify needs the master key and --kdf the batch was encoded with; tagline keys check prints a key's KCV"
	case errors.Is(err, qa.ErrEmptyBatch):
		return "encode tags into the batch first; tagline batch show prints its counts"
	case errors.Is(err, qa.ErrSampling):
		return "give --sample N, or --defect-rate P with --confidence C, e.g. --defect-rate 1% --confidence 95%"
	case errors.Is(err, qa.ErrState):
		return "the state file holds the read counters QA saw, which catch replayed URLs; keep it next to the journal, or pass another with --state"
	case errors.Is(err, syncer.ErrGaveUp):
		return "the station keeps encoding; run tagline sync again later: the journal keeps every record the backend has not acknowledged"
	case errors.Is(err, syncer.ErrRejected):
		return "the backend refused the upload: check --endpoint and the token (--token-file or TAGLINE_SYNC_TOKEN_FILE); nothing was marked synced"
	case errors.Is(err, syncer.ErrBadAck):
		return "the backend's answer does not match what was sent; nothing was marked synced: check --endpoint points at tagline serve's /v1/sync"
	}
	return ""
}

// hintOf returns the first hint attached to err, or the default one.
func hintOf(err error) string {
	var ce *cliError
	for e := err; errors.As(e, &ce); e = ce.err {
		if ce.hint != "" {
			return ce.hint
		}
	}
	return hintFor(err)
}

// reportError prints err on w as "tagline: ..." and an optional hint line.
func reportError(w io.Writer, err error) {
	var se *silentError
	if err == nil || errors.As(err, &se) {
		return
	}
	msg := strings.TrimSpace(err.Error())
	fmt.Fprintf(w, "tagline: %s\n", lowerFirst(msg))
	if h := hintOf(err); h != "" {
		fmt.Fprintf(w, "hint: %s\n", h)
	}
}

// lowerFirst lower-cases the first letter of a message unless it starts
// an identifier-like word in capitals (UID, KCV, PC/SC).
func lowerFirst(s string) string {
	if len(s) < 2 {
		return strings.ToLower(s)
	}
	if s[0] >= 'A' && s[0] <= 'Z' && !(s[1] >= 'A' && s[1] <= 'Z') {
		return strings.ToLower(s[:1]) + s[1:]
	}
	return s
}
