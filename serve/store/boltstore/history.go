package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tagline-station/tagline/serve/store"
)

// The history buckets: key 8 bytes of Unix nanoseconds then 8 of the
// bucket's sequence (big-endian, so keys sort by time), value JSON.
var (
	bHistTaps   = []byte("history_taps")
	bHistAlerts = []byte("history_alerts")
	// bHistDays: key "2006-01-02" 0x00 sku 0x00 batch 0x00 result, value
	// a big-endian uint64 count; kept in the transaction of the taps.
	bHistDays = []byte("history_days")
)

type history struct{ db *bolt.DB }

// History is the store's tap history, in the same file.
func (s *Store) History(context.Context) (store.History, error) {
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bHistTaps, bHistAlerts, bHistDays} {
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
	return db.Update(func(tx *bolt.Tx) error { return putJSON(tx.Bucket(bucket), items, at) })
}

func putJSON[T any](b *bolt.Bucket, items []T, at func(*T) time.Time) error {
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
}

func (h *history) AppendTaps(_ context.Context, taps []store.TapEvent) error {
	return h.db.Update(func(tx *bolt.Tx) error {
		if err := putJSON(tx.Bucket(bHistTaps), taps, func(t *store.TapEvent) time.Time { return t.At }); err != nil {
			return err
		}
		counts := map[string]uint64{}
		for i := range taps {
			counts[dayKey(&taps[i])]++
		}
		days := tx.Bucket(bHistDays)
		for k, n := range counts {
			if v := days.Get([]byte(k)); len(v) == 8 {
				n += binary.BigEndian.Uint64(v)
			}
			if err := days.Put([]byte(k), binary.BigEndian.AppendUint64(nil, n)); err != nil {
				return err
			}
		}
		return nil
	})
}

func dayKey(t *store.TapEvent) string {
	return store.Day(t.At) + "\x00" + t.SKU + "\x00" + t.Batch + "\x00" + t.Result
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
		// The daily counts lose whole days only: the days before before's.
		c := tx.Bucket(bHistDays).Cursor()
		for k, _ := c.First(); k != nil && string(k[:10]) < store.Day(before); k, _ = c.First() {
			if err := c.Delete(); err != nil {
				return err
			}
		}
		return nil
	})
	return n, err
}

// Summary reads the daily counts from the day of since on (whole UTC
// days) and the alerts since since.
func (h *history) Summary(_ context.Context, since time.Time) (store.Summary, error) {
	sum := store.NewSummary(since)
	start := timeKey(since)
	err := h.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bHistDays).Cursor()
		for k, v := c.Seek([]byte(store.Day(since))); k != nil; k, v = c.Next() {
			f := strings.SplitN(string(k), "\x00", 4)
			if len(f) != 4 || len(v) != 8 {
				return fmt.Errorf("history_days: malformed entry %q", k)
			}
			n := int(binary.BigEndian.Uint64(v))
			sum.Taps += n
			sum.ByResult[f[3]] += n
			sum.ByDay[f[0]] += n
			if f[3] == "genuine" {
				sum.BySKU[f[1]] += n
				sum.ByBatch[f[2]] += n
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
