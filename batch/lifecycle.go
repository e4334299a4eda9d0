package batch

import (
	"errors"
	"fmt"
	"time"

	"github.com/tagline-station/tagline/internal/errkind"
	"github.com/tagline-station/tagline/manifest"
	bolt "go.etcd.io/bbolt"
)

// The life of a bound tag after personalisation: key rotation (rekey) and
// reclaim (reset to the factory state). Each has an operation record, the
// counterpart of a personalisation's intent: written durably before the
// first change to the tag and removed only in the transaction that records
// the outcome. The buckets are created by the first write that needs them,
// so journals written before them stay valid; a reader treats a missing
// bucket as empty.
var (
	bktOps        = []byte("ops")
	bktReclaimed  = []byte("reclaimed")
	bktQuarantine = []byte("quarantine")
)

// OpKind names a lifecycle operation.
type OpKind string

const (
	// OpRekey moves a tag's five keys to another key version of the same
	// master key.
	OpRekey OpKind = "rekey"
	// OpReset returns a tag to the factory state.
	OpReset OpKind = "reset"
)

// Errors of the lifecycle operations.
var (
	// ErrNotOurs: the journal holds no binding for the tag, so nothing
	// proves it ours; it was not touched.
	ErrNotOurs = errkind.New(errkind.Tag, "tag is not bound in this journal")
	// ErrReclaimed: the tag was reset to the factory state already.
	ErrReclaimed = errkind.New(errkind.Tag, "tag was reclaimed")
	// ErrOpOpen: another operation is open on the tag (a personalisation
	// intent, or a rekey or reset of other parameters).
	ErrOpOpen = errkind.New(errkind.Tag, "tag has an open operation")
	// ErrNoOp: CompleteRekey, CompleteReset or FailOp without an open
	// operation of that kind.
	ErrNoOp = errors.New("no open operation for tag")
)

// Op is an open rekey or reset of one bound tag. It is durable before the
// first change to the tag and says the tag may hold keys of FromVersion
// and of ToVersion (0, the factory key, for a reset) in any mix: the
// tag's key versions tell which slot holds which.
type Op struct {
	Kind        OpKind       `json:"kind"`
	UID         manifest.UID `json:"uid"`
	BatchID     string       `json:"batch_id"`
	StationID   string       `json:"station_id"`
	FromVersion byte         `json:"from_version"`
	ToVersion   byte         `json:"to_version"`
	MasterKCV   string       `json:"master_kcv"`
	StartedAt   time.Time    `json:"started_at"`
	Attempts    int          `json:"attempts"`
	State       IntentState  `json:"state"`
	LastError   string       `json:"last_error,omitempty"`
}

// Reclaim records that a bound tag was returned to the factory state. The
// binding stays (records never change); the reclaim says it no longer
// holds: the tag carries no key of ours.
type Reclaim struct {
	UID        manifest.UID `json:"uid"`
	BatchID    string       `json:"batch_id"`
	StationID  string       `json:"station_id"`
	Seq        uint64       `json:"seq"`         // the binding the reset ended
	KeyVersion byte         `json:"key_version"` // the version the tag held
	At         time.Time    `json:"at"`
}

// Quarantine records a tag presented for reclaim that the journal does not
// know: it was set aside untouched, no key tried.
type Quarantine struct {
	UID       manifest.UID `json:"uid"`
	StationID string       `json:"station_id"`
	Reason    string       `json:"reason"`
	At        time.Time    `json:"at"`
	Count     int          `json:"count"`
}

