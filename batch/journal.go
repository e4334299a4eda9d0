package batch

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/tagline-station/tagline/manifest"
	bolt "go.etcd.io/bbolt"
)

// KeyState is what the caller of FailIntent knows about the tag's keys.
type KeyState int

const (
	// KeysUntouched: no ChangeKey reached the tag in this attempt, so it
	// holds whatever keys it had before.
	KeysUntouched KeyState = iota
	// KeysMayHaveChanged: a ChangeKey was sent, and the tag may now hold
	// some of the new keys.
	KeysMayHaveChanged
)

type txBuckets struct {
	meta, batches, bindings, index, intents, outbox, history, stats *bolt.Bucket
}

func buckets(tx *bolt.Tx) (txBuckets, error) {
	b := txBuckets{
		meta:     tx.Bucket(bktMeta),
		batches:  tx.Bucket(bktBatches),
		bindings: tx.Bucket(bktBindings),
		index:    tx.Bucket(bktIndex),
		intents:  tx.Bucket(bktIntents),
		outbox:   tx.Bucket(bktOutbox),
		history:  tx.Bucket(bktHistory),
		stats:    tx.Bucket(bktStats),
	}
	if b.meta == nil || b.batches == nil || b.bindings == nil || b.index == nil ||
		b.intents == nil || b.outbox == nil || b.history == nil || b.stats == nil {
		return b, fmt.Errorf("%w: a journal bucket is missing; run tagline check", ErrCorrupt)
	}
	return b, nil
}

// counters are the counts no record carries: tags the station reported
// failed (FailIntent, and CountOutcome for tags refused before an intent)
// and duplicates (BeginIntent's refusal, CountOutcome). Done and open
// intents are counted from the index and the intents (see Stats). The
// stats value is version 3: 0x03, failed and duplicates as big-endian
// uint64s, then the CRC-32C of the 17 bytes before it. Versions 1 and 2
// (0x01 and 0x02, then done, failed, duplicates and open intents; 2 adds
// the CRC) are still read; their done and open fields are not used.
type counters struct{ failed, dups uint64 }

const (
	countersV3   = 3
	countersLen  = 1 + 2*8
	oldCountsLen = 1 + 4*8
)

func getCounters(b *bolt.Bucket, id string) (counters, error) {
	v := b.Get([]byte(id))
	sealed := func(n int) bool {
		return len(v) == n+crcLen && crc32.Checksum(v[:n], castagnoli) == binary.BigEndian.Uint32(v[n:])
	}
	switch {
	case len(v) > 0 && v[0] > countersV3:
		return counters{}, fmt.Errorf("%w: counters of batch %s have encoding version %d; upgrade tagline", ErrFormat, id, v[0])
	case len(v) == countersLen+crcLen && v[0] == countersV3 && sealed(countersLen):
		return counters{failed: binary.BigEndian.Uint64(v[1:]), dups: binary.BigEndian.Uint64(v[9:])}, nil
	case len(v) == oldCountsLen && v[0] == recordV1, len(v) == oldCountsLen+crcLen && v[0] == recordV2 && sealed(oldCountsLen):
		return counters{failed: binary.BigEndian.Uint64(v[9:]), dups: binary.BigEndian.Uint64(v[17:])}, nil
	}
	return counters{}, fmt.Errorf("%w: unreadable counters of batch %s", ErrCorrupt, id)
}

func putCounters(b *bolt.Bucket, id string, c counters) error {
	v := make(encoder, countersLen, countersLen+crcLen)
	v[0] = countersV3
	binary.BigEndian.PutUint64(v[1:], c.failed)
	binary.BigEndian.PutUint64(v[9:], c.dups)
	return b.Put([]byte(id), v.sealed())
}

func updateCounters(b *bolt.Bucket, id string, fn func(*counters)) error {
	c, err := getCounters(b, id)
	if err != nil {
		return err
	}
	fn(&c)
	return putCounters(b, id, c)
}

func (s *Store) write(fn txFunc) error {
	if s.readOnly {
		return ErrReadOnly
	}
	return s.c.do(fn)
}

func getBatch(b txBuckets, id string) (Batch, error) {
	v := b.batches.Get([]byte(id))
	if v == nil {
		return Batch{}, fmt.Errorf("%w: %s; create it first or check the id (tagline batch list)", ErrNoBatch, id)
	}
	return decodeBatch(v)
}

