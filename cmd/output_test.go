package cmd

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/tagline-station/tagline/encoder"
	"github.com/tagline-station/tagline/reader"
)

// A tag cut short by the end of the run is told from other failures by
// the error chain, not by words that any message may contain.
func TestIsInterrupted(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"canceled", context.Canceled, true},
		{"canceled in a step", &encoder.StepError{Step: encoder.StepAuth, Err: fmt.Errorf("x: %w", context.Canceled)}, true},
		{"reader saw the cancel as a removal", reader.RemovedError(fmt.Errorf("libnfc transceive: %w", context.Canceled)), true},
		{"removed", reader.RemovedError(errors.New("card gone")), false},
		{"the words only", errors.New("remote answered 502: upstream: context canceled"), false},
		{"deadline", context.DeadlineExceeded, false},
	} {
		if got := isInterrupted(tc.err); got != tc.want {
			t.Errorf("%s: isInterrupted(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
