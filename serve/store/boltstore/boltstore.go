package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tagline-station/tagline/manifest"
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
	bJournals = []byte("journals") // station → the identity of the journal it syncs from
	magic     = []byte("tagline-serve")
)

// ErrForeign: the file is a bbolt file of something else.
var ErrForeign = errors.New("not a tagline serve database")

// Options tune Open.
type Options struct {
	// LockTimeout bounds the wait for another process holding the file
	// (default 2s).
	LockTimeout time.Duration
	// MaxGroup bounds the taps decided and logged together (default 4096).
	MaxGroup int
	// LogSlots is the number of records the tap log holds between
	// checkpoints (default 65536, 1.5 MiB; at least MaxGroup).
	LogSlots int
	// Now stamps conflicts (default time.Now).
	Now func() time.Time
}

// groupWait is how long the committer keeps a group open for more taps
// after the queue ran dry: an fdatasync costs the same for one tap as for
// a hundred, so a slightly later, larger group raises throughput.
const groupWait = 200 * time.Microsecond

// Store is a store.Store over one bbolt file and its tap log.
type Store struct {
	db       *bolt.DB
	log      *tapLog // the committer's alone
	maxGroup int
	now      func() time.Time
	reqs     chan *tapReq
	mu       sync.RWMutex // guards closed against sends on reqs
	closed   bool
	done     chan struct{}

	// ov guards overlay, the counters accepted since the last checkpoint.
	// Only the committer changes it.
	ov      sync.Mutex
	overlay map[string]uint32

	commits, taps, ckpts atomic.Uint64
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

// Open opens or creates the database at path and its tap log, replaying
// the log into the database.
func Open(path string, opts Options) (*Store, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = 2 * time.Second
	}
	if opts.MaxGroup <= 0 {
		opts.MaxGroup = 4096
	}
	if opts.LogSlots < opts.MaxGroup {
		opts.LogSlots = max(65536, opts.MaxGroup)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.LockTimeout})
	if err != nil {
		return nil, fmt.Errorf("serve store %s: %w", path, err)
	}
	s := &Store{db: db, maxGroup: opts.MaxGroup, now: opts.Now,
		reqs: make(chan *tapReq, opts.MaxGroup), done: make(chan struct{}),
		overlay: map[string]uint32{}}
	if err := s.open(path, opts.LogSlots); err != nil {
		db.Close()
		return nil, fmt.Errorf("serve store %s: %w", path, err)
	}
	go s.commitLoop()
	return s, nil
}

