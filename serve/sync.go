package serve

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/serve/store"
)

// maxKeyLen bounds an Idempotency-Key.
const maxKeyLen = 256

type syncError struct {
	Error string `json:"error"`
}

// syncGap is the 409 answer to a chunk that starts after the backend's
// position for its station; Held is that position.
type syncGap struct {
	Error string `json:"error"`
	Held  uint64 `json:"held"`
}

func (s *Server) handleSync(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	outcome, records := "rejected", 0
	defer func() { s.m.sync(outcome, records, time.Since(start)) }()
	up, no := s.readUpload(w, r)
	if no == nil {
		no = s.admit(r.Context(), up)
	}
	if no != nil {
		if no.status >= 500 {
			outcome = "failed"
		}
		no.write(w)
		return
	}
	res, no := s.apply(r.Context(), up)
	if no != nil {
		if no.status >= 500 {
			outcome = "failed"
		}
		no.write(w)
		return
	}
	if res.Replayed {
		outcome = "replayed"
		w.Header().Set("Idempotent-Replayed", "true")
	} else {
		outcome, records = "applied", len(up.chunk.Records)
		s.m.conflicts.Add(uint64(len(res.Conflicts)))
	}
	s.logUpload(up, res)
	b, _ := json.Marshal(res.Ack)
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(b, '\n'))
}

// upload is a sync request that parsed: its key, body and chunk.
type upload struct {
	key   string
	body  []byte
	chunk *manifest.Chunk
}

// refusal is a sync request's answer other than an acknowledgement.
type refusal struct {
	status int
	msg    string
	held   *uint64 // a gap: where the station must send from
}

func refuse(status int, msg string) *refusal { return &refusal{status: status, msg: msg} }

func (no *refusal) write(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	if no.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="tagline sync"`)
	}
	w.WriteHeader(no.status)
	var b []byte
	if no.held != nil {
		b, _ = json.Marshal(syncGap{Error: no.msg, Held: *no.held})
	} else {
		b, _ = json.Marshal(syncError{no.msg})
	}
	w.Write(append(b, '\n'))
}

// readUpload authenticates the request and reads and parses its body,
// bounded by MaxSyncBytes and MaxSyncRecords.
func (s *Server) readUpload(w http.ResponseWriter, r *http.Request) (upload, *refusal) {
	var up upload
	allowed, ok := s.authorize(r)
	if !ok {
		return up, refuse(http.StatusUnauthorized, "missing or unknown bearer token")
	}
	up.key = r.Header.Get("Idempotency-Key")
	if up.key == "" || len(up.key) > maxKeyLen {
		return up, refuse(http.StatusBadRequest, "an Idempotency-Key header of at most 256 characters is required")
	}
	var err error
	up.body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxSyncBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return up, refuse(http.StatusRequestEntityTooLarge, "body larger than the server's limit; send smaller chunks")
		}
		return up, refuse(http.StatusBadRequest, "reading the body: "+err.Error())
	}
	up.chunk, err = manifest.ParseChunk(bytes.NewReader(up.body), manifest.Limits{MaxRecords: s.cfg.MaxSyncRecords, Now: s.now, ClockSkew: s.cfg.ClockSkew})
	if err != nil {
		if errors.Is(err, manifest.ErrClockAhead) {
			s.log.Warn("sync refused: the station's clock is ahead", "err", err)
		}
		return up, refuse(http.StatusUnprocessableEntity, err.Error())
	}
	switch {
	case allowed != "*" && allowed != up.chunk.Station:
		return up, refuse(http.StatusForbidden, "this token may not upload for station "+up.chunk.Station)
	case len(up.chunk.Records) == 0:
		return up, refuse(http.StatusUnprocessableEntity, "a chunk without records has nothing to acknowledge")
	}
	return up, nil
}

// admit checks the chunk against what the store holds: the journal that
// may sync for the station, the station's position, and simulated
// batches.
func (s *Server) admit(ctx context.Context, up upload) *refusal {
	c := up.chunk
	if c.Journal != "" {
		owner, err := s.store.ClaimJournal(ctx, c.Station, c.Journal)
		switch {
		case errors.Is(err, store.ErrOtherJournal):
			s.log.Warn("sync refused: a second journal claims a station", "station", c.Station, "journal", c.Journal, "holder", owner)
			return refuse(http.StatusConflict, fmt.Sprintf("station %s is synced from another journal (%s…) already, not this one (%s…): two stations share the station id (a cloned image?); give this one its own with --station-id or station_id in its config file and a new journal; a journal that replaces a lost one must be the restored file, not a new one", c.Station, owner[:8], c.Journal[:8]))
		case err != nil:
			s.log.Error("sync journal claim failed", "station", c.Station, "err", err)
			return refuse(http.StatusServiceUnavailable, "the store could not be read; retry")
		}
	}
	// The position is the backend's: a chunk that starts after what this
	// backend holds from the station (a new backend, one restored from a
	// backup) is answered with where to start, and the station sends
	// from there.
	pos, err := s.store.Position(ctx, c.Station)
	if err != nil {
		s.log.Error("sync position unreadable", "station", c.Station, "err", err)
		return refuse(http.StatusServiceUnavailable, "the store could not be read; retry")
	}
	if c.Since > pos {
		return &refusal{status: http.StatusConflict, held: &pos,
			msg: fmt.Sprintf("this backend holds the records of station %s up to seq %d, and the chunk starts after seq %d: send from seq %d (tagline sync does so by itself)", c.Station, pos, c.Since, pos)}
	}
	if !s.cfg.AcceptSimulated {
		for _, rec := range c.Records {
			if rec.Simulated {
				return refuse(http.StatusUnprocessableEntity, fmt.Sprintf("record seq %d (tag %s) is of batch %s, a simulated batch: this backend takes real tags only (start tagline serve with --accept-simulated for trials)", rec.Seq, rec.UID, rec.BatchID))
			}
		}
	}
	return nil
}

func (s *Server) apply(ctx context.Context, up upload) (store.Applied, *refusal) {
	sum := sha256.Sum256(up.body)
	res, err := s.store.ApplySync(ctx, store.Upload{Key: up.key, BodySHA256: hex.EncodeToString(sum[:]), Chunk: up.chunk})
	if errors.Is(err, store.ErrIdempotencyConflict) {
		s.log.Warn("sync idempotency key reused with another body", "station", up.chunk.Station, "key", up.key)
		return res, refuse(http.StatusUnprocessableEntity, err.Error())
	}
	if err != nil {
		s.log.Error("sync upload failed", "station", up.chunk.Station, "key", up.key, "err", err)
		return res, refuse(http.StatusServiceUnavailable, "the store could not apply the upload; retry")
	}
	return res, nil
}

func (s *Server) logUpload(up upload, res store.Applied) {
	c, ack := up.chunk, res.Ack
	for _, cf := range res.Conflicts {
		s.log.Warn("sync record conflicts with another station's binding; the first binding is kept, resolve it in the store",
			"uid", cf.Record.UID, "station", cf.Record.StationID, "seq", cf.Record.Seq, "sku", cf.Record.SKU,
			"key_version", int(cf.Record.KeyVersion), "bound_station", cf.Bound.StationID, "bound_seq", cf.Bound.Seq,
			"bound_sku", cf.Bound.SKU, "bound_key_version", int(cf.Bound.KeyVersion))
	}
	s.log.Info("sync upload", "station", c.Station, "first", c.Records[0].Seq, "last", c.NextSince,
		"count", len(c.Records), "new", ack.New, "bindings", ack.Bindings, "conflicts", ack.Conflicts, "replayed", res.Replayed)
}
