package batch

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/tagline-station/tagline/manifest"
	bolt "go.etcd.io/bbolt"
)

// The outbox is the journal's log of bindings in sequence order, for the
// sync to a remote. Entries are kept after acknowledgement (they are a few
// dozen bytes each); only the cursor synced_upto moves.

// The cursor is stored as the big-endian seq and the CRC-32C of those 8
// bytes, so that a damaged byte cannot move it, silently, past bindings the
// remote never got. Journals written before keep a bare 8-byte seq, which
// is still read.
func readCursor(bk txBuckets) (uint64, error) {
	v := bk.meta.Get(keySyncedUpto)
	if len(v) == 8+crcLen {
		if crc32.Checksum(v[:8], castagnoli) != binary.BigEndian.Uint32(v[8:]) {
			return 0, fmt.Errorf("%w: the sync cursor fails its checksum", ErrCorrupt)
		}
		v = v[:8]
	}
	seq, ok := keySeq(v)
	if !ok {
		return 0, fmt.Errorf("%w: unreadable sync cursor", ErrCorrupt)
	}
	return seq, nil
}

func cursorValue(seq uint64) []byte {
	v := seqKey(seq)
	return binary.BigEndian.AppendUint32(v, crc32.Checksum(v, castagnoli))
}

// Pending returns up to limit bindings that the remote has not
// acknowledged, in sequence order. Re-encoded tags appear once per
// binding; the later sequence number is the current one.
func (s *Store) Pending(limit int) ([]manifest.Binding, error) {
	return s.pendingAfter(nil, limit)
}

// PendingAfter is Pending from seq after on, whatever the remote
// acknowledged: tagline sync --resend sends everything again with it.
func (s *Store) PendingAfter(after uint64, limit int) ([]manifest.Binding, error) {
	return s.pendingAfter(&after, limit)
}

func (s *Store) pendingAfter(after *uint64, limit int) ([]manifest.Binding, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("%w: pending limit must be positive", ErrInvalid)
	}
	var out []manifest.Binding
	err := s.view(func(tx *bolt.Tx) error {
		bk, err := buckets(tx)
		if err != nil {
			return err
		}
		var from uint64
		if after != nil {
			from = *after
		} else if from, err = readCursor(bk); err != nil {
			return err
		}
		simulated := map[string]bool{}
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
			sim, seen := simulated[b.BatchID]
			if !seen {
				bt, err := getBatch(bk, b.BatchID)
				if err != nil {
					return fmt.Errorf("%w: binding %d names batch %s: %w", ErrCorrupt, seq, b.BatchID, err)
				}
				sim = bt.Simulated
				simulated[b.BatchID] = sim
			}
			b.Simulated = sim
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
		return bk.meta.Put(keySyncedUpto, cursorValue(seq))
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
