package cmd

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/reader/sim"
	"github.com/tagline-station/tagline/sdm"
)

// cli runs tagline in-process through run, with its own streams, working
// folder and environment (never the test process's own).
type cli struct {
	t         *testing.T
	dir       string
	env       map[string]string
	stdin     string
	stdinTTY  bool
	stdoutTTY bool
	runUI     uiRunner
	ctx       context.Context
	stdout    *syncBuffer
	stderr    *syncBuffer // nil: a buffer of each run's own
	// simPresented is told of the simulated tags encode presents.
	simPresented func(*sim.Tag)
}

type result struct {
	code   int
	stdout string
	stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.code, r.stdout, r.stderr)
}

// newCLI makes a temporary working folder the current one (tests using it
// cannot run in parallel) with an empty home.
func newCLI(t *testing.T) *cli {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	return &cli{t: t, dir: dir, env: map[string]string{
		"HOME":            home,
		"XDG_CONFIG_HOME": filepath.Join(home, ".config"),
		// Never the machine's /etc/tagline/config.toml.
		envSystemConfig: filepath.Join(dir, "etc", "tagline", "config.toml"),
	}}
}

func (c *cli) run(args ...string) result {
	c.t.Helper()
	ctx := c.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	out := c.stdout
	if out == nil {
		out = &syncBuffer{}
	}
	errb := c.stderr
	if errb == nil {
		errb = &syncBuffer{}
	}
	e := newEnv(strings.NewReader(c.stdin), out, errb)
	e.getenv = func(k string) string { return c.env[k] }
	e.stdinTTY = c.stdinTTY
	e.stdoutTTY = c.stdoutTTY
	if c.runUI != nil {
		e.runUI = c.runUI
	}
	e.simPresented = c.simPresented
	code := run(ctx, e, args)
	r := result{code: code, stdout: out.String(), stderr: errb.String()}
	c.t.Logf("tagline %s\n%s", strings.Join(args, " "), r)
	return r
}

// must runs a command that must exit with code want.
func (c *cli) must(want int, args ...string) result {
	c.t.Helper()
	r := c.run(args...)
	if r.code != want {
		c.t.Fatalf("tagline %s: exit %d, want %d\n%s", strings.Join(args, " "), r.code, want, r)
	}
	return r
}

func (c *cli) path(name string) string { return filepath.Join(c.dir, name) }

func (c *cli) write(name, content string, mode os.FileMode) string {
	c.t.Helper()
	p := c.path(name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		c.t.Fatal(err)
	}
	return p
}

// syncBuffer is a bytes.Buffer safe for the dispatcher goroutine, which
// can also tell when a line containing a string was written.
type syncBuffer struct {
	mu    sync.Mutex
	b     bytes.Buffer
	watch string
	seen  chan struct{}
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.b.Write(p)
	if s.seen != nil && strings.Contains(s.b.String(), s.watch) {
		close(s.seen)
		s.seen = nil
	}
	return n, err
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// when returns a channel closed once the output contains sub.
func (s *syncBuffer) when(sub string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.watch, s.seen = sub, make(chan struct{})
	return s.seen
}

// fataler is the part of testing.TB the helpers need, so that testscript
// commands can use them too.
type fataler interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// tagLine is what the test reads from --json output, independently of the
// command's own type.
type tagLine struct {
	Reader     string  `json:"reader"`
	UID        string  `json:"uid"`
	SKU        string  `json:"sku"`
	Batch      string  `json:"batch"`
	Outcome    string  `json:"outcome"`
	OK         bool    `json:"ok"`
	URL        string  `json:"url"`
	ReadCtr    uint32  `json:"read_ctr"`
	Exchanges  int     `json:"exchanges"`
	DurationMS float64 `json:"duration_ms"`
	Reason     string  `json:"reason"`
}

func parseTagLines(t fataler, out string) []tagLine {
	t.Helper()
	var ls []tagLine
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var l tagLine
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			// Unknown fields are allowed by the contract; only the line
			// being one JSON object is required.
			if err2 := json.Unmarshal([]byte(line), &l); err2 != nil {
				t.Fatalf("not a JSON object: %q: %v", line, err2)
			}
		}
		ls = append(ls, l)
	}
	return ls
}

// sunKeys are a tag's SDM keys as a backend derives them.
type sunKeys struct {
	meta     keys.Key
	fileRead func(uid []byte) keys.Key
}

