package serve

import (
	"bytes"
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
	fail := func(status int, msg string) {
		if status >= 500 {
			outcome = "failed"
		}
		w.Header().Set("Content-Type", "application/json")
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tagline sync"`)
		}
		w.WriteHeader(status)
		b, _ := json.Marshal(syncError{msg})
		w.Write(append(b, '\n'))
	}
	allowed, ok := s.authorize(r)
	if !ok {
		fail(http.StatusUnauthorized, "missing or unknown bearer token")
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if key == "" || len(key) > maxKeyLen {
		fail(http.StatusBadRequest, "an Idempotency-Key header of at most 256 characters is required")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxSyncBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			fail(http.StatusRequestEntityTooLarge, "body larger than the server's limit; send smaller chunks")
			return
		}
		fail(http.StatusBadRequest, "reading the body: "+err.Error())
		return
	}
	c, err := manifest.ParseChunk(bytes.NewReader(body), manifest.Limits{MaxRecords: s.cfg.MaxSyncRecords, Now: s.now, ClockSkew: s.cfg.ClockSkew})
	if err != nil {
		if errors.Is(err, manifest.ErrClockAhead) {
			s.log.Warn("sync refused: the station's clock is ahead", "err", err)
		}
		fail(http.StatusUnprocessableEntity, err.Error())
		return
	}
	if allowed != "*" && allowed != c.Station {
		fail(http.StatusForbidden, "this token may not upload for station "+c.Station)
		return
	}
	if len(c.Records) == 0 {
		fail(http.StatusUnprocessableEntity, "a chunk without records has nothing to acknowledge")
		return
	}
	if c.Journal != "" {
		owner, err := s.store.ClaimJournal(r.Context(), c.Station, c.Journal)
		switch {
		case errors.Is(err, store.ErrOtherJournal):
			s.log.Warn("sync refused: a second journal claims a station", "station", c.Station, "journal", c.Journal, "holder", owner)
			fail(http.StatusConflict, fmt.Sprintf("station %s is synced from another journal (%s…) already, not this one (%s…): two stations share the station id (a cloned image?); give this one its own with --station-id or station_id in its config file and a new journal; a journal that replaces a lost one must be the restored file, not a new one", c.Station, owner[:8], c.Journal[:8]))
			return
		case err != nil:
			s.log.Error("sync journal claim failed", "station", c.Station, "err", err)
			fail(http.StatusServiceUnavailable, "the store could not be read; retry")
			return
		}
	}
	// The position is the backend's: a chunk that starts after what this
	// backend holds from the station (a new backend, one restored from a
	// backup) is answered with where to start, and the station sends
	// from there.
	pos, err := s.store.Position(r.Context(), c.Station)
	if err != nil {
		s.log.Error("sync position unreadable", "station", c.Station, "err", err)
		fail(http.StatusServiceUnavailable, "the store could not be read; retry")
		return
	}
	if c.Since > pos {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusConflict)
		b, _ := json.Marshal(syncGap{
			Error: fmt.Sprintf("this backend holds the records of station %s up to seq %d, and the chunk starts after seq %d: send from seq %d (tagline sync does so by itself)", c.Station, pos, c.Since, pos),
			Held:  pos,
		})
		w.Write(append(b, '\n'))
		return
	}
	if !s.cfg.AcceptSimulated {
		for _, rec := range c.Records {
			if rec.Simulated {
				fail(http.StatusUnprocessableEntity, fmt.Sprintf("record seq %d (tag %s) is of batch %s, a simulated batch: this backend takes real tags only (start tagline serve with --accept-simulated for trials)", rec.Seq, rec.UID, rec.BatchID))
				return
			}
		}
	}
	sum := sha256.Sum256(body)
	res, err := s.store.ApplySync(r.Context(), store.Upload{Key: key, BodySHA256: hex.EncodeToString(sum[:]), Chunk: c})
	if errors.Is(err, store.ErrIdempotencyConflict) {
		s.log.Warn("sync idempotency key reused with another body", "station", c.Station, "key", key)
		fail(http.StatusUnprocessableEntity, err.Error())
		return
	}
	if err != nil {
		s.log.Error("sync upload failed", "station", c.Station, "key", key, "err", err)
		fail(http.StatusServiceUnavailable, "the store could not apply the upload; retry")
		return
	}
	ack := res.Ack
	if res.Replayed {
		outcome = "replayed"
		w.Header().Set("Idempotent-Replayed", "true")
	} else {
		outcome, records = "applied", len(c.Records)
		s.m.conflicts.Add(uint64(len(res.Conflicts)))
	}
	for _, cf := range res.Conflicts {
		s.log.Warn("sync record conflicts with another station's binding; the first binding is kept, resolve it in the store",
			"uid", cf.Record.UID, "station", cf.Record.StationID, "seq", cf.Record.Seq, "sku", cf.Record.SKU,
			"key_version", int(cf.Record.KeyVersion), "bound_station", cf.Bound.StationID, "bound_seq", cf.Bound.Seq,
			"bound_sku", cf.Bound.SKU, "bound_key_version", int(cf.Bound.KeyVersion))
	}
	s.log.Info("sync upload", "station", c.Station, "first", c.Records[0].Seq, "last", c.NextSince,
		"count", len(c.Records), "new", ack.New, "bindings", ack.Bindings, "conflicts", ack.Conflicts, "replayed", res.Replayed)
	b, _ := json.Marshal(ack)
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(b, '\n'))
}