// BeginOp records, durably, that the station is about to rekey or reset a
// bound tag, and returns the stored operation. The binding is what proves
// the tag ours: without one, ErrNotOurs. FromVersion is taken from the
// binding; MasterKCV must be the binding's. An open operation of the same
// kind and target is resumed (Attempts+1); any other open operation, or a
// personalisation intent, is refused with ErrOpOpen.
func (s *Store) BeginOp(op Op) (Op, error) {
	uid, err := NormalizeUID(op.UID)
	if err != nil {
		return op, err
	}
	op.UID = uid
	if op.MasterKCV, err = normalizeKCV(op.MasterKCV); err != nil {
		return op, err
	}
	switch {
	case op.Kind == OpRekey && op.ToVersion == 0:
		return op, fmt.Errorf("%w: key version 0 is the factory version; rekey to 1 to 255 (reset returns a tag to the factory)", ErrInvalid)
	case op.Kind == OpReset:
		op.ToVersion = 0
	case op.Kind != OpRekey:
		return op, fmt.Errorf("%w: unknown operation %q", ErrInvalid, op.Kind)
	}
	if op.StationID == "" {
		op.StationID = s.station
	}
	if err := validName("station id", op.StationID); err != nil {
		return op, err
	}
	now := s.now().UTC()
	var rec Op
	err = s.write(func(tx *bolt.Tx) error {
		bk, err := buckets(tx)
		if err != nil {
			return err
		}
		ops, err := tx.CreateBucketIfNotExists(bktOps)
		if err != nil {
			return err
		}
		b, err := ownBinding(tx, bk, uid, op.BatchID, op.MasterKCV)
		if err != nil {
			return err
		}
		if bk.intents.Get([]byte(uid)) != nil {
			return fmt.Errorf("%w: tag %s has an open personalisation intent; present it to tagline encode to finish it first", ErrOpOpen, uid)
		}
		rec = op
		rec.BatchID, rec.FromVersion, rec.StartedAt, rec.Attempts = b.BatchID, b.KeyVersion, now, 1
		if prev := ops.Get([]byte(uid)); prev != nil {
			p, err := decodeOp(prev)
			if err != nil {
				return err
			}
			if p.Kind != op.Kind || p.ToVersion != op.ToVersion || p.MasterKCV != op.MasterKCV {
				return fmt.Errorf("%w: tag %s has an open %s to key version %d since %s; finish that first", ErrOpOpen, uid, p.Kind, p.ToVersion, p.StartedAt.Format(time.RFC3339))
			}
			rec.FromVersion, rec.StartedAt, rec.Attempts, rec.LastError = p.FromVersion, p.StartedAt, p.Attempts+1, p.LastError
		} else if op.Kind == OpRekey && b.KeyVersion == op.ToVersion {
			return fmt.Errorf("%w: tag %s is bound with key version %d already", ErrInvalid, uid, op.ToVersion)
		}
		rec.State = IntentInProgress
		return ops.Put([]byte(uid), encodeOp(&rec))
	})
	return rec, err
}

// ownBinding returns the binding that proves uid ours: in batchID (when
// set), with the master key of kcv, and not reclaimed since.
func ownBinding(tx *bolt.Tx, bk txBuckets, uid manifest.UID, batchID, kcv string) (manifest.Binding, error) {
	raw := bk.bindings.Get([]byte(uid))
	if raw == nil {
		return manifest.Binding{}, fmt.Errorf("%w: no binding for tag %s; it was not encoded by this station, and no key of it is tried", ErrNotOurs, uid)
	}
	b, err := decodeBinding(raw)
	if err != nil {
		return b, err
	}
	if batchID != "" && b.BatchID != batchID {
		return b, fmt.Errorf("%w: tag %s is bound in batch %s, not %s", ErrNotOurs, uid, b.BatchID, batchID)
	}
	if kcv != b.MasterKCV {
		return b, fmt.Errorf("%w: tag %s was bound with the master key of kcv %s, not %s; use that key", ErrNotOurs, uid, b.MasterKCV, kcv)
	}
	if rc := tx.Bucket(bktReclaimed); rc != nil {
		if v := rc.Get([]byte(uid)); v != nil {
			r, err := decodeReclaim(v)
			if err != nil {
				return b, err
			}
			if r.Seq == b.Seq {
				return b, fmt.Errorf("%w: tag %s was reset to the factory state at %s", ErrReclaimed, uid, r.At.Format(time.RFC3339))
			}
		}
	}
	return b, nil
}

// FailOp records a failed attempt of an open operation. With
// KeysUntouched on its first attempt the operation is removed: the tag
// holds what it held. Otherwise it stays open, marked failed, for the
// next presentation to finish.
func (s *Store) FailOp(uid manifest.UID, reason string, keys KeyState) error {
	u, err := NormalizeUID(uid)
	if err != nil {
		return err
	}
	reason = clipReason(reason)
	return s.write(func(tx *bolt.Tx) error {
		ops := tx.Bucket(bktOps)
		var raw []byte
		if ops != nil {
			raw = ops.Get([]byte(u))
		}
		if raw == nil {
			return fmt.Errorf("%w %s", ErrNoOp, u)
		}
		op, err := decodeOp(raw)
		if err != nil {
			return err
		}
		if keys == KeysUntouched && op.Attempts == 1 && op.State != IntentFailed {
			return ops.Delete([]byte(u))
		}
		op.State, op.LastError = IntentFailed, reason
		return ops.Put([]byte(u), encodeOp(&op))
	})
}

// takeOp reads and deletes the open operation of kind on uid.
func takeOp(tx *bolt.Tx, uid manifest.UID, kind OpKind) (Op, error) {
	ops := tx.Bucket(bktOps)
	var raw []byte
	if ops != nil {
		raw = ops.Get([]byte(uid))
	}
	if raw == nil {
		return Op{}, fmt.Errorf("%w %s", ErrNoOp, uid)
	}
	op, err := decodeOp(raw)
	if err != nil {
		return op, err
	}
	if op.Kind != kind {
		return op, fmt.Errorf("%w %s: the open operation is a %s", ErrNoOp, uid, op.Kind)
	}
	return op, ops.Delete([]byte(uid))
}

