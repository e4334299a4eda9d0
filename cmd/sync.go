package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/internal/errkind"
	"github.com/tagline-station/tagline/syncer"
)

// envSyncTokenFile names the file holding the bearer token of sync (and
// the tokens serve accepts, when serve has no --token-file).
const envSyncTokenFile = "TAGLINE_SYNC_TOKEN_FILE"

type syncOptions struct {
	endpoint  string
	tokenFile string
	chunk     int
	attempts  int
	timeout   time.Duration
	watch     bool
	resend    bool
	interval  time.Duration
	json      bool
	journal   string
}

// syncJSON is the --json summary of a sync (one object per round with
// --watch). Fields are only ever added.
type syncJSON struct {
	OK         bool   `json:"ok"`
	Endpoint   string `json:"endpoint"`
	Station    string `json:"station"`
	Records    int    `json:"records"`
	Chunks     int    `json:"chunks"`
	Attempts   int    `json:"attempts"`
	Replayed   int    `json:"replayed"`
	SyncedUpto uint64 `json:"synced_upto"`
	LastSeq    uint64 `json:"last_seq"`
	Pending    uint64 `json:"pending"`
	Error      string `json:"error,omitempty"`
}

func newSyncCmd(e *env) *cobra.Command {
	o := &syncOptions{}
	c := &cobra.Command{
		Use:   "sync --endpoint URL [--token-file FILE] [--chunk N] [--resend] [--watch [--interval D]] [--json]",
		Short: "Push the journal's bindings to the brand's backend",
		Long: `sync sends the journal's bindings that the backend (tagline serve) has not
acknowledged yet, in sequence order and in chunks, to --endpoint (POST; an
endpoint without a path gets /v1/sync). The journal's sync cursor moves only
after the backend acknowledged a chunk, so nothing is ever marked synced
that the backend does not hold, and a failed or interrupted sync resumes
where it stopped. Each chunk is retried (--attempts times, with backoff)
on network errors, timeouts, 408, 429 and 5xx.

--resend sends every binding of the journal again, from the first, to a
backend that lost them or never had them (a new backend, one restored from
a backup): the backend takes a record it holds already as the same record
again, and the cursor never moves back.

The bearer token is read from --token-file or the file named by
$TAGLINE_SYNC_TOKEN_FILE (one line); it is never printed or logged.

sync needs the journal for a moment, and tagline encode holds it while it
runs: run sync between shifts, or keep tagline sync --watch running, which
opens the journal only for each round, every --interval, and retries while
the station holds it.

Exit codes: 0 when everything pending was acknowledged (with --watch:
after Ctrl-C), 1 when the backend could not be reached after the retries
or refused the upload (the station keeps encoding; run sync again later),
5 for journal errors.`,
		Example: `  tagline sync --endpoint https://backend.example/v1/sync --token-file /etc/tagline/sync.token
  TAGLINE_SYNC_TOKEN_FILE=/etc/tagline/sync.token tagline sync --endpoint https://backend.example --json
  tagline sync --endpoint https://backend.example/v1/sync --watch --interval 1m
  tagline sync --endpoint http://127.0.0.1:8424 --journal tagline-demo.db --token-file sync.token`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSync(cmd, e, o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.endpoint, "endpoint", "", "backend `URL` to POST chunks to (default path /v1/sync)")
	f.StringVar(&o.tokenFile, "token-file", "", "`FILE` holding the bearer token (default $"+envSyncTokenFile+", else token_file in the config file)")
	f.IntVar(&o.chunk, "chunk", 500, "`N` records per request (1 to 10000)")
	f.IntVar(&o.attempts, "attempts", 8, "give up on a chunk after `N` tries")
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "give up on one request after `D`")
	f.BoolVar(&o.watch, "watch", false, "keep syncing every --interval until Ctrl-C")
	f.BoolVar(&o.resend, "resend", false, "send every binding again from the first (a new or restored backend); the backend takes repeats idempotently")
	f.DurationVar(&o.interval, "interval", 30*time.Second, "with --watch: pause between rounds (`D`)")
	f.BoolVar(&o.json, "json", false, "print the summary as JSON (with --watch: one object per round that did something)")
	journalFlag(f, &o.journal)
	return c
}

