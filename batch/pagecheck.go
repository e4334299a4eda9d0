package batch

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
)

// checkPages walks the B-tree of a bbolt file by reading the file itself,
// and reports every structure that would make bbolt read outside the pages
// it owns: a page whose id or type is wrong, an element whose key or value
// runs past its page, a child or overflow past the high-water mark, a page
// reached twice, keys out of order.
//
// It exists because bbolt walks the whole tree in goroutines of its own
// (tx.Check, and the freelist rebuild at open), where a fault on a damaged
// page kills the process and cannot be recovered. Once this walk finds
// nothing, those walks only read memory inside the file and find nothing
// to report either. (The freelist rebuild stops at the first error it
// finds but leaves its goroutine reading the file, even after the file is
// closed and unmapped; key order is checked here so that it finds none.)
//
// The caller must hold the file's lock (shared or exclusive) so that no
// writer changes the pages under it.
func checkPages(path string, m boltMeta) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	w := &pageWalker{f: f, ps: int(m.pageSize), hwm: m.pgid, seen: make([]uint64, (m.pgid+63)/64)}
	var free []uint64
	if m.freelist != noFreelist {
		free = w.freelist(m.freelist)
	}
	w.page(m.root, 0, "the root bucket", nil, nil)
	// bbolt writes new pages over the pages its freelist names, so a
	// damaged freelist would destroy live data at the next commit.
	dup := make(map[uint64]bool, len(free))
	for _, id := range free {
		switch {
		case id < 2 || id >= w.hwm:
			w.problem("the freelist names page %d, outside the file's pages", id)
		case dup[id]:
			w.problem("the freelist names page %d twice", id)
		case w.isSeen(id):
			w.problem("the freelist names page %d, which is in use", id)
		}
		dup[id] = true
	}
	return w.problems, w.err
}

const (
	flagBranch   = 0x01
	flagLeaf     = 0x02
	flagFreelist = 0x10
	elemSize     = 16
	maxDepth     = 64
	maxProblemsP = 50
)

type pageWalker struct {
	f        *os.File
	ps       int
	hwm      uint64
	seen     []uint64 // bit per page reached
	problems []string
	err      error
}

func (w *pageWalker) isSeen(id uint64) bool { return w.seen[id/64]&(1<<(id%64)) != 0 }
func (w *pageWalker) mark(id uint64)        { w.seen[id/64] |= 1 << (id % 64) }

func (w *pageWalker) problem(format string, args ...any) {
	if len(w.problems) < maxProblemsP {
		w.problems = append(w.problems, "storage: "+fmt.Sprintf(format, args...))
	}
}

// read returns the page id with its overflow pages, or nil after
// reporting why it cannot be used.
func (w *pageWalker) read(id uint64, what string) []byte {
	if id < 2 || id >= w.hwm {
		w.problem("%s points at page %d, outside the file's pages 2..%d", what, id, w.hwm-1)
		return nil
	}
	if w.isSeen(id) {
		w.problem("page %d is reached twice (again from %s)", id, what)
		return nil
	}
	hdr := make([]byte, 16)
	if _, err := w.f.ReadAt(hdr, int64(id)*int64(w.ps)); err != nil {
		w.err = err
		return nil
	}
	if got := binary.LittleEndian.Uint64(hdr); got != id {
		w.problem("page %d (from %s) says it is page %d", id, what, got)
		return nil
	}
	ovf := uint64(binary.LittleEndian.Uint32(hdr[12:]))
	if id+ovf >= w.hwm {
		w.problem("page %d claims %d overflow pages, past the end of the file", id, ovf)
		return nil
	}
	for i := id; i <= id+ovf; i++ {
		if w.isSeen(i) {
			w.problem("page %d is reached twice (as overflow of page %d)", i, id)
			return nil
		}
		w.mark(i)
	}
	buf := make([]byte, (ovf+1)*uint64(w.ps))
	if _, err := w.f.ReadAt(buf, int64(id)*int64(w.ps)); err != nil {
		w.err = err
		return nil
	}
	return buf
}

// freelist checks the freelist page and returns the page ids it names.
func (w *pageWalker) freelist(id uint64) []uint64 {
	buf := w.read(id, "the meta page's freelist")
	if buf == nil {
		return nil
	}
	if flags := binary.LittleEndian.Uint16(buf[8:]); flags != flagFreelist {
		w.problem("freelist page %d has page flags %#x", id, flags)
		return nil
	}
	n, first := uint64(binary.LittleEndian.Uint16(buf[10:])), uint64(16)
	if n == 0xFFFF {
		n, first = binary.LittleEndian.Uint64(buf[16:]), 24
	}
	if n > uint64(len(buf)) || first+8*n > uint64(len(buf)) {
		w.problem("freelist page %d claims %d entries, more than it holds", id, n)
		return nil
	}
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = binary.LittleEndian.Uint64(buf[first+8*uint64(i):])
	}
	return ids
}

