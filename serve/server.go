package serve

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/sdm"
	"github.com/tagline-station/tagline/serve/store"
	"github.com/tagline-station/tagline/serve/store/boltstore"
	"github.com/tagline-station/tagline/serve/store/pgstore"
)

// Config is everything `tagline serve` needs. Template, a master key and a
// store (Store, PostgresURL or DBPath) are required.
type Config struct {
	// Addr is where ListenAndServe listens (default "127.0.0.1:8424").
	Addr string

	// Template is the SUN URL template the tags were personalised with,
	// e.g. https://brand.example/t?picc_data={picc}&cmac={mac}. Its path
	// is the tap endpoint; a request's path and query are checked against
	// it with the template's origin.
	Template string
	// Master is the station master key. MasterKeyFile is read instead when
	// Master is zero (hex or raw bytes, as keys.LoadMaster reads it).
	Master        keys.Master
	MasterKeyFile string
	// Scheme is the key derivation (default keys.SchemeTagline).
	Scheme keys.Scheme
	// KeyVersions are the key versions taps may be verified with (default
	// [1]). They are tried in order; a tag bound with another listed
	// version is verified again with that version.
	KeyVersions []byte
	// Rollout, when set, accepts taps of tags moved from one key version
	// to the next before their new binding arrives (see Rollout).
	Rollout Rollout
	// AcceptSimulated takes bindings of simulated batches (tagline demo,
	// encode --reader sim), for trials; otherwise a chunk holding one is
	// refused whole.
	AcceptSimulated bool

	// Redirects maps a SKU to the URL a genuine tap of it is sent to;
	// DefaultURL is used for other SKUs. RejectURL, when set, receives
	// browsers whose tap was not genuine, with ?result=<result> appended;
	// otherwise they get a short text page. API clients (Accept:
	// application/json) always get JSON.
	Redirects  map[string]string
	DefaultURL string
	RejectURL  string
	// Pages are the shopper's pages (see pages.go); Verdict signs genuine
	// taps (see verdict.go).
	Pages   Pages
	Verdict VerdictConfig
	History HistoryConfig
	Admin   AdminConfig

	// Tokens maps each bearer token accepted on POST /v1/sync to the
	// station it may upload for, or "*" for any station.
	Tokens map[string]string

	// Store, when set, is used as is and left open by Close. Otherwise
	// PostgresURL selects pgstore and DBPath boltstore.
	Store       store.Store
	PostgresURL string
	PGMaxConns  int32
	DBPath      string

	// MaxSyncRecords and MaxSyncBytes bound one upload (defaults 10000
	// records and 32 MiB).
	MaxSyncRecords int
	MaxSyncBytes   int64
	// ClockSkew is how far ahead of Now a synced record's times may be
	// (default manifest.DefaultClockSkew, 5 minutes); Now is the clock
	// (default time.Now).
	ClockSkew time.Duration
	Now       func() time.Time

	// Logger gets structured logs (default: JSON on stderr, info level).
	// Taps are logged at debug level; no level logs key bytes, MACs or
	// PICCData.
	Logger *slog.Logger
	// ShutdownTimeout bounds the wait for requests in flight after the
	// context of ListenAndServe ends (default 10s).
	ShutdownTimeout time.Duration
	// DisableH2C turns off unencrypted HTTP/2 (prior knowledge), which is
	// otherwise served next to HTTP/1.1 for proxies and load balancers
	// that speak it to their backends.
	DisableH2C bool
}

// Server is the tap verifier and sync receiver.
type Server struct {
	cfg       Config
	tmpl      *sdm.Template
	origin    string // scheme://host of the template
	route     string // mux pattern of the tap endpoint
	derivers  []*keys.Deriver
	byVersion map[byte]*keys.Deriver
	store     store.Store
	ownStore  bool
	log       *slog.Logger
	m         *metrics
	tokens    []token
	handler   http.Handler
	now       func() time.Time
	pages     *pageSet
	verdict   *verdictSigner
	hist      *recorder
}

type token struct {
	hash    [32]byte
	station string
}

