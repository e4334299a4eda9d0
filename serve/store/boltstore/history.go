package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tagline-station/tagline/serve/store"
)

// The history buckets: key 8 bytes of Unix nanoseconds then 8 of the
// bucket's sequence (big-endian, so keys sort by time), value JSON.
var (
	bHistTaps   = []byte("history_taps")
	bHistAlerts = []byte("history_alerts")
)

type history struct{ db *bolt.DB }

// History is the store's tap history, in the same file.
func (s *Store) History(context.Context) (store.History, error) {
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bHistTaps, bHistAlerts} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &history{db: s.db}, nil
}

func histKey(b *bolt.Bucket, at time.Time) []byte {
	seq, _ := b.NextSequence()
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, uint64(at.UnixNano()))
	binary.BigEndian.PutUint64(k[8:], seq)
	return k
}

func appendJSON[T any](db *bolt.DB, bucket []byte, items []T, at func(*T) time.Time) error {
	return db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		b.FillPercent = 1 // keys only grow: full pages, fewer splits
		for i := range items {
			v, err := json.Marshal(&items[i])
			if err != nil {
				return err
			}
			if err := b.Put(histKey(b, at(&items[i])), v); err != nil {
				return err
			}
		}
		return nil
	})
}

func (h *history) AppendTaps(_ context.Context, taps []store.TapEvent) error {
	return appendJSON(h.db, bHistTaps, taps, func(t *store.TapEvent) time.Time { return t.At })
}

func (h *history) AppendAlerts(_ context.Context, alerts []store.Alert) error {
	return appendJSON(h.db, bHistAlerts, alerts, func(a *store.Alert) time.Time { return a.At })
}

func timeKey(t time.Time) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, uint64(max(t.UnixNano(), 0)))
	return k
}

func (h *history) Prune(_ context.Context, before time.Time) (int64, error) {
	var n int64
	end := timeKey(before)
	err := h.db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bHistTaps, bHistAlerts} {
			c := tx.Bucket(name).Cursor()
			for k, _ := c.First(); k != nil && bytes.Compare(k[:8], end) < 0; k, _ = c.First() {
				if err := c.Delete(); err != nil {
					return err
				}
				n++
			}
		}
		return nil
	})
	return n, err
}

// Summary scans the history since t: the brand's view over a bbolt store
// is for one site's volumes; PostgreSQL answers it with indexes.
func (h *history) Summary(_ context.Context, since time.Time) (store.Summary, error) {
	sum := store.NewSummary(since)
	start := timeKey(since)
	err := h.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bHistTaps).Cursor()
		for k, v := c.Seek(start); k != nil; k, v = c.Next() {
			var t store.TapEvent
			if err := json.Unmarshal(v, &t); err != nil {
				return err
			}
			sum.Taps++
			sum.ByResult[t.Result]++
			sum.ByDay[store.Day(t.At)]++
			if t.Result == "genuine" {
				sum.BySKU[t.SKU]++
				sum.ByBatch[t.Batch]++
			}
		}
		c = tx.Bucket(bHistAlerts).Cursor()
		for k, v := c.Seek(start); k != nil; k, v = c.Next() {
			var a store.Alert
			if err := json.Unmarshal(v, &a); err != nil {
				return err
			}
			sum.AlertsByDay[store.Day(a.At)]++
			sum.Alerts = append(sum.Alerts, a)
		}
		return nil
	})
	sort.SliceStable(sum.Alerts, func(i, j int) bool { return sum.Alerts[i].At.After(sum.Alerts[j].At) })
	if len(sum.Alerts) > store.MaxSummaryAlerts {
		sum.Alerts = sum.Alerts[:store.MaxSummaryAlerts]
	}
	return sum, err
}