func (w *pageWalker) page(id uint64, depth int, what string, min, max []byte) []byte {
	if w.err != nil {
		return nil
	}
	buf := w.read(id, what)
	if buf == nil {
		return nil
	}
	return w.node(buf, id, depth, true, min, max)
}

// node checks one branch or leaf page (buf is the page with its overflow,
// or an inline bucket's page) and descends into its children. Keys must
// lie in [min, max) and ascend, as bbolt's own check wants them; it
// returns the largest key below the page. Inline pages are not ordered
// (ordered is false): bbolt does not check them.
func (w *pageWalker) node(buf []byte, id uint64, depth int, ordered bool, min, max []byte) []byte {
	if depth > maxDepth {
		w.problem("page %d lies deeper than any real tree", id)
		return nil
	}
	if len(buf) < 16 {
		w.problem("an inline bucket near page %d is too short", id)
		return nil
	}
	flags := binary.LittleEndian.Uint16(buf[8:])
	count := int(binary.LittleEndian.Uint16(buf[10:]))
	if 16+count*elemSize > len(buf) {
		w.problem("page %d claims %d elements, more than it holds", id, count)
		return nil
	}
	inside := func(start, n uint64) bool { return start+n >= start && start+n <= uint64(len(buf)) }
	order := func(i int, key, prev []byte) {
		switch {
		case !ordered:
		case i == 0 && prev != nil && bytes.Compare(prev, key) > 0,
			i > 0 && bytes.Compare(prev, key) >= 0,
			max != nil && bytes.Compare(key, max) >= 0:
			w.problem("page %d, element %d: key out of order", id, i)
		}
	}
	switch flags {
	case flagBranch:
		if count == 0 {
			w.problem("branch page %d is empty", id)
			return nil
		}
		keys := make([][]byte, count)
		for i := range count {
			e := 16 + i*elemSize
			pos := uint64(binary.LittleEndian.Uint32(buf[e:]))
			ksize := uint64(binary.LittleEndian.Uint32(buf[e+4:]))
			if !inside(uint64(e)+pos, ksize) {
				w.problem("branch page %d, element %d: its key runs past the page", id, i)
				return nil
			}
			keys[i] = buf[uint64(e)+pos : uint64(e)+pos+ksize]
		}
		running, last := min, []byte(nil)
		for i := range count {
			order(i, keys[i], running)
			next := max
			if i < count-1 {
				next = keys[i+1]
			}
			e := 16 + i*elemSize
			last = w.page(binary.LittleEndian.Uint64(buf[e+8:]), depth+1, fmt.Sprintf("branch page %d", id), keys[i], next)
			running = last
		}
		return last
	case flagLeaf:
		prev := min
		for i := range count {
			e := 16 + i*elemSize
			eflags := binary.LittleEndian.Uint32(buf[e:])
			pos := uint64(binary.LittleEndian.Uint32(buf[e+4:]))
			ksize := uint64(binary.LittleEndian.Uint32(buf[e+8:]))
			vsize := uint64(binary.LittleEndian.Uint32(buf[e+12:]))
			start := uint64(e) + pos
			if !inside(start, ksize+vsize) || ksize+vsize < ksize {
				w.problem("leaf page %d, element %d: its key or value runs past the page", id, i)
				return nil
			}
			key := buf[start : start+ksize]
			order(i, key, prev)
			prev = key
			if eflags&0x01 == 0 {
				continue
			}
			v := buf[start+ksize : start+ksize+vsize]
			if len(v) < 16 {
				w.problem("leaf page %d, element %d: a bucket header of %d bytes", id, i, len(v))
				continue
			}
			if root := binary.LittleEndian.Uint64(v); root != 0 {
				w.page(root, depth+1, fmt.Sprintf("a bucket on leaf page %d", id), nil, nil)
				continue
			}
			inline := v[16:]
			if len(inline) < 16 || binary.LittleEndian.Uint16(inline[8:]) != flagLeaf {
				w.problem("leaf page %d, element %d: a damaged inline bucket", id, i)
				continue
			}
			w.node(inline, id, depth+1, false, nil, nil)
		}
		if count > 0 {
			return prev
		}
		return nil
	default:
		w.problem("page %d has page flags %#x where a branch or leaf page belongs", id, flags)
		return nil
	}
}
