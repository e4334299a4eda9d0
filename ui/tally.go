package ui

// Progress is the batch's count of done tags against its target.
type Progress struct {
	Before int // done when the station started (journal)
	Run    int // passed in this run
	Target int // 0: no target
}

// Done is the batch's done count now.
func (p Progress) Done() int { return p.Before + p.Run }

// Fraction of the target done, in [0, 1]; 0 without a target.
func (p Progress) Fraction() float64 {
	if p.Target <= 0 {
		return 0
	}
	f := float64(p.Done()) / float64(p.Target)
	return min(max(f, 0), 1)
}

// Left is how many tags remain to the target (never negative).
func (p Progress) Left() int {
	if p.Target <= 0 {
		return 0
	}
	return max(p.Target-p.Done(), 0)
}