// New checks cfg, derives the keys, opens the store and builds the handler.
func New(cfg Config) (*Server, error) {
	s := &Server{cfg: withDefaults(cfg), log: cfg.Logger, m: newMetrics(), byVersion: map[byte]*keys.Deriver{}, now: cfg.Now}
	if s.log == nil {
		s.log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if s.now == nil {
		s.now = time.Now
	}
	var err error
	if s.tmpl, err = sdm.ParseTemplate(cfg.Template); err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	if s.origin, s.route, err = tapRoute(cfg.Template); err != nil {
		return nil, err
	}
	master, err := serveMaster(cfg)
	if err != nil {
		return nil, err
	}
	scheme := cfg.Scheme
	if scheme == "" {
		scheme = keys.SchemeTagline
	}
	versions := cfg.KeyVersions
	if len(versions) == 0 {
		versions = []byte{1}
	}
	if err := s.addDerivers(scheme, master, versions); err != nil {
		return nil, err
	}
	if err := s.addRolloutVersions(scheme, master); err != nil {
		return nil, err
	}
	if err := s.initWeb(); err != nil {
		return nil, err
	}
	if err := s.addTokens(cfg.Tokens); err != nil {
		return nil, err
	}
	if err := s.openStore(); err != nil {
		return nil, err
	}
	if err := s.initHistory(); err != nil {
		s.Close()
		return nil, fmt.Errorf("serve: tap history: %w", err)
	}
	if s.handler, err = s.routes(); err != nil {
		s.Close()
		return nil, err
	}
	s.log.Info("serve configured", "tap_route", s.route, "origin", s.origin, "scheme", string(scheme),
		"key_versions", numbers(versions), "master_kcv", master.KCV(), "sync_tokens", len(s.tokens))
	return s, nil
}

func withDefaults(cfg Config) Config {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:8424"
	}
	if cfg.MaxSyncRecords <= 0 {
		cfg.MaxSyncRecords = 10000
	}
	if cfg.MaxSyncBytes <= 0 {
		cfg.MaxSyncBytes = 32 << 20
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 10 * time.Second
	}
	return cfg
}

// serveMaster is Config.Master, else the key in Config.MasterKeyFile.
func serveMaster(cfg Config) (keys.Master, error) {
	if cfg.Master.Len() > 0 {
		return cfg.Master, nil
	}
	if cfg.MasterKeyFile == "" {
		return keys.Master{}, errors.New("serve: no master key (Config.Master or Config.MasterKeyFile)")
	}
	m, err := keys.LoadMaster(keys.Source{File: cfg.MasterKeyFile})
	if err != nil {
		return keys.Master{}, fmt.Errorf("serve: %w", err)
	}
	return m, nil
}

func (s *Server) addDerivers(scheme keys.Scheme, master keys.Master, versions []byte) error {
	for _, v := range versions {
		if _, dup := s.byVersion[v]; dup {
			continue
		}
		d, err := keys.NewDeriver(scheme, master, v)
		if err != nil {
			return fmt.Errorf("serve: key version %d: %w", v, err)
		}
		s.derivers = append(s.derivers, d)
		s.byVersion[v] = d
	}
	return nil
}

// addTokens keeps the sync tokens' hashes, sorted by station.
func (s *Server) addTokens(tokens map[string]string) error {
	for tok, st := range tokens {
		if len(tok) < 16 {
			return errors.New("serve: a sync token is shorter than 16 characters")
		}
		if st == "" {
			return errors.New(`serve: a sync token names no station; use "*" for any`)
		}
		s.tokens = append(s.tokens, token{hash: sha256.Sum256([]byte(tok)), station: st})
	}
	sort.Slice(s.tokens, func(i, j int) bool { return s.tokens[i].station < s.tokens[j].station })
	return nil
}

// openStore uses Config.Store, or opens PostgreSQL or a bbolt file, which
// the server then closes.
func (s *Server) openStore() error {
	cfg := s.cfg
	var err error
	switch {
	case cfg.Store != nil:
		s.store = cfg.Store
	case cfg.PostgresURL != "":
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if s.store, err = pgstore.New(ctx, cfg.PostgresURL, pgstore.Options{MaxConns: cfg.PGMaxConns, Now: s.now}); err != nil {
			return fmt.Errorf("serve: %w", err)
		}
		s.ownStore = true
	case cfg.DBPath != "":
		if s.store, err = boltstore.Open(cfg.DBPath, boltstore.Options{Now: s.now}); err != nil {
			return fmt.Errorf("serve: %w", err)
		}
		s.ownStore = true
	default:
		return errors.New("serve: no store (Config.Store, PostgresURL or DBPath)")
	}
	return nil
}

