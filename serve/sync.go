package serve

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/tagline-station/tagline/serve/store"
	"github.com/tagline-station/tagline/syncer"
)

// maxKeyLen bounds an Idempotency-Key.
const maxKeyLen = 256

type syncError struct {
	Error string `json:"error"`
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
	c, err := syncer.ParseChunk(bytes.NewReader(body), s.cfg.MaxSyncRecords)
	if err != nil {
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
	sum := sha256.Sum256(body)
	ack, replayed, err := s.store.ApplySync(r.Context(), store.Upload{Key: key, BodySHA256: hex.EncodeToString(sum[:]), Chunk: c})
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
	if replayed {
		outcome = "replayed"
		w.Header().Set("Idempotent-Replayed", "true")
	} else {
		outcome, records = "applied", len(c.Records)
	}
	s.log.Info("sync upload", "station", c.Station, "first", c.Records[0].Seq, "last", c.NextSince,
		"count", len(c.Records), "new", ack.New, "bindings", ack.Bindings, "replayed", replayed)
	b, _ := json.Marshal(ack)
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(b, '\n'))
}