// CreateBatch records a new open batch and returns it as stored. An empty
// ID is filled in as YYYYMMDD-NNN from the clock and a journal-wide
// counter.
func (s *Store) CreateBatch(b Batch) (Batch, error) {
	if b.ID != "" {
		if err := validName("batch id", b.ID); err != nil {
			return Batch{}, err
		}
	}
	if err := validSKU(b.SKU, true); err != nil {
		return Batch{}, err
	}
	if err := validText("template", b.Template, 256, false); err != nil {
		return Batch{}, err
	}
	if err := validText("notes", b.Notes, 4096, false); err != nil {
		return Batch{}, err
	}
	if b.Target < 0 {
		return Batch{}, fmt.Errorf("%w: negative target %d", ErrInvalid, b.Target)
	}
	if b.KDF == "" {
		b.KDF = DefaultKDF
	}
	if !validKDF(b.KDF) {
		return Batch{}, fmt.Errorf("%w: key derivation %q; use %s or %s", ErrInvalid, b.KDF, KDFTagline, KDFSDMBackend)
	}
	now := s.now().UTC()
	var out Batch
	err := s.write(func(tx *bolt.Tx) error {
		bk, err := buckets(tx)
		if err != nil {
			return err
		}
		nb := b
		nb.Status, nb.CreatedAt, nb.ClosedAt = StatusOpen, now, time.Time{}
		if nb.ID == "" {
			n, err := bk.batches.NextSequence()
			if err != nil {
				return err
			}
			nb.ID = fmt.Sprintf("%s-%03d", now.Format("20060102"), n)
		}
		if bk.batches.Get([]byte(nb.ID)) != nil {
			return fmt.Errorf("%w: %s; pick another id", ErrBatchExists, nb.ID)
		}
		if err := bk.batches.Put([]byte(nb.ID), encodeBatch(&nb)); err != nil {
			return err
		}
		if _, err := bk.index.CreateBucket([]byte(nb.ID)); err != nil {
			return fmt.Errorf("%w: index of batch %s: %w", ErrCorrupt, nb.ID, err)
		}
		if err := putCounters(bk.stats, nb.ID, counters{}); err != nil {
			return err
		}
		out = nb
		return nil
	})
	return out, err
}

// GetBatch returns the batch or an error wrapping ErrNoBatch.
func (s *Store) GetBatch(id string) (Batch, error) {
	var out Batch
	err := s.view(func(tx *bolt.Tx) error {
		bk, err := buckets(tx)
		if err != nil {
			return err
		}
		out, err = getBatch(bk, id)
		return err
	})
	return out, err
}

// ListBatches returns all batches ordered by ID (which, for generated IDs,
// is creation order).
func (s *Store) ListBatches() ([]Batch, error) {
	var out []Batch
	err := s.view(func(tx *bolt.Tx) error {
		bk, err := buckets(tx)
		if err != nil {
			return err
		}
		return bk.batches.ForEach(func(_, v []byte) error {
			b, err := decodeBatch(v)
			out = append(out, b)
			return err
		})
	})
	return out, err
}

// CloseBatch stops a batch from taking new intents. Intents already open
// in it can still be completed or failed: refusing them would leave tags
// whose keys were changed without a record. Closing a closed batch is a
// no-op.
func (s *Store) CloseBatch(id string) error {
	now := s.now().UTC()
	return s.write(func(tx *bolt.Tx) error {
		bk, err := buckets(tx)
		if err != nil {
			return err
		}
		b, err := getBatch(bk, id)
		if err != nil || b.Status == StatusClosed {
			return err
		}
		b.Status, b.ClosedAt = StatusClosed, now
		return bk.batches.Put([]byte(id), encodeBatch(&b))
	})
}

// MarkSimulated marks a batch as encoded from the simulated reader. A
// batch that already holds bindings of real tags is refused
// (ErrMixedReaders), and a marked batch stays marked.
func (s *Store) MarkSimulated(id string) error {
	return s.write(func(tx *bolt.Tx) error {
		bk, err := buckets(tx)
		if err != nil {
			return err
		}
		b, err := getBatch(bk, id)
		if err != nil || b.Simulated {
			return err
		}
		if doneIn(bk, id) > 0 {
			return fmt.Errorf("%w: batch %s holds real tags", ErrMixedReaders, id)
		}
		b.Simulated = true
		return bk.batches.Put([]byte(id), encodeBatch(&b))
	})
}

