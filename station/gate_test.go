package station

import "testing"

// A tag that entered before a pause stays in progress until it leaves, so
// that a stop right after its entry waits for it instead of cancelling it
// at its first exchange; after the pause no tag enters.
func TestGateCountsTagsInProgressAcrossAPause(t *testing.T) {
	var g Gate
	if !g.enter("l1") || !g.enter("l2") {
		t.Fatal("an open gate refused a tag")
	}
	g.Pause()
	if g.enter("l3") {
		t.Fatal("a tag entered a paused gate")
	}
	if n := g.inProgress(); n != 2 {
		t.Fatalf("%d tags in progress after the pause, want 2", n)
	}
	g.leave()
	g.leave()
	if n := g.inProgress(); n != 0 || g.Started() != 2 {
		t.Fatalf("%d in progress, %d started; want 0 and 2", n, g.Started())
	}
	var none *Gate
	none.leave()
	if none.inProgress() != 0 {
		t.Fatal("a nil gate has tags in progress")
	}
}
