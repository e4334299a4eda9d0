package syncer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tagline-station/tagline/internal/errkind"
	"github.com/tagline-station/tagline/manifest"
)

// Journal is what the syncer needs of a station's journal; *batch.Store
// implements it. Pending reads in a read-only transaction and Ack is one
// short durable write, so a sync never holds the journal against the
// station's encoding.
type Journal interface {
	StationID() string
	Pending(limit int) ([]manifest.Binding, error)
	Ack(seq uint64) error
	SyncState() (syncedUpto, last uint64, err error)
}

// Options configure Run. Endpoint is required; the rest have defaults.
type Options struct {
	// Endpoint is the full URL chunks are POSTed to, e.g.
	// https://backend.example/v1/sync.
	Endpoint string
	// Token is sent as "Authorization: Bearer <Token>" when set.
	Token string
	// ChunkSize is the number of records per request (default 500).
	ChunkSize int
	// RequestTimeout bounds one attempt: connecting, sending the chunk and
	// reading the answer (default 30s).
	RequestTimeout time.Duration
	// MaxAttempts is how many times one chunk is tried before Run gives up
	// (default 8). In watch mode a give-up only ends the round: the next
	// round starts after Watch.
	MaxAttempts int
	// BaseBackoff and MaxBackoff shape the wait between attempts: the n-th
	// retry waits a uniformly random time in [d/2, d] with
	// d = min(MaxBackoff, BaseBackoff·2^(n-1)) (defaults 500ms and 60s). A
	// Retry-After header of a 429 or 503 answer is honoured up to
	// MaxBackoff.
	BaseBackoff, MaxBackoff time.Duration
	// AskPosition asks the backend first what it holds from the station
	// (GET <Endpoint>/position) and sends from there when that is less than
	// the journal's cursor. Without it a moved backend is still found out
	// by the first chunk it is sent (409 with its position).
	AskPosition bool
	// Resend sends every binding again from the first, whatever the
	// remote acknowledged (a new or restored backend), when the journal
	// can (Resender); the cursor still only moves forward. The backend
	// takes records it holds already as the same records again.
	Resend bool
	// Watch, when positive, keeps Run going until ctx ends: after the
	// journal is caught up, or after a round that failed, it waits Watch and
	// syncs again. Run then returns ctx's error with the summary so far.
	Watch time.Duration
	// Client sends the requests (default: a client of its own; per-request
	// deadlines come from RequestTimeout either way).
	Client *http.Client
	// UserAgent is sent with each request (default "tagline-sync").
	UserAgent string
	// Progress, when set, is called after every chunk, retry, idle wait and
	// failed round, from Run's goroutine.
	Progress func(Progress)
	// Logger gets one line per chunk at debug level and per retry at warn
	// level (default: discard).
	Logger *slog.Logger

	// Sleep waits d or until ctx ends (default: a timer). Tests inject one
	// that records the waits and returns at once.
	Sleep func(ctx context.Context, d time.Duration) error
	// Rand draws the jitter, a number in [0,1) (default math/rand/v2).
	Rand func() float64
}

// EventKind says what a Progress report is about.
type EventKind string

const (
	EvChunk EventKind = "chunk" // a chunk was acknowledged and the cursor moved
	EvRetry EventKind = "retry" // an attempt failed; Wait is the pause before the next
	EvIdle  EventKind = "idle"  // watch mode: caught up, waiting Wait
	EvError EventKind = "error" // watch mode: a round failed (Err), waiting Wait
)

// Progress is reported to Options.Progress.
type Progress struct {
	Kind EventKind
	// FirstSeq and LastSeq are the chunk's records; AckedSeq what the
	// remote acknowledged (EvChunk).
	FirstSeq, LastSeq, AckedSeq uint64
	Count                       int
	Attempt                     int
	Wait                        time.Duration
	Err                         error
	// SyncedUpto and Last are the journal's cursor and last seq after the
	// event.
	SyncedUpto, Last uint64
}

// Summary is what Run did.
type Summary struct {
	Chunks   int // chunks acknowledged
	Records  int // records acknowledged (partial acks count what was acked)
	Attempts int // requests sent
	Replayed int // chunks the remote answered from its idempotency store
	// SyncedUpto and Last are the journal's state when Run returned.
	SyncedUpto, Last uint64
}

