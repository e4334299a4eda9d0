package sim

// IsReclaimed reports whether the tag is back in the factory state as a
// reset leaves it: keys, key versions, file settings and contents as
// shipped. Unlike IsFactoryFresh it ignores the SDM read counter, which a
// real tag never sets back.
func (t *Tag) IsReclaimed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.asShipped(false)
}