// open readies the buckets and replays the tap log into them.
func (s *Store) open(path string, slots int) error {
	if err := s.db.Update(initBuckets); err != nil {
		return err
	}
	var err error
	if s.log, err = openLog(path+".taplog", slots); err != nil {
		return fmt.Errorf("tap log: %w", err)
	}
	replayed, err := s.log.replay()
	if err == nil {
		err = s.db.Update(func(tx *bolt.Tx) error { return raiseCounters(tx, replayed) })
	}
	if err != nil {
		s.log.close()
		return fmt.Errorf("replaying the tap log: %w", err)
	}
	return nil
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
	for _, b := range [][]byte{bBindings, bCtr, bRecords, bStations, bIdem, bConflict, bJournals} {
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

func raiseCounters(tx *bolt.Tx, cs map[string]uint32) error {
	for uid, c := range cs {
		if err := raiseCounter(tx, uid, c); err != nil {
			return err
		}
	}
	return nil
}

// Close stops the committer after the queued taps, checkpoints the tap
// log and closes the files.
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
	err := s.checkpoint()
	if cerr := s.log.close(); err == nil {
		err = cerr
	}
	if cerr := s.db.Close(); err == nil {
		err = cerr
	}
	return err
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

// Stats reports the group commits so far (tap log writes), the taps they
// carried and the checkpoints.
func (s *Store) Stats() (commits, taps, checkpoints uint64) {
	return s.commits.Load(), s.taps.Load(), s.ckpts.Load()
}

// Lookup returns the current binding of uid and its last accepted counter.
func (s *Store) Lookup(_ context.Context, uid string) (b manifest.Binding, last uint32, ok bool, err error) {
	// Under ov, as a checkpoint clears the overlay under ov only after
	// its counters are in bbolt: each counter is in one or the other.
	s.ov.Lock()
	defer s.ov.Unlock()
	err = s.db.View(func(tx *bolt.Tx) error {
		b, last, ok, err = get(tx, uid)
		return err
	})
	return b, max(last, s.overlay[uid]), ok, err
}

func get(tx *bolt.Tx, uid string) (manifest.Binding, uint32, bool, error) {
	v := tx.Bucket(bBindings).Get([]byte(uid))
	if v == nil {
		return manifest.Binding{}, 0, false, nil
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
func decide(b manifest.Binding, last uint32, ok bool, ctr uint32, kv byte) store.Tap {
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
	// The pre-check only ever rejects: the last accepted counter never
	// decreases, so a rejection from this view is right even if a commit
	// follows it, and costs no write.
	// ov is taken after the view, not around it as Lookup does, so
	// concurrent taps do not queue on it; a view that missed a checkpoint
	// sees a lower counter, which can only let a tap through to the
	// committer.
	var b manifest.Binding
	var last uint32
	var ok bool
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		b, last, ok, err = get(tx, uid)
		return err
	})
	if err != nil {
		return store.Tap{}, err
	}
	s.ov.Lock()
	last = max(last, s.overlay[uid])
	s.ov.Unlock()
	if pre := decide(b, last, ok, ctr, kv); pre.Result != store.Accepted {
		return pre, nil
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

// commitLoop is the one committer: it takes the queued taps as a group,
// decides them in order, makes the accepted ones durable in the tap log
// with one fdatasync, and only then answers them. A failed write fails
// every tap of its group.
func (s *Store) commitLoop() {
	defer close(s.done)
	group := make([]*tapReq, 0, s.maxGroup)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for first := range s.reqs {
		group = append(group[:0], first)
		deadline := time.Now().Add(groupWait)
		for len(group) < s.maxGroup {
			r, ok := s.next(timer, deadline)
			if !ok {
				break
			}
			group = append(group, r)
		}
		err := s.commitGroup(group)
		for _, r := range group {
			if err != nil {
				r.res, r.err = store.Tap{}, fmt.Errorf("committing taps: %w", err)
			}
			r.done <- struct{}{}
		}
	}
}

// next returns a queued tap, waiting for one until deadline.
func (s *Store) next(timer *time.Timer, deadline time.Time) (*tapReq, bool) {
	select {
	case r, ok := <-s.reqs:
		return r, ok
	default:
	}
	wait := time.Until(deadline)
	if wait <= 0 {
		return nil, false
	}
	timer.Reset(wait)
	defer timer.Stop()
	select {
	case r, ok := <-s.reqs:
		return r, ok
	case <-timer.C:
		return nil, false
	}
}

// commitGroup decides the taps of group against bbolt and the overlay,
// logs the accepted ones durably, then adds them to the overlay.
func (s *Store) commitGroup(group []*tapReq) error {
	if !s.log.fits(len(group)) {
		if err := s.checkpoint(); err != nil {
			return err
		}
	}
	local := map[string]uint32{}
	var buf []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		for _, r := range group {
			b, last, ok, err := get(tx, r.uid)
			if err != nil {
				r.res, r.err = store.Tap{}, err
				continue
			}
			// The overlay changes only here: no lock needed to read it.
			last = max(last, s.overlay[r.uid], local[r.uid])
			r.res = decide(b, last, ok, r.ctr, r.kv)
			if r.res.Result == store.Accepted {
				local[r.uid] = r.ctr
				buf = appendRecord(buf, r.uid, r.ctr)
			}
		}
		return nil
	})
	if err != nil || len(buf) == 0 {
		return err
	}
	if err := s.log.write(buf); err != nil {
		return err
	}
	s.ov.Lock()
	for uid, c := range local {
		s.overlay[uid] = max(s.overlay[uid], c)
	}
	s.ov.Unlock()
	s.commits.Add(1)
	s.taps.Add(uint64(len(buf) / logRecSize))
	return nil
}

// checkpoint moves the counters of the overlay into bbolt, in one
// transaction, and only then lets the tap log start again at its first
// slot. Run by the committer, or by Close after it stopped.
func (s *Store) checkpoint() error {
	if len(s.overlay) > 0 {
		if err := s.db.Update(func(tx *bolt.Tx) error { return raiseCounters(tx, s.overlay) }); err != nil {
			return err
		}
		s.ov.Lock()
		s.overlay = map[string]uint32{}
		s.ov.Unlock()
		s.ckpts.Add(1)
	}
	s.log.rewind()
	return nil
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
		return store.Applied{}, err
	}
	return res, nil
}

// bindRecord applies one record to its UID's binding (store invariant 4):
// it binds it, leaves things as they are, or keeps it as a conflict under
// key (its station and seq) once.
func bindRecord(tx *bolt.Tx, in *manifest.Binding, key []byte, now time.Time) (applied bool, conflict *store.ConflictRecord, err error) {
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
	return true, nil, raiseCounter(tx, string(in.UID), in.ReadCtr)
}

// keepConflict stores a conflict once by its record's station and seq: a
// record delivered again keeps the first detection.
func keepConflict(tx *bolt.Tx, key []byte, in, cur *manifest.Binding, now time.Time) error {
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

// ClaimJournal implements store.Store.
func (s *Store) ClaimJournal(_ context.Context, station, journal string) (string, error) {
	owner := journal
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bJournals)
		if v := b.Get([]byte(station)); v != nil {
			owner = string(v)
			return nil
		}
		return b.Put([]byte(station), []byte(journal))
	})
	if err == nil && owner != journal {
		err = store.ErrOtherJournal
	}
	return owner, err
}

// Position is StationHighWater, for store.Store.
func (s *Store) Position(_ context.Context, station string) (uint64, error) {
	return s.StationHighWater(station)
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

func encodeBinding(dst []byte, b *manifest.Binding) []byte {
	dst = append(dst, 1)
	for _, s := range []string{string(b.UID), b.SKU, b.BatchID, b.StationID, b.MasterKCV, b.TemplateHash, string(b.Outcome)} {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	dst = binary.AppendUvarint(dst, b.Seq)
	dst = append(dst, b.KeyVersion)
	dst = binary.AppendUvarint(dst, uint64(b.ReadCtr))
	return binary.AppendVarint(dst, b.CompletedAt.UnixNano())
}

func decodeBinding(v []byte) (manifest.Binding, error) {
	var b manifest.Binding
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
	b.UID, b.SKU, b.BatchID, b.StationID, b.MasterKCV, b.TemplateHash, b.Outcome = manifest.UID(str()), str(), str(), str(), str(), str(), manifest.Outcome(str())
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