func (s *Server) routes() (http.Handler, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+s.route, s.handleTap)
	mux.HandleFunc("POST /v1/sync", s.handleSync)
	mux.HandleFunc("GET /v1/sync/position", s.handlePosition)
	mux.HandleFunc("GET /healthz", s.handleHealth)
	s.m.conflictsHeld = func(ctx context.Context) (int, error) {
		_, n, err := s.store.Conflicts(ctx, 0)
		return n, err
	}
	mux.Handle("GET /metrics", s.m)
	if err := s.initAdmin(mux); err != nil {
		return nil, err
	}
	return mux, nil
}

// numbers lists key versions as integers: a []byte would be logged as
// base64 ("AQI=" for versions 1 and 2).
func numbers(vs []byte) []int {
	out := make([]int, len(vs))
	for i, v := range vs {
		out[i] = int(v)
	}
	return out
}

// tapRoute splits a template into its origin and the mux pattern of its
// path: the exact path, or, when the path holds placeholders, the subtree
// of its literal prefix.
func tapRoute(tmpl string) (origin, route string, err error) {
	i := strings.Index(tmpl, "://")
	if i < 0 {
		return "", "", fmt.Errorf("serve: template %q has no scheme", tmpl)
	}
	j := strings.IndexByte(tmpl[i+3:], '/')
	if j < 0 {
		return "", "", fmt.Errorf("serve: template %q has no path", tmpl)
	}
	origin, rest := tmpl[:i+3+j], tmpl[i+3+j:]
	path := rest
	if q := strings.IndexByte(path, '?'); q >= 0 {
		path = path[:q]
	}
	if p := strings.IndexByte(path, '{'); p >= 0 {
		path = path[:strings.LastIndexByte(path[:p], '/')+1]
	}
	if strings.ContainsAny(path, " {}") || path == "" {
		return "", "", fmt.Errorf("serve: template path %q cannot be routed", path)
	}
	if path == "/" {
		path = "/{$}"
	}
	return origin, path, nil
}

// Handler serves the tap endpoint, POST /v1/sync, /healthz and /metrics.
func (s *Server) Handler() http.Handler { return s.handler }

// Store is the store in use.
func (s *Server) Store() store.Store { return s.store }

// Close closes the store if New opened it.
func (s *Server) Close() error {
	s.closeHistory()
	if s.ownStore {
		return s.store.Close()
	}
	return nil
}

// HTTPServer is the http.Server that Serve runs Handler with: header,
// read, write and idle timeouts, and HTTP/1.1 plus unencrypted HTTP/2
// unless DisableH2C.
func (s *Server) HTTPServer() *http.Server {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	if !s.cfg.DisableH2C {
		var p http.Protocols
		p.SetHTTP1(true)
		p.SetUnencryptedHTTP2(true)
		hs.Protocols = &p
	}
	return hs
}

// ListenAndServe listens on Config.Addr and serves until ctx ends, then
// shuts down gracefully (requests in flight finish, up to
// ShutdownTimeout). It does not close the store; call Close after.
func (s *Server) ListenAndServe(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}

// Serve is ListenAndServe on a listener the caller made.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := s.HTTPServer()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	s.log.Info("serve listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	s.log.Info("serve stopped", "err", err)
	return err
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.Warn("health check failed", "err", err)
		http.Error(w, "store unavailable\n", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

// authorize returns the station the request's bearer token may upload for.
func (s *Server) authorize(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	const p = "Bearer "
	if len(h) <= len(p) || !strings.EqualFold(h[:len(p)], p) {
		return "", false
	}
	sum := sha256.Sum256([]byte(h[len(p):]))
	station, ok := "", false
	for _, t := range s.tokens { // every token compared, in constant time
		if subtle.ConstantTimeCompare(sum[:], t.hash[:]) == 1 {
			station, ok = t.station, true
		}
	}
	return station, ok
}
