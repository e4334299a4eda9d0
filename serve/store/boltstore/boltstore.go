package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/tagline-station/tagline/serve/store"
)

var (
	bMeta     = []byte("meta")
	bBindings = []byte("bindings")
	bCtr      = []byte("ctr")
	bRecords  = []byte("records")
	bStations = []byte("stations")
	bIdem     = []byte("idem")
	bConflict = []byte("conflicts")
	magic     = []byte("tagline-serve")
)

// ErrForeign: the file is a bbolt file of something else.
var ErrForeign = errors.New("not a tagline serve database")

// Options tune Open.
type Options struct {
	// LockTimeout bounds the wait for another process holding the file
	// (default 2s).
	LockTimeout time.Duration
	// MaxBatchSize and MaxBatchDelay set bbolt's Batch, which commits the
	// accepted taps together (defaults 256 and 1ms). A commit costs two
	// fdatasyncs whatever it carries, so taps wait up to MaxBatchDelay for
	// company; MaxBatchSize is well above the taps one instance has in
	// flight, so a batch is cut by the delay, not by its size.
	MaxBatchSize  int
	MaxBatchDelay time.Duration
	// Now stamps conflicts (default time.Now).
	Now func() time.Time
}

// Store is a store.Store over one bbolt file.
type Store struct {
	db  *bolt.DB
	now func() time.Time

	commits, taps atomic.Uint64
	lastTx        *bolt.Tx // the last write transaction counted in commits
}

// Open opens or creates the database at path, and folds in the tap log of
// an earlier release if one is next to it.
func Open(path string, opts Options) (*Store, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = 2 * time.Second
	}
	if opts.MaxBatchSize <= 0 {
		opts.MaxBatchSize = 256
	}
	if opts.MaxBatchDelay <= 0 {
		opts.MaxBatchDelay = time.Millisecond
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.LockTimeout})
	if err != nil {
		return nil, fmt.Errorf("serve store %s: %w", path, err)
	}
	db.MaxBatchSize, db.MaxBatchDelay = opts.MaxBatchSize, opts.MaxBatchDelay
	if err := db.Update(initBuckets); err != nil {
		db.Close()
		return nil, fmt.Errorf("serve store %s: %w", path, err)
	}
	if err := foldOldTapLog(db, path+".taplog"); err != nil {
		db.Close()
		return nil, fmt.Errorf("serve store %s: the tap log of an earlier release: %w; "+
			"open it once with the release that wrote it, or remove it to lose the counters it holds", path, err)
	}
	return &Store{db: db, now: opts.Now}, nil
}

// initBuckets checks the file is ours and adds what is missing.
func initBuckets(tx *bolt.Tx) error {
	meta := tx.Bucket(bMeta)
	if meta == nil {
		if err := tx.ForEach(func([]byte, *bolt.Bucket) error { return ErrForeign }); err != nil {
			return err
		}
		var err error
		if meta, err = tx.CreateBucket(bMeta); err != nil {
			return err
		}
		if err := meta.Put([]byte("magic"), magic); err != nil {
			return err
		}
		if err := meta.Put([]byte("format"), []byte("1")); err != nil {
			return err
		}
	}
	if !bytes.Equal(meta.Get([]byte("magic")), magic) {
		return ErrForeign
	}
	if f := string(meta.Get([]byte("format"))); f != "1" {
		return fmt.Errorf("%w: format %q, this tagline reads 1", ErrForeign, f)
	}
	for _, b := range [][]byte{bBindings, bCtr, bRecords, bStations, bIdem, bConflict} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	return nil
}

// raiseCounter sets the last accepted counter of uid to c unless it is
// already at least c: counters only go up.
func raiseCounter(tx *bolt.Tx, uid string, c uint32) error {
	ctrs := tx.Bucket(bCtr)
	if v := ctrs.Get([]byte(uid)); len(v) == 4 && binary.BigEndian.Uint32(v) >= c {
		return nil
	}
	return ctrs.Put([]byte(uid), binary.BigEndian.AppendUint32(nil, c))
}

// Close closes the file; every Tap that returned is already durable.
func (s *Store) Close() error { return s.db.Close() }

// Ping checks the file can be read.
func (s *Store) Ping(context.Context) error {
	return s.view(func(tx *bolt.Tx) error {
		if tx.Bucket(bMeta) == nil {
			return ErrForeign
		}
		return nil
	})
}

// view is db.View with a closed database reported as store.ErrClosed.
func (s *Store) view(fn func(*bolt.Tx) error) error { return closed(s.db.View(fn)) }

func closed(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return store.ErrClosed
	}
	return err
}

// Stats reports the bbolt commits that carried accepted taps and the taps
// they carried.
func (s *Store) Stats() (commits, taps uint64) {
	return s.commits.Load(), s.taps.Load()
}

// Lookup returns the current binding of uid and its last accepted counter.
func (s *Store) Lookup(_ context.Context, uid string) (b store.Binding, last uint32, ok bool, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		b, last, ok, err = get(tx, uid)
		return err
	})
	return b, last, ok, err
}