// keysFromFile derives the SDM keys from a master key file the way a
// backend would, without the command's code path: the tagline scheme
// through keys.Deriver (proven against vectors in package keys), the
// sdm-backend scheme re-implemented here from libsdm/derive.py with
// crypto/hmac and the CMAC primitive.
func keysFromFile(t fataler, file, kdf string, version byte) sunKeys {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if kdf == "sdm-backend" {
		master, err := hex.DecodeString(strings.TrimSpace(string(raw)))
		if err != nil {
			t.Fatal(err)
		}
		return sdmBackendKeys(t, master)
	}
	m, err := keys.ParseMaster(raw)
	if err != nil {
		t.Fatal(err)
	}
	d, err := keys.NewDeriver(keys.SchemeTagline, m, version)
	if err != nil {
		t.Fatal(err)
	}
	return sunKeys{meta: d.MetaRead(), fileRead: func(uid []byte) keys.Key {
		k, err := d.FileRead(uid)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}}
}

func hmacSHA256(key, msg []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(msg)
	return h.Sum(nil)
}

// sdmBackendKeys follows nfc-developer/sdm-backend libsdm/derive.py: the
// meta-read key is HMAC-SHA256(master, "PICCDataKey")[:16]; tag key n is
// AES-CMAC under HMAC-SHA256(master, "SlotMasterKey"||n)[:16] of
// 01 || HMAC-SHA256(HMAC-SHA256(master, "DivBaseKey"), uid)[:16].
func sdmBackendKeys(t fataler, master []byte) sunKeys {
	t.Helper()
	mustKey := func(b []byte) keys.Key {
		k, err := keys.NewKey(b)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	if bytes.Count(master, []byte{0}) == len(master) {
		// derive.py keeps the factory keys for an all-zero master key.
		return sunKeys{meta: mustKey(make([]byte, 16)), fileRead: func([]byte) keys.Key { return mustKey(make([]byte, 16)) }}
	}
	return sunKeys{
		meta: mustKey(hmacSHA256(master, []byte("PICCDataKey"))[:16]),
		fileRead: func(uid []byte) keys.Key {
			c, err := keys.NewCMAC(hmacSHA256(master, append([]byte("SlotMasterKey"), 2))[:16])
			if err != nil {
				t.Fatal(err)
			}
			div := hmacSHA256(hmacSHA256(master, []byte("DivBaseKey")), uid)[:16]
			s := c.Sum(append([]byte{1}, div...))
			return mustKey(s[:])
		},
	}
}

// verifiedSUN is what checkSUN recovered from a URL.
type verifiedSUN struct {
	UID      string
	Ctr      uint32
	FileData []byte
}

// checkSUN verifies a SUN URL with picc_data, optional enc and cmac
// parameters as a backend does: decrypt PICCData with the meta-read key,
// derive the tag's file-read key from the UID found there, and check the
// SDMMAC over the mirrored text between the enc value and the MAC.
func checkSUN(k sunKeys, raw string) (verifiedSUN, error) {
	var v verifiedSUN
	u, err := url.Parse(raw)
	if err != nil {
		return v, err
	}
	q := u.Query()
	picc, err := hex.DecodeString(q.Get("picc_data"))
	if err != nil || len(picc) != 16 {
		return v, fmt.Errorf("picc_data %q is not 16 bytes of hex", q.Get("picc_data"))
	}
	mac, err := hex.DecodeString(q.Get("cmac"))
	if err != nil || len(mac) != 8 {
		return v, fmt.Errorf("cmac %q is not 8 bytes of hex", q.Get("cmac"))
	}
	pd, err := sdm.DecryptPICCData(k.meta, picc)
	if err != nil {
		return v, fmt.Errorf("picc data: %w", err)
	}
	if !pd.HasUID || !pd.HasCtr || len(pd.UID) != 7 {
		return v, fmt.Errorf("picc data lacks uid or counter")
	}
	fk := k.fileRead(pd.UID)
	var input []byte
	if q.Has("enc") {
		i := strings.Index(raw, "enc=") + len("enc=")
		j := strings.Index(raw, "cmac=") + len("cmac=")
		input = []byte(raw[i:j])
		ct, err := hex.DecodeString(q.Get("enc"))
		if err != nil {
			return v, err
		}
		if v.FileData, err = sdm.DecryptFileData(fk, pd.UID, pd.Ctr, ct); err != nil {
			return v, err
		}
	}
	want := sdm.MAC(fk, pd.UID, pd.Ctr, input)
	if !hmac.Equal(want[:], mac) {
		return v, fmt.Errorf("cmac does not verify")
	}
	v.UID = strings.ToUpper(hex.EncodeToString(pd.UID))
	v.Ctr = uint32(pd.Ctr)
	return v, nil
}

// waitOrFail waits for ch or fails the test after d.
func waitOrFail(t *testing.T, ch <-chan struct{}, d time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(d):
		t.Fatalf("timed out waiting for %s", what)
	}
}
