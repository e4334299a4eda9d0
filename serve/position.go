package serve

import (
	"encoding/json"
	"net/http"
)

// handlePosition answers GET /v1/sync/position?station=S with the
// highest seq this backend holds from station S ({"held":N}), so that a
// station pointed at a new or restored backend sends from there.
func (s *Server) handlePosition(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	allowed, ok := s.authorize(r)
	station := r.URL.Query().Get("station")
	switch {
	case !ok:
		w.Header().Set("WWW-Authenticate", `Bearer realm="tagline sync"`)
		writeJSONStatus(w, http.StatusUnauthorized, syncError{"missing or unknown bearer token"})
		return
	case station == "" || len(station) > 64:
		writeJSONStatus(w, http.StatusBadRequest, syncError{"give ?station= (at most 64 bytes)"})
		return
	case allowed != "*" && allowed != station:
		writeJSONStatus(w, http.StatusForbidden, syncError{"this token may not read the position of station " + station})
		return
	}
	pos, err := s.store.Position(r.Context(), station)
	if err != nil {
		s.log.Error("sync position unreadable", "station", station, "err", err)
		writeJSONStatus(w, http.StatusServiceUnavailable, syncError{"the store could not be read; retry"})
		return
	}
	writeJSONStatus(w, http.StatusOK, struct {
		Station string `json:"station"`
		Held    uint64 `json:"held"`
	}{station, pos})
}

func writeJSONStatus(w http.ResponseWriter, status int, v any) {
	w.WriteHeader(status)
	b, _ := json.Marshal(v)
	w.Write(append(b, '\n'))
}