// Stats returns the counters of a batch.
func (s *Store) Stats(id string) (BatchStats, error) {
	var out BatchStats
	err := s.view(func(tx *bolt.Tx) error {
		bk, err := buckets(tx)
		if err != nil {
			return err
		}
		b, err := getBatch(bk, id)
		if err != nil {
			return err
		}
		c, err := getCounters(bk.stats, id)
		if err != nil {
			return err
		}
		open, err := openIntentsOf(bk, id)
		if err != nil {
			return err
		}
		out = BatchStats{Done: doneIn(bk, id), Failed: int(c.failed), Duplicates: int(c.dups), OpenIntents: open, Target: b.Target}
		return nil
	})
	return out, err
}

// doneIn counts the batch's bindings, current and superseded: one index
// entry each. bbolt counts them from the page headers.
func doneIn(bk txBuckets, id string) int {
	idx := bk.index.Bucket([]byte(id))
	if idx == nil {
		return 0
	}
	return idx.Stats().KeyN
}

// openIntentsOf counts the batch's open intents. A station has few (the
// tags in flight and those awaiting recovery), so they are read, not
// counted ahead.
func openIntentsOf(bk txBuckets, id string) (int, error) {
	n := 0
	err := bk.intents.ForEach(func(_, v []byte) error {
		it, err := decodeIntent(v)
		if err == nil && it.BatchID == id {
			n++
		}
		return err
	})
	return n, err
}

// BeginIntent records, durably, that the station is about to change the
// keys of a tag. It returns only after the intent is committed and synced;
// the caller must not touch the tag before it returns nil.
//
// SKU and StationID default to the batch's and the store's; KeyVersion
// must equal the batch's. A tag that already has a binding is refused with
// a *DuplicateError (wrapping ErrDuplicate) unless Reencode is set. An
// intent already open for the same tag, batch and keys is resumed: its
// Attempts count goes up and StartedAt is kept.
func (s *Store) BeginIntent(it Intent) error {
	uid, err := NormalizeUID(it.UID)
	if err != nil {
		return err
	}
	it.UID = uid
	if it.MasterKCV, err = normalizeKCV(it.MasterKCV); err != nil {
		return err
	}
	if it.TemplateHash, err = normalizeTemplateHash(it.TemplateHash); err != nil {
		return err
	}
	if err := validName("batch id", it.BatchID); err != nil {
		return err
	}
	if it.StationID == "" {
		it.StationID = s.station
	}
	if err := validName("station id", it.StationID); err != nil {
		return err
	}
	if err := validSKU(it.SKU, false); err != nil {
		return err
	}
	now := s.now().UTC()
	if it.StartedAt.IsZero() {
		it.StartedAt = now
	}
	it.StartedAt = it.StartedAt.UTC()
	// Said now, while it is still only possible: the caller writes to the
	// tag next, and a station killed during that write records nothing.
	it.KeysMayHaveChanged, it.State, it.LastError = true, IntentInProgress, ""

	// A duplicate is counted in the commit that refuses it, so the
	// refusal is returned through dup rather than as fn's error (which
	// would roll the count back).
	var dup error
	err = s.write(func(tx *bolt.Tx) error {
		dup = nil
		bk, err := buckets(tx)
		if err != nil {
			return err
		}
		b, err := getBatch(bk, it.BatchID)
		if err != nil {
			return err
		}
		rec := it
		if rec.SKU == "" {
			rec.SKU = b.SKU
		}
		if rec.SKU != b.SKU {
			return fmt.Errorf("%w: tag %s: sku %q differs from batch %s's %q", ErrInvalid, uid, rec.SKU, b.ID, b.SKU)
		}
		if rec.KeyVersion != b.KeyVersion {
			return fmt.Errorf("%w: tag %s: key version %d differs from batch %s's %d", ErrInvalid, uid, rec.KeyVersion, b.ID, b.KeyVersion)
		}
		if err := sameMaster(bk, b, rec.MasterKCV); err != nil {
			return err
		}
		prev := bk.intents.Get([]byte(uid))
		if prev == nil && b.Status != StatusOpen {
			return fmt.Errorf("%w: batch %s was closed at %s; create a new batch for more tags", ErrBatchClosed, b.ID, b.ClosedAt.Format(time.RFC3339))
		}
		if prev != nil {
			p, err := decodeIntent(prev)
			if err != nil {
				return err
			}
			if p.BatchID != rec.BatchID || p.KeyVersion != rec.KeyVersion || p.MasterKCV != rec.MasterKCV {
				return fmt.Errorf("%w: tag %s has an open intent in batch %s (key version %d, kcv %s) since %s; complete or fail it first",
					ErrIntentOpen, uid, p.BatchID, p.KeyVersion, p.MasterKCV, p.StartedAt.Format(time.RFC3339))
			}
			// A resumed intent keeps what the earlier attempt knew.
			rec.StartedAt = p.StartedAt
			rec.Attempts = p.Attempts + 1
			rec.LastError = p.LastError
			rec.Reencode = rec.Reencode || p.Reencode
		} else {
			rec.Attempts = 1
		}
		if old := bk.bindings.Get([]byte(uid)); old != nil && !rec.Reencode {
			ob, err := decodeBinding(old)
			if err != nil {
				return err
			}
			dup = &DuplicateError{UID: uid, BatchID: ob.BatchID, Completed: ob.CompletedAt}
			return updateCounters(bk.stats, b.ID, func(c *counters) { c.dups++ })
		}
		return bk.intents.Put([]byte(uid), encodeIntent(&rec))
	})
	if err != nil {
		return err
	}
	return dup
}

