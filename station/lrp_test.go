package station

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tagline-station/tagline/encoder"
)

// An AES batch's refusal of an LRP tag tells the operator to set it aside
// for an LRP batch, not to present it again.
func TestExplainLRPMode(t *testing.T) {
	err := &encoder.StepError{Step: encoder.StepAuth, Err: fmt.Errorf("%w: it can only be personalised by a batch made with --lrp", encoder.ErrLRPMode)}
	reason, hint := Explain(err)
	if !strings.HasPrefix(reason, "tag is in LRP mode") || !strings.Contains(hint, "set this tag aside") || !strings.Contains(hint, "--lrp") {
		t.Fatalf("reason %q, hint %q", reason, hint)
	}
}