// Ack is the body a remote answers a chunk with (2xx, application/json).
// Only acked_seq is required; Run checks it lies within the chunk.
type Ack struct {
	Station  string `json:"station,omitempty"`
	AckedSeq uint64 `json:"acked_seq"`
}

// Errors of Run. Each is wrapped with the details.
var (
	// ErrRejected: the remote refused the chunk with a status that retrying
	// cannot change (4xx other than 408 and 429); see *HTTPError.
	ErrRejected = errkind.New(errkind.Network, "remote rejected the sync chunk")
	// ErrBadAck: a 2xx answer whose acknowledged seq lies outside the chunk
	// or names another station. Nothing is acknowledged in the journal.
	ErrBadAck = errkind.New(errkind.Network, "remote acknowledgement does not match the chunk")
	// ErrGaveUp: MaxAttempts attempts of one chunk failed; wraps the last
	// error.
	ErrGaveUp = errkind.New(errkind.Network, "sync gave up after retries")
)

// HTTPError is a non-2xx answer.
type HTTPError struct {
	Status int
	Body   string // at most 512 bytes of it
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("remote answered %d %s: %s", e.Status, http.StatusText(e.Status), e.Body)
}

func (o *Options) defaults() error {
	if o.Endpoint == "" {
		return errors.New("sync: no endpoint")
	}
	if !strings.HasPrefix(o.Endpoint, "http://") && !strings.HasPrefix(o.Endpoint, "https://") {
		return fmt.Errorf("sync: endpoint %q is not an http or https URL", o.Endpoint)
	}
	if o.ChunkSize <= 0 {
		o.ChunkSize = 500
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 30 * time.Second
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 8
	}
	if o.BaseBackoff <= 0 {
		o.BaseBackoff = 500 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = time.Minute
	}
	if o.MaxBackoff < o.BaseBackoff {
		o.MaxBackoff = o.BaseBackoff
	}
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	if o.UserAgent == "" {
		o.UserAgent = "tagline-sync"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// IdempotencyKey is the key of the chunk holding the records first..last of
// a station: stable across retries, since journal records never change.
func IdempotencyKey(station string, first, last uint64) string {
	return station + ":" + strconv.FormatUint(first, 10) + "-" + strconv.FormatUint(last, 10)
}

// Run pushes the bindings the remote has not acknowledged, in seq order and
// in chunks, and moves the journal's cursor after each acknowledgement. It
// returns when the journal is caught up (nil error), when a chunk is
// rejected or cannot be delivered (the cursor stays at the last ack), or,
// in watch mode, when ctx ends.
func Run(ctx context.Context, j Journal, opts Options) (Summary, error) {
	var sum Summary
	if err := opts.defaults(); err != nil {
		return sum, err
	}
	r := &runner{j: j, o: &opts, sum: &sum}
	if opts.Resend {
		if _, ok := j.(Resender); !ok {
			return sum, fmt.Errorf("sync: this journal cannot resend from the start")
		}
		r.resend = new(uint64)
	} else if opts.AskPosition {
		r.askPosition(ctx)
	}
	for {
		err := r.round(ctx)
		sum.SyncedUpto, sum.Last, _ = j.SyncState()
		if opts.Watch <= 0 {
			return sum, err
		}
		if ctx.Err() != nil {
			return sum, ctx.Err()
		}
		kind := EvIdle
		if err != nil {
			kind = EvError
			opts.Logger.Warn("sync round failed", "err", err, "synced_upto", sum.SyncedUpto, "last", sum.Last)
		}
		r.report(Progress{Kind: kind, Wait: opts.Watch, Err: err})
		if err := opts.Sleep(ctx, opts.Watch); err != nil {
			return sum, err
		}
	}
}

// journalID is the journal's identity when it has one.
func journalID(j Journal) string {
	if ji, ok := j.(interface{ JournalID() string }); ok {
		return ji.JournalID()
	}
	return ""
}

// GapError is a backend's answer that it holds the station's records only
// up to Held, below where the chunk started.
type GapError struct{ Held uint64 }

func (e *GapError) Error() string {
	return fmt.Sprintf("the backend holds this station's records up to seq %d only", e.Held)
}

// Unwrap makes a gap that Run could not mend a rejection.
func (e *GapError) Unwrap() error { return ErrRejected }

// Resender is a journal that can list bindings from any position.
type Resender interface {
	PendingAfter(after uint64, limit int) ([]manifest.Binding, error)
}

type runner struct {
	j   Journal
	o   *Options
	sum *Summary
	buf []byte
	// resend is the position of a resend in progress (Options.Resend),
	// nil once it has caught up or when none was asked for.
	resend *uint64
}

func (r *runner) report(p Progress) {
	if r.o.Progress == nil {
		return
	}
	p.SyncedUpto, p.Last, _ = r.j.SyncState()
	r.o.Progress(p)
}

// askPosition asks the backend what it holds from this station and, when
// that is less than the journal's cursor (a new or restored backend),
// makes the round send from there. A backend that cannot say (an older
// one, or one not reachable now) leaves the cursor as it is: the chunk's
// own start is checked by the backend anyway.
func (r *runner) askPosition(ctx context.Context) {
	if _, ok := r.j.(Resender); !ok {
		return
	}
	cursor, _, err := r.j.SyncState()
	if err != nil || cursor == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, r.o.RequestTimeout)
	defer cancel()
	u := strings.TrimSuffix(r.o.Endpoint, "/") + "/position?station=" + url.QueryEscape(r.j.StationID())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", r.o.UserAgent)
	if r.o.Token != "" {
		req.Header.Set("Authorization", "Bearer "+r.o.Token)
	}
	resp, err := r.o.Client.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	var pos struct {
		Held *uint64 `json:"held"`
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil || resp.StatusCode != http.StatusOK || json.Unmarshal(data, &pos) != nil || pos.Held == nil {
		return
	}
	if *pos.Held < cursor {
		r.o.Logger.Warn("the backend holds less than the journal's cursor; sending from its position", "held", *pos.Held, "cursor", cursor)
		r.resend = pos.Held
	}
}

// round sends chunks until the journal is caught up.
func (r *runner) round(ctx context.Context) error {
	station := r.j.StationID()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		since, _, err := r.j.SyncState()
		if err != nil {
			return err
		}
		var recs []manifest.Binding
		if r.resend != nil {
			since = *r.resend
			recs, err = r.j.(Resender).PendingAfter(since, r.o.ChunkSize)
		} else {
			recs, err = r.j.Pending(r.o.ChunkSize)
		}
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			r.resend = nil
			return nil
		}
		first, last := recs[0].Seq, recs[len(recs)-1].Seq
		if first <= since {
			since = first - 1
		}
		r.buf, _ = manifest.AppendChunk(r.buf[:0], station, journalID(r.j), since, recs)
		ack, replayed, err := r.deliver(ctx, IdempotencyKey(station, first, last), r.buf, station, first, last, len(recs))
		var gap *GapError
		_, canResend := r.j.(Resender)
		if errors.As(err, &gap) && canResend && gap.Held < since && (r.resend == nil || gap.Held < *r.resend) {
			// A new or restored backend: send from what it holds. Each
			// gap must move the start back, so this cannot loop.
			r.o.Logger.Warn("the backend holds less than the journal's cursor; sending from its position", "held", gap.Held, "cursor", since)
			r.resend = &gap.Held
			continue
		}
		if err != nil {
			return err
		}
		// Only now, with the remote's word for it, does the cursor move
		// (never back: an ack below it during a resend changes nothing).
		if err := r.j.Ack(ack); err != nil {
			return fmt.Errorf("sync: recording the ack of seq %d: %w", ack, err)
		}
		if r.resend != nil {
			*r.resend = ack
		}
		n := 0
		for _, b := range recs {
			if b.Seq <= ack {
				n++
			}
		}
		r.sum.Chunks++
		r.sum.Records += n
		if replayed {
			r.sum.Replayed++
		}
		r.o.Logger.Debug("sync chunk acknowledged", "first", first, "last", last, "acked", ack, "replayed", replayed)
		r.report(Progress{Kind: EvChunk, FirstSeq: first, LastSeq: last, AckedSeq: ack, Count: n})
	}
}

