package station_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/station"
)

// Every journal error stops the line, not only the ones the station
// happened to name: the operator is never told to present the tag again
// when the journal cannot take it.
func TestExplainEveryJournalError(t *testing.T) {
	for _, e := range []error{batch.ErrLocked, batch.ErrCorrupt, batch.ErrForeign, batch.ErrWrongStation,
		batch.ErrFormat, batch.ErrClosed, batch.ErrReadOnly, batch.ErrInvalid} {
		reason, hint := station.Explain(fmt.Errorf("complete 04A1: %w", e))
		if !strings.HasPrefix(reason, "journal error: ") || !strings.Contains(hint, "journal check") {
			t.Errorf("%v: %q, %q", e, reason, hint)
		}
	}
}
