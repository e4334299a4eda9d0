package cmd

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tagline-station/tagline/sdm"
	"github.com/tagline-station/tagline/serve"
	"github.com/tagline-station/tagline/serve/store"
	"github.com/tagline-station/tagline/serve/store/boltstore"
	"github.com/tagline-station/tagline/serve/store/pgstore"
)

type serveOptions struct {
	listen          string
	store           string
	template        string
	masterKeyFile   string
	kdf             string
	keyVersions     []uint
	redirects       []string
	defaultRedirect string
	rejectRedirect  string
	tokenFile       string
	logLevel        string
	rollout         string
	acceptSimulated bool
	web             serveWebOptions
}

func newServeCmd(e *env) *cobra.Command {
	o := &serveOptions{}
	c := &cobra.Command{
		Use:   "serve --store bolt:PATH|postgres://... --template URL [--listen ADDR] [--redirect SKU=URL ...]",
		Short: "Run the brand's backend: verify phone taps, receive station syncs",
		Long: `serve is the backend behind the tags' URLs. It answers

  GET <template path>   a phone's tap: the SUN message is verified with keys
                        derived from the master key (each --key-version),
                        and the read counter must move past the last one
                        accepted for the tag (the station's, at first).
                        Browsers get a 302 to the SKU's --redirect (else
                        --default-redirect); API clients (Accept:
                        application/json) get {"result":"genuine",...} or
                        replayed (409), unknown_tag (404), bad_mac (403),
                        malformed (400)
  POST /v1/sync         a chunk of a station's journal (tagline sync), with
                        a bearer token from --token-file
  GET /healthz, /metrics

The store keeps the synced bindings and the last accepted counter of each
tag: bolt:PATH is a file of its own (one serve process), postgres://...
a PostgreSQL database that several serve instances can share.

The template is the one the batches were encoded with (--template, else
template in the config file); the master key and --kdf resolve as for
encode. The token file holds one token per line, optionally followed by
the station it may upload for (default: any station); tokens are at least
16 characters and never logged. Without --token-file (or
$TAGLINE_SYNC_TOKEN_FILE) every upload is refused.

Every setting above may also come from the config file (store, listen,
template, key_versions, token_file, log_level, redirects, default_redirect,
reject_redirect; see cmd/CONFIG.md); a flag beats it.

Logs are JSON lines on stderr, or in the --log file. Ctrl-C or SIGTERM
stops serve gracefully: the listener closes and requests in flight finish.`,
		Example: `  tagline serve --store bolt:/var/lib/tagline/serve.db \
    --template 'https://sdm.tagline.example/tag?picc_data={picc}&cmac={mac}' \
    --master-key-file /etc/tagline/master.key --token-file /etc/tagline/sync.tokens \
    --redirect CAP-30-BLUE=https://brand.example/cap-30-blue --default-redirect https://brand.example/
  tagline serve --listen :8424 --store 'postgres://tagline@db.internal/tagline' \
    --template 'https://sdm.tagline.example/tag?picc_data={picc}&cmac={mac}' --key-version 1,2
  tagline serve --store bolt:demo-serve.db --master-key-file tagline-demo.key \
    --template 'https://sdm.tagline.example/tag?picc_data={picc}&cmac={mac}' --token-file sync.token`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runServe(cmd, e, o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.listen, "listen", "127.0.0.1:8424", "`ADDR` to listen on (host:port; :8424 for every interface)")
	f.StringVar(&o.store, "store", "", "`STORE`: bolt:PATH (a file) or postgres://... (PostgreSQL)")
	f.StringVar(&o.template, "template", "", "SUN URL `TEMPLATE` the tags were encoded with (default: template in the config file)")
	masterKeyFileFlag(f, &o.masterKeyFile)
	kdfFlag(f, &o.kdf)
	f.UintSliceVar(&o.keyVersions, "key-version", []uint{1}, "key `VERSIONS` taps are verified with, tried in order (repeat or comma separate)")
	f.StringArrayVar(&o.redirects, "redirect", nil, "`SKU=URL`: send genuine taps of that SKU to URL (repeatable)")
	f.StringVar(&o.defaultRedirect, "default-redirect", "", "`URL` for genuine taps of SKUs without --redirect")
	f.StringVar(&o.rejectRedirect, "reject-redirect", "", "`URL` for browsers whose tap was not genuine (?result=... is added; default: the built-in pages)")
	f.StringVar(&o.tokenFile, "token-file", "", "`FILE` of sync tokens, one per line, each optionally followed by its station (default $"+envSyncTokenFile+", else token_file in the config file)")
	f.BoolVar(&o.acceptSimulated, "accept-simulated", false, "take bindings of simulated batches (tagline demo, encode --reader sim), for trials; a production backend refuses them")
	f.StringVar(&o.rollout, "rollout", "", "`FROM:TO`: during a key rotation (tagline rekey) accept taps of tags bound with FROM that answer with TO's keys")
	serveWebFlags(f, &o.web)
	f.StringVar(&o.logLevel, "log-level", "info", "`LEVEL` of the JSON log: debug (one line per tap), info, warn or error")
	c.AddCommand(newServeMigrateCmd())
	return c
}

func runServe(cmd *cobra.Command, e *env, o *serveOptions) error {
	from, err := e.serveSettings(cmd, o)
	if err != nil {
		return err
	}
	in, err := e.checkServe(cmd, o, from)
	if err != nil {
		return err
	}
	scheme, master, _, err := e.stationKeys(o.kdf, o.masterKeyFile)
	if err != nil {
		return err
	}
	logger, err := e.serveLogger(cmd, in.level)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	st, err := openServeStore(ctx, in.kind, in.where)
	if err != nil {
		return err
	}
	defer st.Close()
	if len(in.tokens) == 0 {
		logger.Warn("no sync tokens: POST /v1/sync refuses every upload (give --token-file)")
	}
	scfg := serve.Config{
		Addr: o.listen, Template: o.template, Master: master, Scheme: scheme, KeyVersions: in.versions,
		Redirects: in.redirects, DefaultURL: o.defaultRedirect, RejectURL: o.rejectRedirect,
		Tokens: in.tokens, Store: st, Logger: logger, Rollout: in.rollout, AcceptSimulated: o.acceptSimulated,
	}
	if err := o.web.apply(&scfg); err != nil {
		return err
	}
	srv, err := serve.New(scfg)
	if err != nil {
		if exitCode(err) == ExitFailure {
			err = withCode(ExitUsage, err, "check the flags against tagline serve --help")
		}
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return withCode(ExitFailure, fmt.Errorf("cannot listen on %s: %w", o.listen, err),
			"another process may be listening there; choose another address with --listen")
	}
	fmt.Fprintf(cmd.OutOrStdout(), "tagline serve: listening on http://%s (taps: GET %s, sync: POST /v1/sync; store %s; Ctrl-C to stop)\n",
		ln.Addr(), templatePath(o.template), in.kind)
	if err := srv.Serve(ctx, ln); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// serveInputs are serve's settings, checked.
type serveInputs struct {
	kind, where string
	versions    []byte
	rollout     serve.Rollout
	redirects   map[string]string
	tokens      map[string]string
	level       slog.Level
}

// checkServe checks every setting before anything is opened; from names
// where each came from, for the messages.
func (e *env) checkServe(cmd *cobra.Command, o *serveOptions, from map[string]string) (serveInputs, error) {
	var in serveInputs
	if o.store == "" {
		return in, usageErrorf(fmt.Sprintf("usage: %s (see --help); or set store in the config file", cmd.UseLine()), "--store is required")
	}
	var err error
	if in.kind, in.where, err = parseStoreSpec(from["store"], o.store); err != nil {
		return in, err
	}
	if o.template == "" {
		return in, usageErrorf("give the template the batches were encoded with: --template URL (or template in the config file)", "no template")
	}
	if _, err := sdm.ParseTemplate(o.template); err != nil {
		return in, withCode(ExitUsage, fmt.Errorf("%s: %w", from["template"], err), hintFor(sdm.ErrTemplate))
	}
	if in.versions, err = serveKeyVersions(from["key-version"], o.keyVersions); err != nil {
		return in, err
	}
	if in.rollout, err = parseRollout(o.rollout); err != nil {
		return in, err
	}
	if in.redirects, err = serveRedirects(from["redirect"], o.redirects); err != nil {
		return in, err
	}
	for name, u := range map[string]string{"default-redirect": o.defaultRedirect, "reject-redirect": o.rejectRedirect} {
		if u != "" {
			if err := checkRedirectURL(from[name], u); err != nil {
				return in, err
			}
		}
	}
	if in.tokens, err = e.serveTokens(o.tokenFile); err != nil {
		return in, err
	}
	if err := checkListen(from["listen"], o.listen); err != nil {
		return in, err
	}
	if err := in.level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return in, usageErrorf("--log-level is debug, info, warn or error", "%s %q: %w", from["log-level"], o.logLevel, err)
	}
	return in, nil
}

// serveSettings fills the settings of o that are not on the command line
// from the environment and the config file (env.lookup's rule), and
// returns where each came from ("--listen", "listen in the config file"),
// so that a message names the place to fix.
func (e *env) serveSettings(cmd *cobra.Command, o *serveOptions) (map[string]string, error) {
	from := map[string]string{}
	for _, s := range []struct {
		setting
		dst *string
	}{
		{setting{flag: "store", key: "store"}, &o.store},
		{setting{flag: "listen", key: "listen"}, &o.listen},
		{settingTemplate, &o.template},
		{setting{flag: "log-level", key: "log_level"}, &o.logLevel},
		{setting{flag: "default-redirect", key: "default_redirect"}, &o.defaultRedirect},
		{setting{flag: "reject-redirect", key: "reject_redirect"}, &o.rejectRedirect},
		{setting{flag: "rollout", key: "rollout"}, &o.rollout},
		{setting{flag: "pages-dir", key: "pages_dir"}, &o.web.pagesDir},
		{setting{flag: "pages-lang", key: "pages_lang"}, &o.web.lang},
		{setting{flag: "verdict-key-file", key: "verdict_key_file"}, &o.web.verdictKeyFile},
		{setting{flag: "admin-token-file", key: "admin_token_file"}, &o.web.adminTokenFile},
		{setting{flag: "place-header", key: "place_header"}, &o.web.placeHeader},
	} {
		v, f, err := e.lookupFlag(cmd, s.setting)
		if err != nil {
			return nil, err
		}
		*s.dst, from[s.flag] = v, f
	}
	if err := e.serveConfigValues(cmd, o); err != nil {
		return nil, err
	}
	// The two lists follow the same rule (no environment variable): the
	// flag when given, else the config file, else the flag's default.
	from["key-version"], from["redirect"] = "--key-version", "--redirect"
	if cmd.Flags().Changed("key-version") && cmd.Flags().Changed("redirect") {
		return from, nil
	}
	cfg, err := e.config()
	if err != nil {
		return nil, err
	}
	if !cmd.Flags().Changed("key-version") && len(cfg.KeyVersions) > 0 {
		o.keyVersions, from["key-version"] = cfg.KeyVersions, cfg.source("key_versions")
	}
	if !cmd.Flags().Changed("redirect") && len(cfg.Redirects) > 0 {
		o.redirects, from["redirect"] = nil, cfg.source("redirects")
		for _, sku := range slices.Sorted(maps.Keys(cfg.Redirects)) {
			o.redirects = append(o.redirects, sku+"="+cfg.Redirects[sku])
		}
	}
	return from, nil
}

// serveConfigValues applies the config file's values that are not strings
// (booleans, durations, the product names) where no flag was given.
func (e *env) serveConfigValues(cmd *cobra.Command, o *serveOptions) error {
	cfg, err := e.config()
	if err != nil {
		return err
	}
	changed := cmd.Flags().Changed
	if !changed("accept-simulated") {
		o.acceptSimulated = cfg.AcceptSimulated
	}
	if !changed("history-keep-ip") {
		o.web.keepIP = cfg.HistoryKeepIP
	}
	if !changed("product") && len(cfg.Products) > 0 {
		o.web.products = nil
		for _, sku := range slices.Sorted(maps.Keys(cfg.Products)) {
			o.web.products = append(o.web.products, sku+"="+cfg.Products[sku])
		}
	}
	for _, d := range []struct {
		flag, key, value string
		dst              *time.Duration
	}{
		{"verdict-ttl", "verdict_ttl", cfg.VerdictTTL, &o.web.verdictTTL},
		{"history-retention", "history_retention", cfg.HistoryRetention, &o.web.retention},
	} {
		if changed(d.flag) || d.value == "" {
			continue
		}
		v, err := time.ParseDuration(d.value)
		if err != nil || v <= 0 {
			return usageErrorf("write a duration such as \"2m\" or \"9600h\"", "%s: %q is not a positive duration", cfg.source(d.key), d.value)
		}
		*d.dst = v
	}
	return nil
}

// serveKeyVersions checks the key versions taps are verified with.
func serveKeyVersions(from string, list []uint) ([]byte, error) {
	var versions []byte
	for _, v := range list {
		if v < 1 || v > 255 {
			return nil, usageErrorf("key versions are 1 to 255, as tagline batch new --key-version gives them", "%s %d is out of range", from, v)
		}
		versions = append(versions, byte(v))
	}
	return versions, nil
}

// serveRedirects reads SKU=URL pairs into a map, one URL per SKU.
func serveRedirects(from string, list []string) (map[string]string, error) {
	redirects := map[string]string{}
	for _, r := range list {
		sku, u, ok := strings.Cut(r, "=")
		sku = strings.TrimSpace(sku)
		if !ok || sku == "" {
			return nil, usageErrorf("write --redirect SKU=URL, e.g. --redirect CAP-30-BLUE=https://brand.example/cap", "%s %q is not SKU=URL", from, r)
		}
		if _, dup := redirects[sku]; dup {
			return nil, usageErrorf("give each SKU one --redirect", "%s names SKU %s twice", from, sku)
		}
		if err := checkRedirectURL(from+" "+sku, u); err != nil {
			return nil, err
		}
		redirects[sku] = u
	}
	return redirects, nil
}

// parseStoreSpec splits --store into "bolt" and a path, or "postgres" and
// a URL.
func parseStoreSpec(from, s string) (kind, where string, err error) {
	switch {
	case strings.HasPrefix(s, "bolt:") && len(s) > len("bolt:"):
		return "bolt", strings.TrimPrefix(s, "bolt:"), nil
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		return "postgres", s, nil
	}
	return "", "", usageErrorf("--store is bolt:PATH (a file of its own) or postgres://USER@HOST/DB (shared by several serve instances)",
		"%s %q is neither bolt:PATH nor a postgres:// URL", from, redactURL(s))
}

// redactURL hides a password in a store URL before it is shown.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		return u.Redacted()
	}
	return s
}