// deliver POSTs one chunk until it is acknowledged, rejected, or
// MaxAttempts attempts failed.
func (r *runner) deliver(ctx context.Context, key string, body []byte, station string, first, last uint64, count int) (uint64, bool, error) {
	var lastErr error
	for attempt := 1; ; attempt++ {
		r.sum.Attempts++
		ack, replayed, retryAfter, err := r.post(ctx, key, body)
		if err == nil {
			switch {
			case ack.Station != "" && ack.Station != station:
				return 0, false, fmt.Errorf("%w: acknowledged for station %q, sent for %q", ErrBadAck, ack.Station, station)
			case ack.AckedSeq < first || ack.AckedSeq > last:
				return 0, false, fmt.Errorf("%w: acked_seq %d, chunk holds %d..%d", ErrBadAck, ack.AckedSeq, first, last)
			}
			return ack.AckedSeq, replayed, nil
		}
		if ctx.Err() != nil {
			return 0, false, ctx.Err()
		}
		if errors.Is(err, ErrRejected) {
			return 0, false, err
		}
		lastErr = err
		if attempt >= r.o.MaxAttempts {
			return 0, false, fmt.Errorf("%w (%d attempts of seq %d..%d): %w", ErrGaveUp, attempt, first, last, lastErr)
		}
		wait := r.backoff(attempt)
		if retryAfter > 0 {
			wait = min(retryAfter, r.o.MaxBackoff)
		}
		r.o.Logger.Warn("sync attempt failed; retrying", "first", first, "last", last, "attempt", attempt, "wait", wait, "err", err)
		r.report(Progress{Kind: EvRetry, FirstSeq: first, LastSeq: last, Count: count, Attempt: attempt, Wait: wait, Err: err})
		if err := r.o.Sleep(ctx, wait); err != nil {
			return 0, false, err
		}
	}
}

