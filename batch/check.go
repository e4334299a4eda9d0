package batch

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/tagline-station/tagline/manifest"
	bolt "go.etcd.io/bbolt"
)

// Report is the result of Check. Problems is empty for a healthy journal.
type Report struct {
	Path          string `json:"path"`
	Format        int    `json:"format"`
	StationID     string `json:"station_id"`
	Batches       int    `json:"batches"`
	Bindings      int    `json:"bindings"`
	Superseded    int    `json:"superseded"`
	OpenIntents   int    `json:"open_intents"`
	OutboxEntries int    `json:"outbox_entries"`
	LastSeq       uint64 `json:"last_seq"`
	SyncedUpto    uint64 `json:"synced_upto"`
	// Unchecksummed counts the records (batches, bindings, intents,
	// counters) of version 1, written before records carried a checksum:
	// damage inside them shows only where it breaks their structure.
	Unchecksummed int      `json:"unchecksummed"`
	Problems      []string `json:"problems"`
}

// OK reports whether no problem was found.
func (r Report) OK() bool { return len(r.Problems) == 0 }

const maxProblems = 1000

func (r *Report) problem(format string, args ...any) {
	switch {
	case len(r.Problems) < maxProblems:
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	case len(r.Problems) == maxProblems:
		r.Problems = append(r.Problems, "more problems were found and not listed")
	}
}

// Check walks the file's pages (see checkPages), runs bbolt's page-level
// consistency check (tx.Check) when the walk found them sound, and then the
// journal's own checks: that every index and outbox entry leads to the right binding, every
// binding is indexed and in the outbox, the stored counters are readable, no
// tag has both a binding and an open intent (unless re-encoding), and no
// record holds what looks like key material. The error is for a check
// that could not run; what it finds is in Report.Problems.
//
// bbolt's page check needs the write lock on a writable store (its
// freelist must not move under it), so commits wait while it runs; the
// journal's own checks read a snapshot and let commits go on.
func (s *Store) Check() (Report, error) {
	rep := Report{Path: s.Path()}
	tx, err := s.db.Begin(!s.readOnly)
	if err != nil {
		return rep, fmt.Errorf("check journal %s: %w", s.path, closedErr(err))
	}
	// bbolt's check runs in a goroutine of its own, where a damaged page
	// can fault the process; it runs only on pages checkPages found sound.
	m, err := checkHeader(s.path)
	var probs []string
	if err == nil {
		probs, err = checkPages(s.path, m)
	}
	if err == nil && m.damaged != "" {
		rep.problem("storage: %s", damagedMetaProblem(m))
	}
	switch {
	case err != nil:
		rep.problem("storage: %v", err)
	case len(probs) > 0:
		for _, p := range probs {
			rep.problem("%s", p)
		}
	default:
		for e := range tx.Check() {
			rep.problem("storage: %v", e)
		}
	}
	_ = tx.Rollback()

	err = s.view(func(tx *bolt.Tx) error {
		checkJournal(tx, &rep)
		return nil
	})
	if errors.Is(err, ErrClosed) {
		return rep, fmt.Errorf("check journal %s: %w", s.path, err)
	}
	if err != nil {
		rep.problem("the check stopped early: %v", err)
	}
	return rep, nil
}

// Verify runs Check and turns any problem it finds into an error wrapping
// ErrCorrupt that names the first. Open runs it before it writes to a
// journal, and an export should before it ships one.
func (s *Store) Verify() error {
	rep, err := s.Check()
	if err != nil {
		return err
	}
	if rep.OK() {
		return nil
	}
	more := ""
	if n := len(rep.Problems) - 1; n > 0 {
		more = fmt.Sprintf(" (and %d more; tagline journal check lists them)", n)
	}
	return fmt.Errorf("%w: %s%s", ErrCorrupt, rep.Problems[0], more)
}

// checkJournal walks every bucket of the journal and records in rep what it
// counts and each problem it finds. The walks run in a fixed order, so the
// same journal always lists the same problems in the same order.
func checkJournal(tx *bolt.Tx, rep *Report) {
	bk, ok := checkIdentityAndCursor(tx, rep)
	if !ok {
		return
	}
	c := &journalCheck{
		bk:    bk,
		rep:   rep,
		known: map[string]bool{},
		bound: map[string]int{},
		idxOf: map[string]*bolt.Bucket{},
	}
	c.checkBatches()
	c.checkCounters()
	c.checkBindings()
	c.checkSuperseded()

	// Every binding found its index and outbox entry above, under its own
	// seq, and one key holds one entry, so when nothing was wrong so far
	// and the entries are exactly as many as the bindings, every entry is
	// accounted for: the walks below only count them. Otherwise they look
	// up each entry's binding, to say which entry is wrong. (The lookups
	// are most of the cost of Check, which Open runs.)
	sound := len(rep.Problems) == 0
	checkIndexes(bk, rep, sound, c.bound)
	c.checkOutbox(sound)
	c.checkIntents()
	checkLifecycle(tx, bk, rep)
}