// sameMaster refuses an intent whose master key differs from the one the
// batch's first binding was made with: a batch whose tags carry keys from
// two master keys would verify only in part at the backend. One seek and
// one read, so it costs nothing per tag.
func sameMaster(bk txBuckets, b Batch, kcv string) error {
	idx := bk.index.Bucket([]byte(b.ID))
	if idx == nil {
		return nil
	}
	_, uid := idx.Cursor().First()
	if uid == nil {
		return nil
	}
	raw := bk.bindings.Get(uid)
	if raw == nil {
		return nil
	}
	first, err := decodeBinding(raw)
	if err != nil {
		return err
	}
	// A first tag re-encoded into another batch since says nothing here.
	if first.BatchID == b.ID && first.MasterKCV != kcv {
		return fmt.Errorf("%w: batch %s was encoded with the master key of kcv %s, not %s; use that key or a new batch", ErrInvalid, b.ID, first.MasterKCV, kcv)
	}
	return nil
}

// Complete turns the open intent of b.UID into a binding, in one durable
// transaction: the intent is deleted, the binding written, and its
// sequence number appended to the batch index and the sync outbox. Call it
// only after the tag's new keys and files were read back.
//
// Empty fields of b are taken from the intent; fields that are set must
// agree with it. Seq, Attempts and StartedAt always come from the journal.
// Outcome must be OutcomeEncoded or OutcomeVerified; CompletedAt defaults
// to now.
func (s *Store) Complete(b manifest.Binding) error {
	b, err := s.checkBinding(b)
	if err != nil {
		return err
	}
	return s.write(func(tx *bolt.Tx) error {
		bk, err := buckets(tx)
		if err != nil {
			return err
		}
		raw := bk.intents.Get([]byte(b.UID))
		if raw == nil {
			return fmt.Errorf("%w %s; BeginIntent must be recorded before a tag's keys change", ErrNoIntent, b.UID)
		}
		it, err := decodeIntent(raw)
		if err != nil {
			return err
		}
		rec, err := bindingOfIntent(b, it)
		if err != nil {
			return err
		}
		if err := retire(bk, rec.UID, it.Reencode); err != nil {
			return err
		}
		if err := putBinding(bk, &rec); err != nil {
			return err
		}
		return bk.intents.Delete([]byte(rec.UID))
	})
}

// checkBinding normalises what Complete is given, before any transaction.
func (s *Store) checkBinding(b manifest.Binding) (manifest.Binding, error) {
	uid, err := NormalizeUID(b.UID)
	if err != nil {
		return b, err
	}
	b.UID = uid
	if !b.Outcome.Binds() {
		return b, fmt.Errorf("%w: tag %s: outcome %q; a binding records an encoded or verified tag, use FailIntent for failures", ErrInvalid, uid, b.Outcome)
	}
	if b.MasterKCV, err = normalizeKCV(b.MasterKCV); err != nil {
		return b, err
	}
	if b.TemplateHash, err = normalizeTemplateHash(b.TemplateHash); err != nil {
		return b, err
	}
	if b.CompletedAt.IsZero() {
		b.CompletedAt = s.now()
	}
	b.CompletedAt = b.CompletedAt.UTC()
	return b, nil
}