// backoff is the wait after the n-th failed attempt.
func (r *runner) backoff(n int) time.Duration {
	d := r.o.BaseBackoff
	for i := 1; i < n && d < r.o.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, r.o.MaxBackoff)
	return d/2 + time.Duration(r.o.Rand()*float64(d/2))
}

// post makes one attempt. A nil error means a 2xx answer with a readable
// Ack; ErrRejected marks what must not be retried.
func (r *runner) post(ctx context.Context, key string, body []byte) (Ack, bool, time.Duration, error) {
	var ack Ack
	ctx, cancel := context.WithTimeout(ctx, r.o.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.o.Endpoint, bytes.NewReader(body))
	if err != nil {
		return ack, false, 0, fmt.Errorf("%w: %w", ErrRejected, err)
	}
	req.Header.Set("Content-Type", ContentType)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Idempotency-Key", key)
	req.Header.Set("User-Agent", r.o.UserAgent)
	if r.o.Token != "" {
		req.Header.Set("Authorization", "Bearer "+r.o.Token)
	}
	resp, err := r.o.Client.Do(req)
	if err != nil {
		return ack, false, 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return ack, false, 0, fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode == http.StatusConflict {
		var gap struct {
			Held *uint64 `json:"held"`
		}
		if json.Unmarshal(data, &gap) == nil && gap.Held != nil {
			return ack, false, 0, &GapError{Held: *gap.Held}
		}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		herr := &HTTPError{Status: resp.StatusCode, Body: snippet(data)}
		switch {
		case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
			return ack, false, retryAfter(resp.Header.Get("Retry-After")), herr
		default:
			return ack, false, 0, fmt.Errorf("%w: %w", ErrRejected, herr)
		}
	}
	// A 2xx that does not parse is treated as a transient fault (a proxy's
	// page, a cut body): retrying is safe under the idempotency key.
	var raw struct {
		Station  string  `json:"station"`
		AckedSeq *uint64 `json:"acked_seq"`
	}
	if err := json.Unmarshal(data, &raw); err != nil || raw.AckedSeq == nil {
		return ack, false, 0, fmt.Errorf("answer %d without a JSON acked_seq: %s", resp.StatusCode, snippet(data))
	}
	ack.Station, ack.AckedSeq = raw.Station, *raw.AckedSeq
	return ack, resp.Header.Get("Idempotent-Replayed") == "true", 0, nil
}

func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

func snippet(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > 512 {
		b = b[:512]
	}
	return strings.ToValidUTF8(string(b), "?")
}
