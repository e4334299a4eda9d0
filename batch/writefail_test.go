package batch

import (
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/tagline-station/tagline/manifest"
)

// A commit the file system refuses is ErrWriteFailed, with its own words
// kept; nothing of it is recorded, Probe fails until the cause is gone,
// and then the journal takes writes again.
func TestRefusedCommitIsAWriteFailure(t *testing.T) {
	s := newStore(t)
	if _, err := s.CreateBatch(Batch{ID: "b1", SKU: "S", Target: 5, KeyVersion: 1}); err != nil {
		t.Fatal(err)
	}
	s.InjectWriteFault(func() error { return syscall.ENOSPC })
	err := s.CountOutcome("b1", manifest.Failed)
	if !errors.Is(err, ErrWriteFailed) || !errors.Is(err, syscall.ENOSPC) || !IsWriteFailure(err) ||
		!strings.Contains(err.Error(), "journal commit failed, nothing in this group was recorded: no space left on device") {
		t.Fatalf("refused commit: %v", err)
	}
	if err := s.Probe(); !errors.Is(err, ErrWriteFailed) {
		t.Fatalf("probe on a refusing journal: %v", err)
	}
	if st, _ := s.Stats("b1"); st.Failed != 0 {
		t.Fatalf("a refused commit was recorded: %+v", st)
	}
	s.InjectWriteFault(nil)
	if err := s.Probe(); err != nil {
		t.Fatalf("probe: %v", err)
	}
	if _, err := os.Stat(s.Path() + ".probe"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("probe left its file: %v", err)
	}
	if err := s.CountOutcome("b1", manifest.Failed); err != nil {
		t.Fatal(err)
	}
	if IsWriteFailure(ErrCorrupt) {
		t.Error("a corrupt journal is not a write failure")
	}
}