// bindingOfIntent is the record of b: what b leaves empty is the intent's,
// what it gives must agree with the intent, and the attempts and start
// time are the intent's.
func bindingOfIntent(b manifest.Binding, it Intent) (manifest.Binding, error) {
	rec := b
	for _, f := range []struct {
		name       string
		got        *string
		fromIntent string
	}{
		{"batch", &rec.BatchID, it.BatchID},
		{"sku", &rec.SKU, it.SKU},
		{"station", &rec.StationID, it.StationID},
		{"master_kcv", &rec.MasterKCV, it.MasterKCV},
		{"template_hash", &rec.TemplateHash, it.TemplateHash},
	} {
		if *f.got == "" {
			*f.got = f.fromIntent
		} else if *f.got != f.fromIntent {
			return rec, fmt.Errorf("%w: tag %s: %s %q differs from the intent's %q", ErrInvalid, b.UID, f.name, *f.got, f.fromIntent)
		}
	}
	// Version 0 is the factory version and never written by tagline,
	// so an unset KeyVersion is taken from the intent like the rest.
	if rec.KeyVersion == 0 {
		rec.KeyVersion = it.KeyVersion
	}
	if rec.KeyVersion != it.KeyVersion {
		return rec, fmt.Errorf("%w: tag %s: key version %d differs from the intent's %d", ErrInvalid, b.UID, rec.KeyVersion, it.KeyVersion)
	}
	rec.Attempts, rec.StartedAt = it.Attempts, it.StartedAt
	return rec, nil
}

// retire moves the tag's current binding to the history for a re-encode,
// and refuses a second binding otherwise.
func retire(bk txBuckets, uid manifest.UID, reencode bool) error {
	old := bk.bindings.Get([]byte(uid))
	if old == nil {
		return nil
	}
	ob, err := decodeBinding(old)
	if err != nil {
		return err
	}
	if !reencode {
		return &DuplicateError{UID: uid, BatchID: ob.BatchID, Completed: ob.CompletedAt}
	}
	return bk.history.Put(seqKey(ob.Seq), old)
}

// putBinding gives rec the next sequence number and writes it as the
// tag's current binding, with its batch's index entry and the outbox
// entry.
func putBinding(bk txBuckets, rec *manifest.Binding) error {
	seq, err := bk.outbox.NextSequence()
	if err != nil {
		return err
	}
	rec.Seq = seq
	v := encodeBinding(rec)
	idx := bk.index.Bucket([]byte(rec.BatchID))
	if idx == nil {
		return fmt.Errorf("%w: batch %s has no index", ErrCorrupt, rec.BatchID)
	}
	// Both logs only ever grow at the end; full pages keep them compact.
	idx.FillPercent, bk.outbox.FillPercent = 1, 1
	k := seqKey(seq)
	uid := []byte(rec.UID)
	if err := bk.bindings.Put(uid, v); err != nil {
		return err
	}
	if err := idx.Put(k, uid); err != nil {
		return err
	}
	return bk.outbox.Put(k, uid)
}

// FailIntent records a failed attempt on a tag. With KeysUntouched on the
// intent's first attempt, and no failure after a write recorded before,
// the intent is removed, since the tag still holds its old keys. Otherwise
// the intent stays open, marked IntentFailed, for recovery: with
// KeysMayHaveChanged this attempt may have written keys, and an earlier
// attempt (Attempts > 1) may have, even if the station that made it was
// killed before it could say so.
func (s *Store) FailIntent(uid manifest.UID, reason string, keys KeyState) error {
	u, err := NormalizeUID(uid)
	if err != nil {
		return err
	}
	reason = clipReason(reason)
	return s.write(func(tx *bolt.Tx) error {
		bk, err := buckets(tx)
		if err != nil {
			return err
		}
		raw := bk.intents.Get([]byte(u))
		if raw == nil {
			return fmt.Errorf("%w %s", ErrNoIntent, u)
		}
		it, err := decodeIntent(raw)
		if err != nil {
			return err
		}
		keep := keys == KeysMayHaveChanged || it.Attempts > 1 || it.State == IntentFailed
		if keep {
			it.State = IntentFailed
			it.LastError = reason
			if err := bk.intents.Put([]byte(u), encodeIntent(&it)); err != nil {
				return err
			}
		} else if err := bk.intents.Delete([]byte(u)); err != nil {
			return err
		}
		return updateCounters(bk.stats, it.BatchID, func(c *counters) { c.failed++ })
	})
}

