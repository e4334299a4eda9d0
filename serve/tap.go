package serve

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/sdm"
	"github.com/tagline-station/tagline/serve/store"
)

// TapAnswer is the JSON answer of the tap endpoint.
type TapAnswer struct {
	Result  string       `json:"result"`
	UID     manifest.UID `json:"uid,omitempty"`
	SKU     string       `json:"sku,omitempty"`
	Batch   string       `json:"batch,omitempty"`
	ReadCtr uint32       `json:"read_ctr,omitempty"`
	// URL is where a browser would have been sent (genuine taps).
	URL string `json:"url,omitempty"`
	// KeyVersion is the key version whose keys verified the tap.
	KeyVersion int `json:"key_version,omitempty"`
	// Verdict is the signed verdict of a genuine tap (see verdict.go),
	// when Config.Verdict has a key.
	Verdict string `json:"verdict,omitempty"`
	// Tamper is the TagTamper loop's status (closed, opened, invalid) a
	// template with {tt} proves; empty without.
	Tamper sdm.Tamper `json:"tamper,omitempty"`

	readsBefore int // reads between the station's read-back and this tap
}

// tapStatus is the HTTP status of each result for API clients.
var tapStatus = map[string]int{
	ResultGenuine:   http.StatusOK,
	ResultReplayed:  http.StatusConflict,
	ResultUnknown:   http.StatusNotFound,
	ResultBadMAC:    http.StatusForbidden,
	ResultMalformed: http.StatusBadRequest,
	ResultError:     http.StatusServiceUnavailable,
}

func (s *Server) handleTap(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodHead {
		// A HEAD (a link preview, a checker) must not spend the tag's
		// counter: only a GET is a tap.
		w.Header().Set("Allow", "GET")
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	start := time.Now()
	target := r.RequestURI
	if !strings.HasPrefix(target, "/") {
		target = r.URL.RequestURI() // absolute-form, from a proxy
	}
	ans := s.Verify(r.Context(), s.origin+target)
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if wantsJSON(r) {
		b, _ := json.Marshal(ans)
		h.Set("Content-Type", "application/json")
		w.WriteHeader(tapStatus[ans.Result])
		w.Write(append(b, '\n'))
	} else if ans.Result == ResultGenuine && ans.URL != "" {
		http.Redirect(w, r, ans.URL, http.StatusFound)
	} else if ans.Result != ResultGenuine && s.cfg.RejectURL != "" {
		http.Redirect(w, r, withQuery(s.cfg.RejectURL, "result", ans.Result), http.StatusFound)
	} else {
		s.pages.render(w, ans, s.now())
	}
	s.m.tap(ans.Result, time.Since(start))
	s.record(r, ans)
}

func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

func withQuery(u, k, v string) string {
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + k + "=" + url.QueryEscape(v)
}

// Verify decides a tap of the SUN URL u: it checks the URL against the
// template and the SDMMAC with the configured key versions, then records
// the read counter in the store, which accepts it only above the last
// accepted one. It is what the tap endpoint answers.
func (s *Server) Verify(ctx context.Context, u string) TapAnswer {
	v, d, err := s.verifyWith(u, s.derivers)
	if err != nil {
		return s.reject(err)
	}
	uid := strings.ToUpper(hex.EncodeToString(v.UID))
	ctr := uint32(v.Ctr)
	t, err := s.store.Tap(ctx, uid, ctr, d.Version())
	verified := d.Version()
	if err == nil && t.Result == store.OtherKeyVersion && s.rolledForward(verified, t.Binding.KeyVersion) {
		s.log.Info("tap verified with the rollout's new key version", "uid", uid, "verified_with", verified, "bound_with", t.Binding.KeyVersion)
		t, err = s.store.Tap(ctx, uid, ctr, t.Binding.KeyVersion)
	} else if err == nil && t.Result == store.OtherKeyVersion {
		// Bound with another version: the tag must verify with that
		// version's keys, then the counter is checked against it.
		other := s.byVersion[t.Binding.KeyVersion]
		if other == nil || other == d {
			s.log.Warn("tap verified with a key version the tag is not bound with", "uid", uid, "verified_with", d.Version(), "bound_with", t.Binding.KeyVersion)
			return TapAnswer{Result: ResultBadMAC}
		}
		if _, _, err := s.verifyWith(u, []*keys.Deriver{other}); err != nil {
			return s.reject(err)
		}
		t, err = s.store.Tap(ctx, uid, ctr, other.Version())
		verified = other.Version()
	}
	if err != nil {
		s.log.Error("tap store failure", "uid", uid, "read_ctr", ctr, "err", err)
		return TapAnswer{Result: ResultError}
	}
	ans := TapAnswer{UID: manifest.UID(uid), ReadCtr: ctr, SKU: t.Binding.SKU, Batch: t.Binding.BatchID, KeyVersion: int(verified), Tamper: v.Tamper}
	switch t.Result {
	case store.Accepted:
		ans.Result = ResultGenuine
		ans.URL = s.cfg.DefaultURL
		if to, ok := s.cfg.Redirects[t.Binding.SKU]; ok {
			ans.URL = to
		}
		ans.readsBefore = readsSince(t.Binding.ReadCtr, ctr)
		s.sign(&ans)
	case store.Replayed:
		ans.Result = ResultReplayed
	case store.Unknown:
		ans.Result = ResultUnknown
	default:
		ans.Result = ResultBadMAC
	}
	s.log.Debug("tap", "result", ans.Result, "uid", uid, "read_ctr", ctr, "last_ctr", t.LastCtr, "sku", ans.SKU)
	return ans
}

// verifyWith tries each deriver in turn. A URL that does not fit the
// template fails at once; a MAC or PICCData failure goes on to the next
// key version.
func (s *Server) verifyWith(u string, ds []*keys.Deriver) (sdm.Verified, *keys.Deriver, error) {
	var last error
	for _, d := range ds {
		v, err := s.tmpl.Verify(u, d)
		if err == nil {
			return v, d, nil
		}
		if !errors.Is(err, sdm.ErrBadMAC) && !errors.Is(err, sdm.ErrBadPICCData) {
			return v, nil, err
		}
		last = err
	}
	return sdm.Verified{}, nil, last
}

func (s *Server) reject(err error) TapAnswer {
	if errors.Is(err, sdm.ErrBadMAC) || errors.Is(err, sdm.ErrBadPICCData) {
		s.log.Debug("tap", "result", ResultBadMAC, "reason", err.Error())
		return TapAnswer{Result: ResultBadMAC}
	}
	// ErrURLMismatch, ErrURLField, a UID of the wrong size, file data
	// that does not decrypt: not a message of ours.
	s.log.Debug("tap", "result", ResultMalformed, "reason", err.Error())
	return TapAnswer{Result: ResultMalformed}
}
