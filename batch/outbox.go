package batch

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The outbox is the journal's log of bindings in sequence order, for the
// sync to a remote. Entries are kept after acknowledgement (they are a few
// dozen bytes each); only the cursor synced_upto moves.

func readCursor(bk txBuckets) (uint64, error) {
	v, ok := keySeq(bk.meta.Get(keySyncedUpto))
	if !ok {
		return 0, fmt.Errorf("%w: unreadable sync cursor", ErrCorrupt)
	}
	return v, nil
}

// Pending returns up to limit bindings that the remote has not
// acknowledged, in sequence order. Re-encoded tags appear once per
// binding; the later sequence number is the current one.
func (s *Store) Pending(limit int) ([]Binding, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("%w: pending limit must be positive", ErrInvalid)
	}
	var out []Binding
	err := s.view(func(tx *bolt.Tx) error {
		bk, err := buckets(tx)
		if err != nil {
			return err
		}
		from, err := readCursor(bk)
		if err != nil {
			return err
		}
		c := bk.outbox.Cursor()
		for k, v := c.Seek(seqKey(from + 1)); k != nil && len(out) < limit; k, v = c.Next() {
			seq, ok := keySeq(k)
			if !ok {
				return fmt.Errorf("%w: malformed outbox key %x", ErrCorrupt, k)
			}
			b, err := recordAt(bk, seq, v)
			if err != nil {
				return err
			}
			out = append(out, b)
		}
		return nil
	})
	return out, err
}

// Ack records, durably, that the remote holds every binding up to and
// including seq. The cursor never moves back: an older acknowledgement
// (a retry, a reordered reply) is accepted and changes nothing. A seq past
// the last binding is refused with ErrAckBeyond.
func (s *Store) Ack(seq uint64) error {
	return s.write(func(tx *bolt.Tx) error {
		bk, err := buckets(tx)
		if err != nil {
			return err
		}
		cur, err := readCursor(bk)
		if err != nil {
			return err
		}
		if seq <= cur {
			return nil
		}
		if last := bk.outbox.Sequence(); seq > last {
			return fmt.Errorf("%w: ack %d but the last binding is %d; is the remote talking about another station's journal?", ErrAckBeyond, seq, last)
		}
		return bk.meta.Put(keySyncedUpto, seqKey(seq))
	})
}

// SyncState returns the acknowledged cursor and the last sequence number
// assigned; the difference is what a sync still has to send.
func (s *Store) SyncState() (syncedUpto, last uint64, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		bk, err := buckets(tx)
		if err != nil {
			return err
		}
		syncedUpto, err = readCursor(bk)
		last = bk.outbox.Sequence()
		return err
	})
	return syncedUpto, last, err
}