func openServeStore(ctx context.Context, kind, where string) (store.Store, error) {
	switch kind {
	case "bolt":
		st, err := boltstore.Open(where, boltstore.Options{})
		if err != nil {
			return nil, withCode(ExitFailure, fmt.Errorf("opening the store %s: %w", where, err),
				"a bolt store belongs to one serve process at a time; use postgres:// to run several")
		}
		return st, nil
	default:
		octx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		st, err := pgstore.New(octx, where, pgstore.Options{})
		if err != nil {
			return nil, withCode(ExitFailure, fmt.Errorf("opening the store %s: %w", redactURL(where), err),
				"check that PostgreSQL answers at that URL and that the user may create tables in the database")
		}
		return st, nil
	}
}

func checkRedirectURL(flag, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return usageErrorf("redirects are absolute http(s) URLs, e.g. https://brand.example/product", "%s: %q is not an http(s) URL", flag, raw)
	}
	return nil
}

// serveTokens reads the sync tokens: lines of "TOKEN" (any station) or
// "TOKEN STATION". None without a token file.
func (e *env) serveTokens(flag string) (map[string]string, error) {
	path, _, err := e.lookup(settingTokenFile, flag)
	if err != nil || path == "" {
		return nil, err
	}
	lines, err := e.readTokenFile(path)
	if err != nil {
		return nil, err
	}
	tokens := map[string]string{}
	for i, l := range lines {
		f := strings.Fields(l)
		station := "*"
		switch len(f) {
		case 1:
		case 2:
			station = f[1]
			if station != "*" {
				if err := checkStationID(station); err != nil {
					return nil, usageErrorf("each line is TOKEN or TOKEN STATION", "token file %s, token %d: station %q: %w", path, i+1, station, err)
				}
			}
		default:
			return nil, usageErrorf("each line is TOKEN or TOKEN STATION", "token file %s, token %d: too many fields", path, i+1)
		}
		if len(f[0]) < 16 {
			return nil, usageErrorf("make tokens at least 16 characters long, e.g. openssl rand -hex 16", "token file %s, token %d is shorter than 16 characters", path, i+1)
		}
		if _, dup := tokens[f[0]]; dup {
			return nil, usageErrorf("give each token once", "token file %s, token %d is given twice", path, i+1)
		}
		tokens[f[0]] = station
	}
	return tokens, nil
}