// journalCheck carries what one walk learns to the walks after it: the
// batches that exist, and how many bindings each batch holds.
type journalCheck struct {
	bk    txBuckets
	rep   *Report
	known map[string]bool         // batch ids found in the batches bucket
	bound map[string]int          // bindings per batch, current and superseded
	idxOf map[string]*bolt.Bucket // index bucket per batch, looked up once
}

// checkIdentityAndCursor reads the identity and the sync cursor. It
// reports false when the buckets are missing, since no other walk can run
// then.
func checkIdentityAndCursor(tx *bolt.Tx, rep *Report) (txBuckets, bool) {
	id, err := readIdentity(tx)
	rep.Format, rep.StationID = id.format, id.station
	if err != nil {
		rep.problem("%v", err)
	}
	bk, err := buckets(tx)
	if err != nil {
		return bk, false
	}
	rep.LastSeq = bk.outbox.Sequence()
	if cur, err := readCursor(bk); err != nil {
		rep.problem("the sync cursor is unreadable: %v", err)
	} else {
		rep.SyncedUpto = cur
		if cur > rep.LastSeq {
			rep.problem("the sync cursor %d is past the last binding %d", cur, rep.LastSeq)
		}
	}
	return bk, true
}

// countOld counts a record written before records carried a checksum, so
// the report can say how many a rewrite would upgrade.
func (c *journalCheck) countOld(v []byte) {
	if len(v) > 0 && v[0] == recordV1 {
		c.rep.Unchecksummed++
	}
}

// checkBatches checks each batch record. Done and open intents are counted
// from the index and the intents (see Stats), so only the stored counts can
// be damaged.
func (c *journalCheck) checkBatches() {
	bk, rep := c.bk, c.rep
	_ = bk.batches.ForEach(func(k, v []byte) error {
		rep.Batches++
		c.countOld(v)
		b, err := decodeBatch(v)
		if err != nil {
			rep.problem("batch %s: %v", k, err)
			return nil
		}
		if b.ID != string(k) {
			rep.problem("batch stored under %q says its id is %q", k, b.ID)
		}
		if b.Status != StatusOpen && b.Status != StatusClosed {
			rep.problem("batch %s has unknown status %q", k, b.Status)
		}
		if bk.index.Bucket(k) == nil {
			rep.problem("batch %s has no index", k)
		}
		if _, err := getCounters(bk.stats, string(k)); err != nil {
			rep.problem("batch %s has no readable counters", k)
		}
		c.known[string(k)] = true
		return nil
	})
}

// checkCounters finds stored counters left behind by a batch that is gone.
func (c *journalCheck) checkCounters() {
	_ = c.bk.stats.ForEach(func(k, v []byte) error {
		c.countOld(v)
		if c.bk.batches.Get(k) == nil {
			c.rep.problem("counters exist for batch %s, which does not exist", k)
		}
		return nil
	})
}

// checkBindings checks each current binding, and that it is filed under
// its own tag.
func (c *journalCheck) checkBindings() {
	_ = c.bk.bindings.ForEach(func(k, v []byte) error {
		c.rep.Bindings++
		c.countOld(v)
		b, err := decodeBinding(v)
		if err != nil {
			c.rep.problem("binding of tag %s: %v", k, err)
			return nil
		}
		if b.UID != manifest.UID(k) {
			c.rep.problem("binding stored under tag %s says its tag is %s", k, b.UID)
		}
		c.checkLogged("binding", b)
		return nil
	})
}

// checkSuperseded checks each superseded binding, and that it is older than
// the current binding of its tag: a re-encode only ever supersedes the past.
func (c *journalCheck) checkSuperseded() {
	bk, rep := c.bk, c.rep
	_ = bk.history.ForEach(func(k, v []byte) error {
		rep.Superseded++
		c.countOld(v)
		b, err := decodeBinding(v)
		if err != nil {
			rep.problem("superseded binding %x: %v", k, err)
			return nil
		}
		if seq, _ := keySeq(k); seq != b.Seq {
			rep.problem("superseded binding of tag %s is stored under sequence number %d but says %d", b.UID, seq, b.Seq)
		}
		cur := bk.bindings.Get([]byte(b.UID))
		if cur == nil {
			rep.problem("superseded binding of tag %s (seq %d) has no current binding", b.UID, b.Seq)
		} else if cb, err := decodeBinding(cur); err == nil && cb.Seq <= b.Seq {
			rep.problem("superseded binding of tag %s (seq %d) is newer than the current one (seq %d)", b.UID, b.Seq, cb.Seq)
		}
		c.checkLogged("superseded binding", b)
		return nil
	})
}

