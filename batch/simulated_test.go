package batch

import (
	"errors"
	"strings"
	"testing"
)

// A batch is marked simulated only while it holds no tag, stays marked
// across a reopen, and its bindings leave the journal marked (Pending and
// the manifest), while another batch's do not.
func TestMarkSimulated(t *testing.T) {
	s := newStore(t)
	mustBatch(t, s, "real")
	mustBatch(t, s, "sim")
	encode(t, s, uidN(1), "real")
	if err := s.MarkSimulated("real"); !errors.Is(err, ErrMixedReaders) {
		t.Fatalf("a batch with real tags marked: %v", err)
	}
	if err := s.MarkSimulated("sim"); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkSimulated("sim"); err != nil {
		t.Fatalf("marking twice: %v", err)
	}
	encode(t, s, uidN(2), "sim")
	if b, _ := s.GetBatch("sim"); !b.Simulated {
		t.Error("mark lost")
	}
	if b, _ := s.GetBatch("real"); b.Simulated {
		t.Error("real batch marked")
	}
	pend, err := s.Pending(10)
	if err != nil || len(pend) != 2 {
		t.Fatalf("pending %v %v", pend, err)
	}
	for _, b := range pend {
		if b.Simulated != (b.BatchID == "sim") {
			t.Errorf("binding of %s: simulated %v", b.BatchID, b.Simulated)
		}
	}
	var out strings.Builder
	if _, err := s.Export(&out, "real", ExportOptions{}); err != nil || strings.Contains(out.String(), "simulated") {
		t.Errorf("real manifest: %v\n%s", err, out.String())
	}
	out.Reset()
	if _, err := s.Export(&out, "sim", ExportOptions{}); err != nil || strings.Count(out.String(), `"simulated":true`) != 2 {
		t.Errorf("simulated manifest: %v\n%s", err, out.String())
	}
	mustCheck(t, s)
}
