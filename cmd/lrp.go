package cmd

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/sdm"
)

// LRP mode is irreversible on the tag, so it is asked for by name twice:
// batch new --lrp records it in the batch, and encode --lrp acknowledges
// it at the station that does it; both ask for confirmation on a
// terminal, or take --yes in scripts.

const lrpWarning = "switches every tag of the batch to LRP mode for good: an LRP tag never accepts AES authentication again, and its taps need a backend that verifies LRP SUN messages (tagline serve and verify do)"

// checkLRPTemplate refuses a template whose LRP layout (24-byte PICCData,
// 48 characters) does not fit the NDEF file.
func checkLRPTemplate(raw string) error {
	t, err := sdm.ParseTemplate(raw)
	if err == nil {
		_, err = t.LRP()
	}
	if err != nil {
		return withCode(ExitUsage, fmt.Errorf("--template in lrp mode: %w", err), "LRP PICCData takes 16 more characters than AES: shorten the url")
	}
	return nil
}

// confirmLRP asks on a terminal and refuses without one.
func (e *env) confirmLRP(cmd *cobra.Command, batchID string) error {
	return e.confirmForGood(cmd, "lrp", "LRP mode", lrpWarning, batchID)
}

// confirmForGood asks on a terminal before --flag, which does what
// warning says to every tag of the batch and cannot be undone, and
// refuses without a terminal.
func (e *env) confirmForGood(cmd *cobra.Command, flag, what, warning, batchID string) error {
	if !e.stdinTTY {
		return usageErrorf("pass --yes to confirm "+what+" when there is no terminal to ask on",
			"--%s %s and needs confirmation", flag, warning)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "--%s %s (batch %s). Continue? [y/N] ", flag, warning, batchID)
	ok, err := readYes(e.stdin)
	if err != nil {
		return err
	}
	if !ok {
		return withCode(ExitFailure, fmt.Errorf("%s not confirmed; nothing was done", strings.ToLower(what)), "")
	}
	return nil
}

const randomIDWarning = "turns on random ID on every tag of the batch for good: a reader then sees a new random UID at each tap, and only a session with the tag's key 0 or its SUN message tells the real one (tagline encode, rekey, reset, verify and serve read it so)"

// checkEncodeLRP makes encode name the batch's mode: --lrp for an LRP
// batch (and confirm it), and no --lrp for an AES batch.
func (e *env) checkEncodeLRP(cmd *cobra.Command, b batch.Batch, lrp, yes bool) error {
	switch {
	case b.LRP && !lrp:
		return usageErrorf("add --lrp to confirm that this station switches the tags to LRP mode",
			"batch %s is an LRP batch: encoding %s", b.ID, lrpWarning)
	case !b.LRP && lrp:
		return usageErrorf("create an LRP batch with tagline batch new --lrp",
			"batch %s is not an LRP batch; --lrp does not apply", b.ID)
	case b.LRP && !yes:
		return e.confirmLRP(cmd, b.ID)
	}
	return nil
}