// CountOutcome counts a tag of the batch that the station failed
// (OutcomeFailed) or refused as already encoded (OutcomeDuplicate) before
// it recorded an intent for it: a foreign tag, a refused authentication, a
// tag found bound when it was read. FailIntent and BeginIntent count the
// tags that reached the journal, so that BatchStats counts every failed and
// duplicate tag once, as the station's screen does. Nothing else records
// such tags (they carry no binding and no intent), so their counts cannot
// be derived from records and are kept as counters.
func (s *Store) CountOutcome(batchID string, o manifest.Outcome) error {
	if o != manifest.Failed && o != manifest.Duplicate {
		return fmt.Errorf("%w: outcome %q; count failed or duplicate tags", ErrInvalid, o)
	}
	return s.write(func(tx *bolt.Tx) error {
		bk, err := buckets(tx)
		if err != nil {
			return err
		}
		if _, err := getBatch(bk, batchID); err != nil {
			return err
		}
		return updateCounters(bk.stats, batchID, func(c *counters) {
			if o == manifest.Failed {
				c.failed++
			} else {
				c.dups++
			}
		})
	})
}

// OpenIntents lists the intents a restarted station must resolve, ordered
// by UID.
func (s *Store) OpenIntents() ([]Intent, error) {
	var out []Intent
	err := s.view(func(tx *bolt.Tx) error {
		bk, err := buckets(tx)
		if err != nil {
			return err
		}
		return bk.intents.ForEach(func(_, v []byte) error {
			it, err := decodeIntent(v)
			out = append(out, it)
			return err
		})
	})
	return out, err
}

// HasIntent reports whether an intent is open for a tag: one lookup, for
// a station deciding whether a half-done tag is its own.
func (s *Store) HasIntent(uid manifest.UID) (bool, error) {
	u, err := NormalizeUID(uid)
	if err != nil {
		return false, err
	}
	var found bool
	err = s.view(func(tx *bolt.Tx) error {
		bk, err := buckets(tx)
		if err != nil {
			return err
		}
		found = bk.intents.Get([]byte(u)) != nil
		return nil
	})
	return found, err
}

// Lookup returns the current binding of a tag.
func (s *Store) Lookup(uid manifest.UID) (manifest.Binding, bool, error) {
	u, err := NormalizeUID(uid)
	if err != nil {
		return manifest.Binding{}, false, err
	}
	var out manifest.Binding
	var found bool
	err = s.view(func(tx *bolt.Tx) error {
		bk, err := buckets(tx)
		if err != nil {
			return err
		}
		v := bk.bindings.Get([]byte(u))
		if v == nil {
			return nil
		}
		found = true
		out, err = decodeBinding(v)
		return err
	})
	return out, found, err
}

// Superseded returns the earlier bindings of a re-encoded tag, oldest
// first. It scans the history bucket, which only re-encodes fill.
func (s *Store) Superseded(uid manifest.UID) ([]manifest.Binding, error) {
	u, err := NormalizeUID(uid)
	if err != nil {
		return nil, err
	}
	var out []manifest.Binding
	err = s.view(func(tx *bolt.Tx) error {
		bk, err := buckets(tx)
		if err != nil {
			return err
		}
		return bk.history.ForEach(func(_, v []byte) error {
			b, err := decodeBinding(v)
			if err == nil && b.UID == u {
				out = append(out, b)
			}
			return err
		})
	})
	return out, err
}

// recordAt returns the binding written with seq for uid: the current one,
// or the one a re-encode moved to history. Records never change once
// written, which is what makes exports and the outbox repeatable.
func recordAt(bk txBuckets, seq uint64, uid []byte) (manifest.Binding, error) {
	if v := bk.bindings.Get(uid); v != nil {
		b, err := decodeBinding(v)
		if err != nil {
			return b, err
		}
		if b.Seq == seq {
			return b, nil
		}
	}
	v := bk.history.Get(seqKey(seq))
	if v == nil {
		return manifest.Binding{}, fmt.Errorf("%w: entry %d names tag %s, which has no binding with that sequence number; run tagline check", ErrCorrupt, seq, uid)
	}
	b, err := decodeBinding(v)
	if err == nil && b.UID != manifest.UID(uid) {
		err = fmt.Errorf("%w: entry %d names tag %s, but the record is for %s", ErrCorrupt, seq, uid, b.UID)
	}
	return b, err
}