func runSync(cmd *cobra.Command, e *env, o *syncOptions) error {
	if err := checkSyncFlags(cmd, o); err != nil {
		return err
	}
	endpoint, err := syncEndpoint(o.endpoint)
	if err != nil {
		return err
	}
	token, err := e.syncToken(o.tokenFile)
	if err != nil {
		return err
	}
	info := cmd.ErrOrStderr()
	if token != "" && endpoint.Scheme == "http" && !isLoopback(endpoint.Hostname()) {
		fmt.Fprintf(info, "tagline: warning: %s is plain http: the token and the records travel unencrypted\n", endpoint.Redacted())
	}
	jpath, err := e.journalPath(o.journal)
	if err != nil {
		return err
	}
	stationID, err := e.stationID("")
	if err != nil {
		return err
	}
	if err := journalExists(jpath); err != nil {
		return err
	}
	s := &syncRun{e: e, o: o, jpath: jpath, station: stationID, shown: endpoint.Redacted(), out: cmd.OutOrStdout(), progress: info}
	if o.json {
		s.progress = io.Discard
	}
	s.opts = s.options(endpoint.String(), token)
	if !o.watch {
		return s.once(cmd.Context())
	}
	return s.watch(cmd.Context())
}

func checkSyncFlags(cmd *cobra.Command, o *syncOptions) error {
	if err := requireFlags(cmd, "endpoint"); err != nil {
		return err
	}
	switch {
	case o.chunk < 1 || o.chunk > 10000:
		return usageErrorf("tagline serve takes up to 10000 records per request", "--chunk must be between 1 and 10000, got %d", o.chunk)
	case o.attempts < 1:
		return usageErrorf("", "--attempts must be at least 1, got %d", o.attempts)
	case o.timeout <= 0:
		return usageErrorf("", "--timeout must be positive")
	case cmd.Flags().Changed("interval") && !o.watch:
		return usageErrorf("add --watch to keep syncing", "--interval only applies with --watch")
	case o.interval <= 0:
		return usageErrorf("", "--interval must be positive")
	}
	return nil
}

// syncRun is one tagline sync: a single round, or rounds until Ctrl-C.
type syncRun struct {
	e             *env
	o             *syncOptions
	opts          syncer.Options
	jpath         string
	station       string
	shown         string // the endpoint without its password
	out, progress io.Writer
}

func (s *syncRun) options(endpoint, token string) syncer.Options {
	return syncer.Options{
		Endpoint:       endpoint,
		Token:          token,
		ChunkSize:      s.o.chunk,
		MaxAttempts:    s.o.attempts,
		RequestTimeout: s.o.timeout,
		Resend:         s.o.resend,
		AskPosition:    true,
		Client:         &http.Client{},
		Logger:         s.e.log,
		Progress:       s.report,
	}
}

func (s *syncRun) report(p syncer.Progress) {
	switch p.Kind {
	case syncer.EvChunk:
		fmt.Fprintf(s.progress, "sent seq %d..%d: %d %s acknowledged (synced up to %d of %d)\n",
			p.FirstSeq, p.LastSeq, p.Count, plural(p.Count, "record", "records"), p.SyncedUpto, p.Last)
	case syncer.EvRetry:
		fmt.Fprintf(s.progress, "attempt %d of seq %d..%d failed: %v; retrying in %s\n",
			p.Attempt, p.FirstSeq, p.LastSeq, oneLine(p.Err.Error()), p.Wait.Round(time.Millisecond))
	}
}

// summary prints a round's summary, stamped with the time in watch mode.
func (s *syncRun) summary(res *syncJSON, at time.Time) {
	res.Endpoint = s.shown
	writeSyncSummary(s.out, res, s.o.json, at)
}

func (s *syncRun) once(ctx context.Context) error {
	res, err := s.e.syncRound(ctx, s.jpath, s.station, s.opts)
	if res != nil {
		s.summary(res, time.Time{})
	}
	if err != nil && ctx.Err() != nil {
		return withCode(ExitFailure, errors.New("sync interrupted"), "run tagline sync again: it resumes after the last acknowledged record")
	}
	return syncError(err)
}