// serveLogger is serve's JSON log: on stderr, or in the --log file (which
// then gets the rest of the command's log in JSON too).
func (e *env) serveLogger(cmd *cobra.Command, level slog.Level) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: level}
	if e.logFile == "" {
		return slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), opts)), nil
	}
	f, err := os.OpenFile(e.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, usageErrorf("--log takes a file that tagline may create or append to", "cannot open log file: %w", err)
	}
	// Through a sink of its own, so that records lost to a full disk during
	// a long serve are counted and reported at exit like the root's.
	sink := newLogSink(f, e.logFile)
	l := slog.New(slog.NewJSONHandler(sink, opts))
	e.log = l
	prev := e.closeLog
	e.closeLog = func() error {
		err := sink.Close()
		if perr := prev(); err == nil {
			err = perr
		}
		return err
	}
	return l, nil
}

// checkListen refuses a --listen address that no listener can take
// because of its form (a port above 65535, no port), before anything is
// opened: a usage error, not a failure to listen.
func checkListen(from, addr string) error {
	const hint = "--listen takes host:port with a port from 0 to 65535, e.g. 127.0.0.1:8424 or :8424"
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return usageErrorf(hint, "%s %q: %w", from, addr, err)
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return usageErrorf(hint, "%s %q: port %q: %w", from, addr, port, err)
	}
	return nil
}

// templatePath is the path part of a template, for the listening line.
func templatePath(tmpl string) string {
	rest := tmpl
	if i := strings.Index(rest, "://"); i >= 0 {
		rest = rest[i+3:]
	}
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		rest = rest[i:]
	} else {
		return "/"
	}
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		rest = rest[:i]
	}
	return rest
}