// CompleteRekey ends an open rekey once the tag's SUN message verified
// with the new keys: in one transaction the operation is removed and a
// new binding with the new key version replaces the current one, which
// moves to history as a re-encode's does. The new binding gets the next
// sequence number and goes to the batch index and the sync outbox, so the
// backend learns the tag's new key version from this station with a
// higher seq.
func (s *Store) CompleteRekey(uid manifest.UID, readCtr uint32, outcome manifest.Outcome) (manifest.Binding, error) {
	u, err := NormalizeUID(uid)
	if err != nil {
		return manifest.Binding{}, err
	}
	if outcome != manifest.Encoded && outcome != manifest.Verified {
		return manifest.Binding{}, fmt.Errorf("%w: tag %s: outcome %q", ErrInvalid, u, outcome)
	}
	now := s.now().UTC()
	var rec manifest.Binding
	err = s.write(func(tx *bolt.Tx) error {
		bk, err := buckets(tx)
		if err != nil {
			return err
		}
		op, err := takeOp(tx, u, OpRekey)
		if err != nil {
			return err
		}
		old, err := ownBinding(tx, bk, u, op.BatchID, op.MasterKCV)
		if err != nil {
			return err
		}
		rec = old
		rec.KeyVersion, rec.StationID, rec.Outcome, rec.ReadCtr = op.ToVersion, op.StationID, outcome, readCtr
		rec.Attempts, rec.StartedAt, rec.CompletedAt = op.Attempts, op.StartedAt, now
		return supersede(bk, old, &rec)
	})
	return rec, err
}

// supersede moves old to history and writes rec as the current binding.
func supersede(bk txBuckets, old manifest.Binding, rec *manifest.Binding) error {
	if err := bk.history.Put(seqKey(old.Seq), bk.bindings.Get([]byte(old.UID))); err != nil {
		return err
	}
	return putBinding(bk, rec)
}

// CompleteReset ends an open reset once the tag was read back in the
// factory state: the operation is removed and a reclaim recorded, in one
// transaction.
func (s *Store) CompleteReset(uid manifest.UID) (Reclaim, error) {
	u, err := NormalizeUID(uid)
	if err != nil {
		return Reclaim{}, err
	}
	now := s.now().UTC()
	var r Reclaim
	err = s.write(func(tx *bolt.Tx) error {
		bk, err := buckets(tx)
		if err != nil {
			return err
		}
		op, err := takeOp(tx, u, OpReset)
		if err != nil {
			return err
		}
		b, err := ownBinding(tx, bk, u, op.BatchID, op.MasterKCV)
		if err != nil {
			return err
		}
		rc, err := tx.CreateBucketIfNotExists(bktReclaimed)
		if err != nil {
			return err
		}
		r = Reclaim{UID: u, BatchID: b.BatchID, StationID: op.StationID, Seq: b.Seq, KeyVersion: op.FromVersion, At: now}
		return rc.Put([]byte(u), encodeReclaim(&r))
	})
	return r, err
}

// QuarantineTag records a tag set aside untouched because the journal
// cannot prove it ours. A tag presented again counts up.
func (s *Store) QuarantineTag(uid manifest.UID, reason string) (Quarantine, error) {
	u, err := NormalizeUID(uid)
	if err != nil {
		return Quarantine{}, err
	}
	q := Quarantine{UID: u, StationID: s.station, Reason: clipReason(reason), At: s.now().UTC(), Count: 1}
	err = s.write(func(tx *bolt.Tx) error {
		qb, err := tx.CreateBucketIfNotExists(bktQuarantine)
		if err != nil {
			return err
		}
		q.Count = 1
		if prev := qb.Get([]byte(u)); prev != nil {
			p, err := decodeQuarantine(prev)
			if err != nil {
				return err
			}
			q.Count = p.Count + 1
		}
		return qb.Put([]byte(u), encodeQuarantine(&q))
	})
	return q, err
}

// LookupOp returns the open rekey or reset of a tag.
func (s *Store) LookupOp(uid manifest.UID) (Op, bool, error) {
	var op Op
	var found bool
	err := s.lookupIn(bktOps, uid, func(v []byte) (err error) {
		found = true
		op, err = decodeOp(v)
		return err
	})
	return op, found, err
}

// Reclaimed returns the reclaim of a tag whose current binding it ended.
func (s *Store) Reclaimed(uid manifest.UID) (Reclaim, bool, error) {
	var r Reclaim
	var found bool
	err := s.lookupIn(bktReclaimed, uid, func(v []byte) (err error) {
		found = true
		r, err = decodeReclaim(v)
		return err
	})
	if err != nil || !found {
		return r, false, err
	}
	b, ok, err := s.Lookup(uid)
	if err != nil || !ok || b.Seq != r.Seq {
		return r, false, err
	}
	return r, true, nil
}

