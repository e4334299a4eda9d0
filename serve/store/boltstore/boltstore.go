// Package boltstore is the embedded store of `tagline serve`: one bbolt
// file, for a single serve instance.
//
// # Invariants
//
// Those of package store, and:
//
//  1. Every write goes through bbolt's single writer. Taps that pass the
//     read-only pre-check are queued to one committer goroutine, which runs
//     all queued taps in one transaction, re-checking each against the
//     committed state (so two taps of the same counter in one group are
//     decided in order), commits with fsync, and only then answers them:
//     group commit, one fsync for many taps, and no tap answered before its
//     counter is durable. A failed commit fails every tap of its group.
//  2. The pre-check runs in a read-only transaction and only ever rejects
//     (unknown tag, other key version, counter not above the last
//     accepted); the last accepted counter never decreases, so a rejection
//     from a slightly stale snapshot is still right.
//
// # File layout (format 1)
//
//	meta      "magic" = "tagline-serve", "format" = "1"
//	bindings  UID → binding (binary v1, below)
//	ctr       UID → last accepted read counter, uint32 big-endian
//	records   station ‖ 0x00 ‖ seq (uint64 big-endian) → record line as received
//	stations  station → highest acked seq, uint64 big-endian
//	idem      idempotency key → SHA-256 of the body (32 bytes) ‖ JSON answer
//
//	binding v1: 0x01 uid sku batch_id station_id master_kcv template_hash
//	            outcome (each uvarint length + bytes) seq:uvarint
//	            key_version:byte read_ctr:uvarint completed_at:varint Unix ns
package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tagline-station/tagline/serve/store"
)

var (
	bMeta     = []byte("meta")
	bBindings = []byte("bindings")
	bCtr      = []byte("ctr")
	bRecords  = []byte("records")
	bStations = []byte("stations")
	bIdem     = []byte("idem")
	magic     = []byte("tagline-serve")
)

// ErrForeign: the file is a bbolt file of something else.
var ErrForeign = errors.New("not a tagline serve database")

// Options tune Open.
type Options struct {
	// LockTimeout bounds the wait for another process holding the file
	// (default 2s).
	LockTimeout time.Duration
	// MaxGroup bounds the taps committed in one transaction (default 4096).
	MaxGroup int
}

// Store is a store.Store over one bbolt file.
type Store struct {
	db       *bolt.DB
	maxGroup int
	reqs     chan *tapReq
	mu       sync.RWMutex // guards closed against sends on reqs
	closed   bool
	done     chan struct{}

	commits, committedTaps uint64 // for Stats; written by the committer only
	statsMu                sync.Mutex
}

type tapReq struct {
	uid  string
	ctr  uint32
	kv   byte
	res  store.Tap
	err  error
	done chan struct{}
}

var reqPool = sync.Pool{New: func() any { return &tapReq{done: make(chan struct{}, 1)} }}

// Open opens or creates the database at path.
func Open(path string, opts Options) (*Store, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = 2 * time.Second
	}
	if opts.MaxGroup <= 0 {
		opts.MaxGroup = 4096
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:         opts.LockTimeout,
		NoFreelistSync:  true,
		FreelistType:    bolt.FreelistMapType,
		InitialMmapSize: 64 << 20,
	})
	if err != nil {
		return nil, fmt.Errorf("serve store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
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
		for _, b := range [][]byte{bBindings, bCtr, bRecords, bStations, bIdem} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("serve store %s: %w", path, err)
	}
	s := &Store{db: db, maxGroup: opts.MaxGroup, reqs: make(chan *tapReq, opts.MaxGroup), done: make(chan struct{})}
	go s.commitLoop()
	return s, nil
}

// Close stops the committer after the queued taps and closes the file.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.reqs)
	s.mu.Unlock()
	<-s.done
	return s.db.Close()
}

// Ping checks the file can be read.
func (s *Store) Ping(context.Context) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return store.ErrClosed
	}
	return s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bMeta) == nil {
			return ErrForeign
		}
		return nil
	})
}

// Stats reports the group commits so far: transactions and the taps they
// carried.
func (s *Store) Stats() (commits, taps uint64) {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	return s.commits, s.committedTaps
}