// watch syncs every interval until Ctrl-C; a busy journal or an outage
// only delays the next round, a refusal ends the run.
func (s *syncRun) watch(ctx context.Context) error {
	s.e.log.Info("sync watching", "endpoint", s.shown, "interval", s.o.interval)
	total := 0
	for ctx.Err() == nil {
		res, err := s.e.syncRound(ctx, s.jpath, s.station, s.opts)
		if ctx.Err() != nil {
			break
		}
		switch {
		case err == nil:
			s.opts.Resend = false // done once; later rounds send what is new
			total += res.Records
			if res.Records > 0 {
				s.summary(res, s.e.now())
			}
		case errors.Is(err, batch.ErrLocked):
			fmt.Fprintf(s.progress, "journal %s is in use (tagline encode holds it while it runs); trying again in %s\n", s.jpath, s.o.interval)
		case syncFatal(err):
			if res != nil {
				s.summary(res, s.e.now())
			}
			return syncError(err)
		default:
			if res != nil {
				total += res.Records
				s.summary(res, s.e.now())
			}
			fmt.Fprintf(s.progress, "sync round failed: %v; trying again in %s\n", oneLine(err.Error()), s.o.interval)
		}
		sleepCtx(ctx, s.o.interval)
	}
	fmt.Fprintf(s.progress, "sync stopped: %d %s acknowledged in this session\n", total, plural(total, "record", "records"))
	return nil
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// syncRound opens the journal, pushes what is pending and closes it
// again, so that the station can take the journal between rounds. The
// summary is nil when the journal could not be opened.
func (e *env) syncRound(ctx context.Context, jpath, stationID string, opts syncer.Options) (*syncJSON, error) {
	// Never create a journal: one that went away is an error, not an
	// empty journal to sync.
	if err := journalExists(jpath); err != nil {
		return nil, err
	}
	store, err := e.openJournal(jpath, stationID)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	sum, err := syncer.Run(ctx, store, opts)
	e.log.Info("sync round", "records", sum.Records, "chunks", sum.Chunks, "attempts", sum.Attempts,
		"replayed", sum.Replayed, "synced_upto", sum.SyncedUpto, "last", sum.Last, "err", err)
	res := &syncJSON{
		OK: err == nil && sum.SyncedUpto >= sum.Last, Station: store.StationID(),
		Records: sum.Records, Chunks: sum.Chunks, Attempts: sum.Attempts, Replayed: sum.Replayed,
		SyncedUpto: sum.SyncedUpto, LastSeq: sum.Last,
	}
	if sum.Last > sum.SyncedUpto {
		res.Pending = sum.Last - sum.SyncedUpto
	}
	if err != nil {
		res.Error = lowerFirst(oneLine(err.Error()))
	}
	return res, err
}

// syncFatal reports errors that another round cannot cure: a refusal by
// the backend, and journal errors other than its being in use.
func syncFatal(err error) bool {
	if errors.Is(err, syncer.ErrRejected) {
		return true
	}
	k := errkind.Of(err)
	return k != errkind.Network && k != errkind.Busy
}

// syncError gives a sync failure its exit code and hint: the network and
// the backend exit 1, the journal 5.
func syncError(err error) error {
	if err == nil {
		return nil
	}
	var he *syncer.HTTPError
	switch {
	case errors.Is(err, batch.ErrLocked):
		return withCode(ExitBusy, err, "a running station holds the journal: give it --sync URL (or sync in its config file) to send while it encodes, sync when it stops, or keep tagline sync --watch running, which retries")
	case errors.As(err, &he) && he.Status == http.StatusUnauthorized:
		return withCode(ExitFailure, err, "the backend does not know this token: check --token-file (or $"+envSyncTokenFile+") against the tokens tagline serve was given")
	case errors.As(err, &he) && he.Status == http.StatusForbidden:
		return withCode(ExitFailure, err, "the token is not allowed to upload for this station; check the station named next to it in the backend's token file")
	case errors.As(err, &he) && he.Status == http.StatusConflict:
		return withCode(ExitFailure, err, "two journals claim this station id at the backend: give this station its own --station-id (station_id in the config file) with a new journal, or sync the journal the backend knows")
	case errors.As(err, &he) && he.Status == http.StatusUnprocessableEntity:
		return withCode(ExitFailure, err, "the backend refused a record of this journal for the reason above; nothing from it on was marked synced. A station clock ahead of the backend's: set the clock right (NTP) and sync again once real time has passed the record's time; anything else: keep the journal and report it")
	case errors.As(err, &he) && he.Status == http.StatusRequestEntityTooLarge:
		return withCode(ExitFailure, err, "send smaller chunks with --chunk")
	}
	// What failed in sync and is not the remote's doing is the journal's.
	if errkind.Of(err) != errkind.Network && exitCode(err) == ExitFailure {
		return withCode(ExitJournal, err, "")
	}
	return err
}

// writeSyncSummary prints a round's summary; at, when not zero, stamps
// the rounds of --watch.
func writeSyncSummary(w io.Writer, r *syncJSON, asJSON bool, at time.Time) {
	if asJSON {
		_ = writeJSON(w, r)
		return
	}
	var b strings.Builder
	switch {
	case r.Records == 0 && r.Error == "":
		b.WriteString("nothing to sync")
	case r.Records == 0:
		fmt.Fprintf(&b, "synced nothing to %s", r.Endpoint)
	default:
		fmt.Fprintf(&b, "synced %d %s in %d %s to %s", r.Records, plural(r.Records, "record", "records"),
			r.Chunks, plural(r.Chunks, "chunk", "chunks"), r.Endpoint)
		if r.Replayed > 0 {
			fmt.Fprintf(&b, " (%d already held by the backend)", r.Replayed)
		}
	}
	fmt.Fprintf(&b, ": journal of station %s synced up to seq %d of %d", r.Station, r.SyncedUpto, r.LastSeq)
	if r.Pending > 0 {
		fmt.Fprintf(&b, ", %d pending", r.Pending)
	} else {
		b.WriteString(", nothing pending")
	}
	if !at.IsZero() {
		b.WriteString(" at " + at.Format(time.TimeOnly))
	}
	fmt.Fprintln(w, b.String())
}

// syncEndpoint checks --endpoint and gives a bare backend URL the path of
// tagline serve's sync endpoint.
func syncEndpoint(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usageErrorf("the endpoint is the backend's URL, e.g. https://backend.example/v1/sync",
			"--endpoint %q is not an http or https URL", raw)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/sync"
	}
	return u, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// syncToken reads the bearer token from --token-file, else the file named
// by $TAGLINE_SYNC_TOKEN_FILE; none is an empty token. The token itself
// never appears in an error.
func (e *env) syncToken(flag string) (string, error) {
	path, _, err := e.lookup(settingTokenFile, flag)
	if err != nil || path == "" {
		return "", err
	}
	lines, err := e.readTokenFile(path)
	if err != nil {
		return "", err
	}
	if len(lines) != 1 || strings.ContainsAny(lines[0], " \t") {
		return "", usageErrorf("the token file holds the bearer token alone, on one line",
			"token file %s must hold exactly one token", path)
	}
	return lines[0], nil
}

// readTokenFile returns the non-blank lines of a token file that are not
// comments, trimmed, and warns when others may read the file.
func (e *env) readTokenFile(path string) ([]string, error) {
	data, err := readFileCapped(path, "token file "+path, maxTokenFile)
	if errors.Is(err, errTooLarge) {
		return nil, usageErrorf("a token file holds tokens, one per line: check --token-file (or $"+envSyncTokenFile+")", "%w", err)
	}
	if err != nil {
		return nil, usageErrorf("--token-file (or $"+envSyncTokenFile+") names a readable file holding the token",
			"cannot read the token file: %w", err)
	}
	var lines []string
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return nil, usageErrorf("put the token in the file, alone on one line", "token file %s is empty", path)
	}
	warnTokenFileMode(e.stderr, path)
	return lines, nil
}

// warnTokenFileMode warns about a token file others can read.
func warnTokenFileMode(w io.Writer, path string) {
	if runtime.GOOS == "windows" {
		return
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(w, "tagline: warning: token file %s can be read by other users (mode %04o); chmod 600 %s\n", path, fi.Mode().Perm(), path)
	}
}
