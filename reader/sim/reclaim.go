package sim

// IsReclaimed reports whether the tag is back in the factory state as a
// reset leaves it: keys, key versions, file settings and contents as
// shipped. Unlike IsFactoryFresh it ignores the SDM read counter, which a
// real tag never sets back.
func (t *Tag) IsReclaimed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range t.keys {
		if !k.key.IsZero() || k.ver != 0 {
			return false
		}
	}
	fresh := factoryFiles()
	if len(fresh) != len(t.files) {
		return false
	}
	for i, f := range fresh {
		g := t.files[i]
		if g.no != f.no || g.set != f.set || string(g.data) != string(f.data) {
			return false
		}
	}
	return true
}