// Lookup returns the current binding of uid and its last accepted counter.
func (s *Store) Lookup(_ context.Context, uid string) (b store.Binding, last uint32, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
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
func (s *Store) Tap(ctx context.Context, uid string, ctr uint32, kv byte) (store.Tap, error) {
	var pre store.Tap
	err := s.db.View(func(tx *bolt.Tx) error {
		b, last, ok, err := get(tx, uid)
		pre = decide(b, last, ok, ctr, kv)
		return err
	})
	if err != nil || pre.Result != store.Accepted {
		return pre, err
	}
	r := reqPool.Get().(*tapReq)
	r.uid, r.ctr, r.kv, r.res, r.err = uid, ctr, kv, store.Tap{}, nil
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		reqPool.Put(r)
		return store.Tap{}, store.ErrClosed
	}
	s.reqs <- r
	s.mu.RUnlock()
	// The committer always answers; waiting for it even when ctx ends
	// keeps the request from being reused while it is still queued.
	<-r.done
	res, err := r.res, r.err
	reqPool.Put(r)
	return res, err
}

func (s *Store) commitLoop() {
	defer close(s.done)
	group := make([]*tapReq, 0, s.maxGroup)
	for first := range s.reqs {
		group = append(group[:0], first)
	fill:
		for len(group) < s.maxGroup {
			select {
			case r, ok := <-s.reqs:
				if !ok {
					break fill
				}
				group = append(group, r)
			default:
				break fill
			}
		}
		err := s.db.Update(func(tx *bolt.Tx) error {
			ctrs := tx.Bucket(bCtr)
			for _, r := range group {
				b, last, ok, err := get(tx, r.uid)
				if err != nil {
					r.res, r.err = store.Tap{}, err
					continue
				}
				r.res = decide(b, last, ok, r.ctr, r.kv)
				if r.res.Result == store.Accepted {
					var v [4]byte
					binary.BigEndian.PutUint32(v[:], r.ctr)
					if err := ctrs.Put([]byte(r.uid), v[:]); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			err = fmt.Errorf("committing taps: %w", err)
		}
		s.statsMu.Lock()
		s.commits++
		s.committedTaps += uint64(len(group))
		s.statsMu.Unlock()
		for _, r := range group {
			if err != nil {
				r.res, r.err = store.Tap{}, err
			}
			r.done <- struct{}{}
		}
	}
}

// ApplySync implements store.Store.
func (s *Store) ApplySync(_ context.Context, up store.Upload) (store.SyncAck, bool, error) {
	var ack store.SyncAck
	var replayed bool
	c := up.Chunk
	hash, err := hexSum(up.BodySHA256)
	if err != nil {
		return ack, false, err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		idem := tx.Bucket(bIdem)
		if v := idem.Get([]byte(up.Key)); v != nil {
			if len(v) < 32 || !bytes.Equal(v[:32], hash) {
				return store.ErrIdempotencyConflict
			}
			replayed = true
			return json.Unmarshal(v[32:], &ack)
		}
		ack = store.SyncAck{Station: c.Station, AckedSeq: c.NextSince, Count: len(c.Records)}
		recs, binds, ctrs := tx.Bucket(bRecords), tx.Bucket(bBindings), tx.Bucket(bCtr)
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
			if v := binds.Get([]byte(in.UID)); v != nil {
				cur, err := decodeBinding(v)
				if err != nil {
					return fmt.Errorf("binding of %s: %w", in.UID, err)
				}
				if !store.Replaces(&in, &cur) {
					continue
				}
			}
			if err := binds.Put([]byte(in.UID), encodeBinding(nil, &in)); err != nil {
				return err
			}
			ack.Bindings++
			// A new or replacing binding never lowers the last accepted
			// counter; it raises it to the counter the station saw.
			v := ctrs.Get([]byte(in.UID))
			if len(v) != 4 || in.ReadCtr > binary.BigEndian.Uint32(v) {
				if err := ctrs.Put([]byte(in.UID), binary.BigEndian.AppendUint32(nil, in.ReadCtr)); err != nil {
					return err
				}
			}
		}
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
	return ack, replayed, err
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