// checkLogged checks what bindings, current and superseded, share: each
// must be indexed and in the outbox under its seq, name a batch that
// exists, and hold no key material. It also counts the binding for its
// batch, for checkIndexes.
func (c *journalCheck) checkLogged(what string, b manifest.Binding) {
	bk, rep := c.bk, c.rep
	c.bound[b.BatchID]++
	k := seqKey(b.Seq)
	if b.Seq == 0 || b.Seq > rep.LastSeq {
		rep.problem("%s of tag %s has sequence number %d, beyond the last %d", what, b.UID, b.Seq, rep.LastSeq)
	}
	idx, seen := c.idxOf[b.BatchID]
	if !seen {
		idx = bk.index.Bucket([]byte(b.BatchID))
		c.idxOf[b.BatchID] = idx
	}
	if idx == nil || !bytes.Equal(idx.Get(k), []byte(b.UID)) {
		rep.problem("%s of tag %s (seq %d) is missing from the index of batch %s", what, b.UID, b.Seq, b.BatchID)
	}
	if !bytes.Equal(bk.outbox.Get(k), []byte(b.UID)) {
		rep.problem("%s of tag %s (seq %d) is missing from the outbox", what, b.UID, b.Seq)
	}
	if !c.known[b.BatchID] {
		rep.problem("%s of tag %s names batch %s, which does not exist", what, b.UID, b.BatchID)
	}
	if b.Outcome != manifest.Encoded && b.Outcome != manifest.Verified {
		rep.problem("%s of tag %s has outcome %q; only encoded and verified tags are bound", what, b.UID, b.Outcome)
	}
	if len(b.MasterKCV) > 16 {
		rep.problem("%s of tag %s holds a %d-byte master_kcv, which may be key material: inspect and wipe it", what, b.UID, len(b.MasterKCV)/2)
	}
}

// checkOutbox counts the outbox entries. Only when the journal is not
// sound, or the count is off, does it look up each entry's binding (see
// checkJournal for why that is enough).
func (c *journalCheck) checkOutbox(sound bool) {
	bk, rep := c.bk, c.rep
	_ = bk.outbox.ForEach(func(k, uid []byte) error {
		rep.OutboxEntries++
		if _, ok := keySeq(k); !ok {
			rep.problem("the outbox has a malformed key %x", k)
		}
		return nil
	})
	if n := rep.Bindings + rep.Superseded; !sound || rep.OutboxEntries != n {
		_ = bk.outbox.ForEach(func(k, uid []byte) error {
			if seq, ok := keySeq(k); ok {
				if _, err := recordAt(bk, seq, uid); err != nil {
					rep.problem("outbox entry %d (tag %s) leads to no binding", seq, uid)
				}
			}
			return nil
		})
	}
	if n := rep.Bindings + rep.Superseded; rep.OutboxEntries != n {
		rep.problem("the outbox has %d entries for %d bindings", rep.OutboxEntries, n)
	}
}

// checkIntents checks each open intent. A tag may hold both a binding and
// an intent only while it is being re-encoded.
func (c *journalCheck) checkIntents() {
	bk, rep := c.bk, c.rep
	_ = bk.intents.ForEach(func(k, v []byte) error {
		rep.OpenIntents++
		c.countOld(v)
		it, err := decodeIntent(v)
		if err != nil {
			rep.problem("intent of tag %s: %v", k, err)
			return nil
		}
		if it.UID != manifest.UID(k) {
			rep.problem("intent stored under tag %s says its tag is %s", k, it.UID)
		}
		if !c.known[it.BatchID] {
			rep.problem("intent of tag %s names batch %s, which does not exist", it.UID, it.BatchID)
		}
		if bk.bindings.Get(k) != nil && !it.Reencode {
			rep.problem("tag %s has both a binding and an open intent, and the intent is not a re-encode", k)
		}
		if len(it.MasterKCV) > 16 {
			rep.problem("intent of tag %s holds a %d-byte master_kcv, which may be key material: inspect and wipe it", k, len(it.MasterKCV)/2)
		}
		return nil
	})
}

// checkIndexes checks each batch's index: keys, range, and (when the
// bindings walk found a problem or the counts differ) that each entry leads
// to a binding of its batch.
func checkIndexes(bk txBuckets, rep *Report, sound bool, bound map[string]int) {
	_ = bk.index.ForEach(func(name, v []byte) error {
		idx := bk.index.Bucket(name)
		if idx == nil {
			rep.problem("the index holds a stray value under %q", name)
			return nil
		}
		if bk.batches.Get(name) == nil {
			rep.problem("an index exists for batch %s, which does not exist", name)
		}
		n := 0
		_ = idx.ForEach(func(k, uid []byte) error {
			seq, ok := keySeq(k)
			if !ok {
				rep.problem("index of batch %s has a malformed key %x", name, k)
				return nil
			}
			n++
			if seq == 0 || seq > rep.LastSeq {
				rep.problem("index of batch %s has entry %d beyond the last sequence number %d", name, seq, rep.LastSeq)
			}
			return nil
		})
		if sound && n == bound[string(name)] {
			return nil
		}
		return idx.ForEach(func(k, uid []byte) error {
			seq, ok := keySeq(k)
			if !ok {
				return nil
			}
			rec, err := recordAt(bk, seq, uid)
			if err != nil {
				rep.problem("index of batch %s, entry %d (tag %s): no such binding", name, seq, uid)
				return nil
			}
			if rec.BatchID != string(name) {
				rep.problem("index of batch %s, entry %d: tag %s was bound in batch %s", name, seq, uid, rec.BatchID)
			}
			return nil
		})
	})
}
