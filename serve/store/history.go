package store

import (
	"context"
	"time"

	"github.com/tagline-station/tagline/manifest"
)

// TapEvent is one tap as the history keeps it. Place and IP are empty
// unless the backend is configured to keep them (serve.HistoryConfig).
type TapEvent struct {
	At         time.Time    `json:"at"`
	UID        manifest.UID `json:"uid,omitempty"`
	SKU        string       `json:"sku,omitempty"`
	Batch      string       `json:"batch,omitempty"`
	Result     string       `json:"result"`
	Ctr        uint32       `json:"ctr,omitempty"`
	KeyVersion byte         `json:"key_version,omitempty"`
	Place      string       `json:"place,omitempty"`
	IP         string       `json:"ip,omitempty"`
}

// Alert kinds.
const (
	// AlertCounterTwice: a verified tap named a counter at or below the
	// last accepted one (the same SUN URL, or a copy of the tag, used
	// again).
	AlertCounterTwice = "counter_seen_twice"
	// AlertTwoPlaces: genuine taps of one tag from two places within the
	// clone window.
	AlertTwoPlaces = "two_places"
)

// Alert is a clone alert.
type Alert struct {
	At     time.Time    `json:"at"`
	Kind   string       `json:"kind"`
	UID    manifest.UID `json:"uid"`
	SKU    string       `json:"sku,omitempty"`
	Ctr    uint32       `json:"ctr"`
	Detail string       `json:"detail,omitempty"`
}

// Summary is what the brand's view shows: counts since a time.
type Summary struct {
	Since    time.Time      `json:"since"`
	Taps     int            `json:"taps"`
	BySKU    map[string]int `json:"by_sku"`   // genuine taps
	ByBatch  map[string]int `json:"by_batch"` // genuine taps
	ByDay    map[string]int `json:"by_day"`   // every tap, "2006-01-02" UTC
	ByResult map[string]int `json:"by_result"`
	// AlertsByDay counts clone alerts per day; Alerts lists the newest
	// (at most MaxSummaryAlerts), newest first.
	AlertsByDay map[string]int `json:"alerts_by_day"`
	Alerts      []Alert        `json:"alerts"`
}

// MaxSummaryAlerts bounds Summary.Alerts.
const MaxSummaryAlerts = 100

// NewSummary is an empty summary.
func NewSummary(since time.Time) Summary {
	return Summary{Since: since, BySKU: map[string]int{}, ByBatch: map[string]int{}, ByDay: map[string]int{},
		ByResult: map[string]int{}, AlertsByDay: map[string]int{}, Alerts: []Alert{}}
}

// Day is the key of a time in Summary's per-day maps.
func Day(t time.Time) string { return t.UTC().Format("2006-01-02") }

// History keeps every tap and the clone alerts.
type History interface {
	AppendTaps(ctx context.Context, taps []TapEvent) error
	AppendAlerts(ctx context.Context, alerts []Alert) error
	// Prune deletes taps and alerts before t and says how many.
	Prune(ctx context.Context, before time.Time) (int64, error)
	Summary(ctx context.Context, since time.Time) (Summary, error)
}

// Historian is a store that can keep a history.
type Historian interface {
	History(ctx context.Context) (History, error)
}
