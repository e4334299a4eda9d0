package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/station"
)

// tagJSON is one line of --json output for a tag: a stable contract for
// scripts. Fields are only ever added.
type tagJSON struct {
	Reader     string       `json:"reader"`
	UID        manifest.UID `json:"uid"`
	SKU        string       `json:"sku"`
	Batch      string       `json:"batch"`
	Outcome    string       `json:"outcome"`
	OK         bool         `json:"ok"`
	URL        string       `json:"url"`
	ReadCtr    uint32       `json:"read_ctr"`
	Exchanges  int          `json:"exchanges"`
	DurationMS float64      `json:"duration_ms"`
	Reason     string       `json:"reason,omitempty"`
	Hint       string       `json:"hint,omitempty"`
}

func toTagJSON(r *station.Result) tagJSON {
	return tagJSON{
		Reader:     r.Reader,
		UID:        r.UID,
		SKU:        r.SKU,
		Batch:      r.Batch,
		Outcome:    string(r.Outcome),
		OK:         r.Outcome.Passed(),
		URL:        r.URL,
		ReadCtr:    r.ReadCtr,
		Exchanges:  r.Exchanges,
		DurationMS: math.Round(float64(r.Duration)/float64(time.Microsecond)) / 1000,
		Reason:     r.Reason,
		Hint:       r.Hint,
	}
}

// resultLabel is the first column of a result line.
func resultLabel(r *station.Result) string {
	switch {
	case r.Outcome.Passed():
		return "PASS"
	case r.Outcome == manifest.Duplicate:
		return "DUP "
	}
	return "FAIL"
}

// writeResultLine prints one tag as a line an operator reads at a glance,
// plus a hint line for a tag that needs handling:
//
//	PASS  04A1B2C3D4E5F6  DEMO-SKU  ctr 1  https://...
//	FAIL  04A1B2C3D4E5F6  DEMO-SKU  tag moved away during write ndef
//	      hint: present the same tag again to finish it
func writeResultLine(w io.Writer, r *station.Result, showReader bool) {
	var b strings.Builder
	b.WriteString(resultLabel(r))
	b.WriteString("  ")
	if showReader {
		fmt.Fprintf(&b, "[%s]  ", r.Reader)
	}
	uid := r.UID
	if uid == "" {
		uid = "(no uid)"
	}
	fmt.Fprintf(&b, "%-14s  %s  ", uid, r.SKU)
	switch {
	case r.Outcome.Passed():
		fmt.Fprintf(&b, "ctr %d  %s", r.ReadCtr, r.URL)
		if r.Outcome == manifest.Finished {
			b.WriteString("  (finished an interrupted earlier attempt)")
		}
	default:
		b.WriteString(oneLine(r.Reason))
	}
	fmt.Fprintln(w, b.String())
	if !r.Outcome.Passed() && r.Hint != "" {
		fmt.Fprintf(w, "      hint: %s\n", r.Hint)
	}
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// tally is what cmd keeps of a run: the station's count of it, the exit
// code its tags make, and how its background sync ended.
type tally struct {
	station.Tally
	Code int // worst exit code among the tags' last attempts

	// Sync says the run synced in the background; SyncState is its state
	// at the end. Held is the journal's refusal when the run ended on hold.
	Sync      bool
	SyncState station.SyncState
	Held      error
}

func (t *tally) add(r *station.Result, at time.Time) {
	t.Tally.Add(r, at)
	t.Code = ExitOK
	if t.Duplicates > 0 {
		t.Code = ExitTag
	}
	for _, err := range t.Failures() {
		t.Code = max(t.Code, tagCode(err))
	}
}

// tagCode is the exit code a failed tag makes: its error's, except that a
// tag cut short by the end of the run, or failed by something that is no
// fault of the tag's kind, is a tag failure.
func tagCode(err error) int {
	code := classify(err)
	if errors.Is(err, context.Canceled) || code == ExitFailure || code == ExitUsage || code == ExitOK {
		return ExitTag
	}
	return code
}

// summary is the closing line of a run.
func (t *tally) summary() string {
	d := t.Last.Sub(t.Start)
	if t.Total == 0 {
		return "no tags"
	}
	s := fmt.Sprintf("%d %s in %.2fs (%.1f tags/s): %d passed", t.Tags(), plural(t.Tags(), "tag", "tags"), d.Seconds(), t.Rate(), t.Passed)
	if t.Retried > 0 {
		s += fmt.Sprintf(" (%d failed %s retried)", t.Retried, plural(t.Retried, "attempt", "attempts"))
	}
	if t.Failed > 0 {
		s += fmt.Sprintf(", %d failed", t.Failed)
	}
	if t.Duplicates > 0 {
		s += fmt.Sprintf(", %d %s", t.Duplicates, plural(t.Duplicates, "duplicate", "duplicates"))
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// failureError is what a run with failed tags returns: the per-tag lines
// were printed already, so it only says how many.
func (t *tally) failureError() error {
	if t.Code == ExitOK {
		return nil
	}
	bad := t.Failed + t.Duplicates
	hint := "the lines above say what to do with each tag"
	if t.Interrupted > 0 {
		hint = "a tag was interrupted mid-way; present it again (tagline journal check lists tags that may be half-keyed)"
	}
	return withCode(t.Code, fmt.Errorf("%d of %d %s not encoded", bad, t.Tags(), plural(t.Tags(), "tag", "tags")), hint)
}