func get(tx *bolt.Tx, uid string) (store.Binding, uint32, bool, error) {
	v := tx.Bucket(bBindings).Get([]byte(uid))
	if v == nil {
		return store.Binding{}, 0, false, nil
	}
	b, err := decodeBinding(v)
	if err != nil {
		return b, 0, false, fmt.Errorf("binding of %s: %w", uid, err)
	}
	var last uint32
	if c := tx.Bucket(bCtr).Get([]byte(uid)); len(c) == 4 {
		last = binary.BigEndian.Uint32(c)
	}
	return b, last, true, nil
}

// decide is the tap rule, on one consistent view.
func decide(b store.Binding, last uint32, ok bool, ctr uint32, kv byte) store.Tap {
	switch {
	case !ok:
		return store.Tap{Result: store.Unknown}
	case b.KeyVersion != kv:
		return store.Tap{Result: store.OtherKeyVersion, Binding: b, LastCtr: last}
	case ctr <= last:
		return store.Tap{Result: store.Replayed, Binding: b, LastCtr: last}
	}
	return store.Tap{Result: store.Accepted, Binding: b, LastCtr: ctr}
}

// Tap implements store.Store.
func (s *Store) Tap(_ context.Context, uid string, ctr uint32, kv byte) (store.Tap, error) {
	var res store.Tap
	// The pre-check, in a read-only transaction, only ever rejects: the
	// last accepted counter never decreases, so a rejection from a view
	// a commit behind is still right, and costs no write.
	err := s.view(func(tx *bolt.Tx) error {
		b, last, ok, err := get(tx, uid)
		res = decide(b, last, ok, ctr, kv)
		return err
	})
	if err != nil || res.Result != store.Accepted {
		return res, err
	}
	// The decision proper, in the writer transaction that stores it. bbolt
	// runs fn again, in a new transaction, if another call of its batch
	// fails, so fn decides afresh each time and counts only on commit.
	err = s.db.Batch(func(tx *bolt.Tx) error {
		b, last, ok, err := get(tx, uid)
		if err != nil {
			return err
		}
		res = decide(b, last, ok, ctr, kv)
		if res.Result != store.Accepted {
			return nil
		}
		s.countCommit(tx)
		return raiseCounter(tx, uid, ctr)
	})
	if err != nil {
		return store.Tap{}, fmt.Errorf("committing a tap: %w", closed(err))
	}
	return res, nil
}

// countCommit counts an accepted tap, and its transaction once, when the
// transaction commits. It runs inside the one writer transaction, so
// lastTx needs no lock; it is compared by pointer, as a batch run again
// after a failure gets a new Tx with the same ID.
func (s *Store) countCommit(tx *bolt.Tx) {
	tx.OnCommit(func() { s.taps.Add(1) })
	if tx != s.lastTx {
		s.lastTx = tx
		tx.OnCommit(func() { s.commits.Add(1) })
	}
}

// ApplySync implements store.Store.
func (s *Store) ApplySync(_ context.Context, up store.Upload) (store.Applied, error) {
	var res store.Applied
	c := up.Chunk
	hash, err := hexSum(up.BodySHA256)
	if err != nil {
		return res, err
	}
	now := s.now().UTC()
	err = s.db.Update(func(tx *bolt.Tx) error {
		res = store.Applied{}
		idem := tx.Bucket(bIdem)
		if v := idem.Get([]byte(up.Key)); v != nil {
			if len(v) < 32 || !bytes.Equal(v[:32], hash) {
				return store.ErrIdempotencyConflict
			}
			res.Replayed = true
			return json.Unmarshal(v[32:], &res.Ack)
		}
		ack := &res.Ack
		*ack = store.SyncAck{Station: c.Station, AckedSeq: c.NextSince, Count: len(c.Records)}
		recs := tx.Bucket(bRecords)
		key := make([]byte, 0, len(c.Station)+9)
		for i := range c.Records {
			r := &c.Records[i]
			key = binary.BigEndian.AppendUint64(append(append(key[:0], c.Station...), 0), r.Seq)
			if recs.Get(key) == nil {
				if err := recs.Put(key, r.Line); err != nil {
					return err
				}
				ack.New++
			}
			in := store.FromRecord(r)
			applied, conflict, err := bindRecord(tx, &in, key, now)
			if err != nil {
				return err
			}
			if applied {
				ack.Bindings++
			}
			if conflict != nil {
				res.Conflicts = append(res.Conflicts, *conflict)
			}
		}
		ack.Conflicts = len(res.Conflicts)
		st := tx.Bucket(bStations)
		var hw uint64
		if v := st.Get([]byte(c.Station)); len(v) == 8 {
			hw = binary.BigEndian.Uint64(v)
		}
		if c.NextSince > hw {
			if err := st.Put([]byte(c.Station), binary.BigEndian.AppendUint64(nil, c.NextSince)); err != nil {
				return err
			}
		}
		js, err := json.Marshal(ack)
		if err != nil {
			return err
		}
		return idem.Put([]byte(up.Key), append(append([]byte(nil), hash...), js...))
	})
	if err != nil {
		return store.Applied{}, closed(err)
	}
	return res, nil
}