// OpenOps lists the open rekeys and resets, in UID order.
func (s *Store) OpenOps() ([]Op, error) {
	var out []Op
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktOps)
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			op, err := decodeOp(v)
			out = append(out, op)
			return err
		})
	})
	return out, err
}

func (s *Store) lookupIn(bucket []byte, uid manifest.UID, fn func([]byte) error) error {
	u, err := NormalizeUID(uid)
	if err != nil {
		return err
	}
	return s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if b == nil {
			return nil
		}
		if v := b.Get([]byte(u)); v != nil {
			return fn(v)
		}
		return nil
	})
}

// checkLifecycle checks the lifecycle records: each names a tag with a
// binding, in the binding's batch.
func checkLifecycle(tx *bolt.Tx, bk txBuckets, rep *Report) {
	if ops := tx.Bucket(bktOps); ops != nil {
		_ = ops.ForEach(func(k, v []byte) error {
			op, err := decodeOp(v)
			if err != nil {
				rep.problem("operation on tag %s: %v", k, err)
				return nil
			}
			if op.UID != manifest.UID(k) {
				rep.problem("operation stored under tag %s says its tag is %s", k, op.UID)
			}
			checkBound(bk, rep, "open "+string(op.Kind), op.UID, op.BatchID)
			return nil
		})
	}
	if rc := tx.Bucket(bktReclaimed); rc != nil {
		_ = rc.ForEach(func(k, v []byte) error {
			r, err := decodeReclaim(v)
			if err != nil {
				rep.problem("reclaim of tag %s: %v", k, err)
				return nil
			}
			checkBound(bk, rep, "reclaim", r.UID, r.BatchID)
			return nil
		})
	}
	if q := tx.Bucket(bktQuarantine); q != nil {
		_ = q.ForEach(func(k, v []byte) error {
			if _, err := decodeQuarantine(v); err != nil {
				rep.problem("quarantine of tag %s: %v", k, err)
			}
			return nil
		})
	}
}

func checkBound(bk txBuckets, rep *Report, what string, uid manifest.UID, batchID string) {
	raw := bk.bindings.Get([]byte(uid))
	if raw == nil {
		rep.problem("%s of tag %s: the tag has no binding", what, uid)
		return
	}
	if b, err := decodeBinding(raw); err == nil && b.BatchID != batchID {
		rep.problem("%s of tag %s names batch %s, the binding batch %s", what, uid, batchID, b.BatchID)
	}
}

func encodeOp(op *Op) []byte {
	r := writer(recordV2, 128)
	opLayout(&r, op)
	return r.sealed()
}

func decodeOp(data []byte) (op Op, err error) {
	r := reader("operation", data, recordV2)
	opLayout(&r, &op)
	return op, r.done()
}

// The operation's flags: bit 0 failed, as an intent's. Unknown flags are
// refused after the other fields, as they always were.
func opLayout(r *rec, op *Op) {
	text(r, &op.Kind)
	text(r, &op.UID)
	r.str(&op.BatchID, &op.StationID)
	r.byte1(&op.FromVersion, &op.ToVersion)
	r.str(&op.MasterKCV)
	r.time(&op.StartedAt)
	r.int(&op.Attempts)
	flagsErr := r.stateFlags("operation", &op.State)
	r.str(&op.LastError)
	if r.reading && r.ok() && op.Kind != OpRekey && op.Kind != OpReset {
		r.fail(fmt.Errorf("unknown operation %q", op.Kind))
	}
	r.fail(flagsErr)
}

func encodeReclaim(rc *Reclaim) []byte {
	r := writer(recordV2, 64)
	reclaimLayout(&r, rc)
	return r.sealed()
}

func decodeReclaim(data []byte) (rc Reclaim, err error) {
	r := reader("reclaim", data, recordV2)
	reclaimLayout(&r, &rc)
	return rc, r.done()
}

func reclaimLayout(r *rec, rc *Reclaim) {
	text(r, &rc.UID)
	r.str(&rc.BatchID, &rc.StationID)
	r.uvarint(&rc.Seq)
	r.byte1(&rc.KeyVersion)
	r.time(&rc.At)
}

func encodeQuarantine(q *Quarantine) []byte {
	r := writer(recordV2, 64)
	quarantineLayout(&r, q)
	return r.sealed()
}

func decodeQuarantine(data []byte) (q Quarantine, err error) {
	r := reader("quarantine", data, recordV2)
	quarantineLayout(&r, &q)
	return q, r.done()
}

func quarantineLayout(r *rec, q *Quarantine) {
	text(r, &q.UID)
	r.str(&q.StationID, &q.Reason)
	r.time(&q.At)
	r.int(&q.Count)
}