// bindRecord applies one record to its UID's binding (store invariant 4):
// it binds it, leaves things as they are, or keeps it as a conflict under
// key (its station and seq) once.
func bindRecord(tx *bolt.Tx, in *store.Binding, key []byte, now time.Time) (applied bool, conflict *store.ConflictRecord, err error) {
	binds := tx.Bucket(bBindings)
	if v := binds.Get([]byte(in.UID)); v != nil {
		cur, err := decodeBinding(v)
		if err != nil {
			return false, nil, fmt.Errorf("binding of %s: %w", in.UID, err)
		}
		switch store.Classify(in, &cur) {
		case store.Keep:
			return false, nil, nil
		case store.Conflict:
			return false, &store.ConflictRecord{Record: *in, Bound: cur, DetectedAt: now}, keepConflict(tx, key, in, &cur, now)
		}
	}
	if err := binds.Put([]byte(in.UID), encodeBinding(nil, in)); err != nil {
		return false, nil, err
	}
	// A new or replacing binding never lowers the last accepted counter;
	// it raises it to the counter the station saw.
	return true, nil, raiseCounter(tx, in.UID, in.ReadCtr)
}

// keepConflict stores a conflict once by its record's station and seq: a
// record delivered again keeps the first detection.
func keepConflict(tx *bolt.Tx, key []byte, in, cur *store.Binding, now time.Time) error {
	b := tx.Bucket(bConflict)
	if b.Get(key) != nil {
		return nil
	}
	js, err := json.Marshal(store.ConflictRecord{Record: *in, Bound: *cur, DetectedAt: now})
	if err != nil {
		return err
	}
	return b.Put(key, js)
}

// Conflicts implements store.Store.
func (s *Store) Conflicts(_ context.Context, limit int) ([]store.ConflictRecord, int, error) {
	var out []store.ConflictRecord
	total := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bConflict)
		total = b.Stats().KeyN
		if limit <= 0 {
			return nil
		}
		cur := b.Cursor()
		for k, v := cur.First(); k != nil && len(out) < limit; k, v = cur.Next() {
			var c store.ConflictRecord
			if err := json.Unmarshal(v, &c); err != nil {
				return fmt.Errorf("conflict %d: %w", len(out)+1, err)
			}
			out = append(out, c)
		}
		return nil
	})
	return out, total, err
}

func hexSum(s string) ([]byte, error) {
	var b [32]byte
	if len(s) != 64 {
		return nil, fmt.Errorf("body sha256 %q is not 64 hex digits", s)
	}
	for i := range 32 {
		hi, ok1 := unhex(s[2*i])
		lo, ok2 := unhex(s[2*i+1])
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("body sha256 is not hex")
		}
		b[i] = hi<<4 | lo
	}
	return b[:], nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// StationHighWater returns the highest seq received from a station.
func (s *Store) StationHighWater(station string) (uint64, error) {
	var hw uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bStations).Get([]byte(station)); len(v) == 8 {
			hw = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	return hw, err
}

// Records counts the records held.
func (s *Store) Records() (int, error) {
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bRecords).Stats().KeyN
		return nil
	})
	return n, err
}

var errShort = errors.New("truncated binding")

func encodeBinding(dst []byte, b *store.Binding) []byte {
	dst = append(dst, 1)
	for _, s := range []string{b.UID, b.SKU, b.BatchID, b.StationID, b.MasterKCV, b.TemplateHash, b.Outcome} {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	dst = binary.AppendUvarint(dst, b.Seq)
	dst = append(dst, b.KeyVersion)
	dst = binary.AppendUvarint(dst, uint64(b.ReadCtr))
	return binary.AppendVarint(dst, b.CompletedAt.UnixNano())
}

func decodeBinding(v []byte) (store.Binding, error) {
	var b store.Binding
	if len(v) == 0 || v[0] != 1 {
		return b, fmt.Errorf("binding record of unknown version")
	}
	v = v[1:]
	str := func() string {
		n, k := binary.Uvarint(v)
		if k <= 0 || uint64(len(v)-k) < n {
			v = nil
			return ""
		}
		s := string(v[k : k+int(n)])
		v = v[k+int(n):]
		return s
	}
	b.UID, b.SKU, b.BatchID, b.StationID, b.MasterKCV, b.TemplateHash, b.Outcome = str(), str(), str(), str(), str(), str(), str()
	if v == nil {
		return b, errShort
	}
	seq, k := binary.Uvarint(v)
	if k <= 0 || len(v) < k+1 {
		return b, errShort
	}
	b.Seq, b.KeyVersion, v = seq, v[k], v[k+1:]
	ctr, k := binary.Uvarint(v)
	if k <= 0 || ctr > 0xFFFFFF {
		return b, errShort
	}
	b.ReadCtr, v = uint32(ctr), v[k:]
	ns, k := binary.Varint(v)
	if k <= 0 || k != len(v) {
		return b, errShort
	}
	b.CompletedAt = time.Unix(0, ns).UTC()
	return b, nil
}
