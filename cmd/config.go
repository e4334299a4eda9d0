package cmd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"

	"github.com/tagline-station/tagline/internal/errkind"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"

	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/sdm"
)

// errConfig is wrapped by every configuration error (exit 2).
var errConfig = errkind.New(errkind.Usage, "bad configuration")

// Environment variables tagline reads.
const (
	envConfig        = "TAGLINE_CONFIG"
	envMasterKeyFile = "TAGLINE_MASTER_KEY_FILE"
)

// config is the content of the config file. Empty fields were not set.
// The toml tags are the keys a config file may set; every other key is
// refused.
type config struct {
	Path string `toml:"-"` // file it was read from; empty when there is none

	// Files are the files read, system-wide first; From maps each key set
	// to the file that set it (configlayers.go).
	Files []string          `toml:"-"`
	From  map[string]string `toml:"-"`

	StationID     string `toml:"station_id,omitempty"`
	Journal       string `toml:"journal,omitempty"`
	Reader        string `toml:"reader,omitempty"`
	MasterKeyFile string `toml:"master_key_file,omitempty"`
	Template      string `toml:"template,omitempty"`
	KDF           string `toml:"kdf,omitempty"`
	TokenFile     string `toml:"token_file,omitempty"`
	Sync          string `toml:"sync,omitempty"`

	// serve's settings.
	Store           string            `toml:"store,omitempty"`
	Listen          string            `toml:"listen,omitempty"`
	KeyVersions     []uint            `toml:"key_versions,omitempty"`
	LogLevel        string            `toml:"log_level,omitempty"`
	Redirects       map[string]string `toml:"redirects,omitempty"`
	DefaultRedirect string            `toml:"default_redirect,omitempty"`
	RejectRedirect  string            `toml:"reject_redirect,omitempty"`
	AcceptSimulated bool              `toml:"accept_simulated,omitempty"`
	Rollout         string            `toml:"rollout,omitempty"`

	// serve's pages, verdict, brand's view and tap history.
	PagesDir         string            `toml:"pages_dir,omitempty"`
	PagesLang        string            `toml:"pages_lang,omitempty"`
	Products         map[string]string `toml:"products,omitempty"`
	VerdictKeyFile   string            `toml:"verdict_key_file,omitempty"`
	VerdictTTL       string            `toml:"verdict_ttl,omitempty"`
	AdminTokenFile   string            `toml:"admin_token_file,omitempty"`
	HistoryRetention string            `toml:"history_retention,omitempty"`
	HistoryKeepIP    bool              `toml:"history_keep_ip,omitempty"`
	PlaceHeader      string            `toml:"place_header,omitempty"`
}

// configTables are the keys that may also be written as a [table].
var configTables = []string{"redirects", "products"}

type configError struct {
	path string
	line int
	msg  string
}

func (e *configError) Error() string {
	if e.line > 0 {
		return fmt.Sprintf("config %s:%d: %s", e.path, e.line, e.msg)
	}
	return fmt.Sprintf("config %s: %s", e.path, e.msg)
}

func (e *configError) Unwrap() error { return errConfig }

// configHint is shown under every configuration error.
var configHint = `the config file holds lines of the form key = "value" (keys: ` + strings.Join(configKeyNames(), ", ") + `); see cmd/CONFIG.md`

// configLocation picks the file: --config, then $TAGLINE_CONFIG, then the
// per-user default. required reports whether a missing file is an error
// (it is when the operator named it).
func configLocation(flag string, getenv func(string) string) (path string, required bool) {
	if flag != "" {
		return flag, true
	}
	if p := getenv(envConfig); p != "" {
		return p, true
	}
	dir, err := userConfigDir(getenv)
	if err != nil {
		return "", false
	}
	return filepath.Join(dir, "tagline", "config.toml"), false
}

// userConfigDir is os.UserConfigDir with the environment read through
// getenv, so that tests control it.
func userConfigDir(getenv func(string) string) (string, error) {
	switch runtime.GOOS {
	case "windows", "darwin", "ios", "plan9":
		return os.UserConfigDir()
	}
	if d := getenv("XDG_CONFIG_HOME"); d != "" && filepath.IsAbs(d) {
		return d, nil
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".config"), nil
	}
	return "", errors.New("neither $XDG_CONFIG_HOME nor $HOME is defined")
}

// loadConfig reads the config file at path. A missing file that was not
// required yields an empty config.
func loadConfig(path string, required bool) (config, error) {
	cfg := config{}
	if path == "" {
		return cfg, nil
	}
	data, err := readFileCapped(path, "config file", maxConfigFile)
	if err != nil {
		if errors.Is(err, errTooLarge) {
			return cfg, &configError{path: path, msg: fmt.Sprintf("larger than %s; a config file holds a few key = \"value\" lines: check --config or $%s", sizeText(maxConfigFile), envConfig)}
		}
		if errors.Is(err, fs.ErrNotExist) && !required {
			return cfg, nil
		}
		if errors.Is(err, fs.ErrNotExist) {
			return cfg, &configError{path: path, msg: "no such file"}
		}
		return cfg, &configError{path: path, msg: err.Error()}
	}
	cfg, err = parseConfig(path, string(data))
	if err != nil {
		return config{}, err
	}
	cfg.Path = path
	return cfg, nil
}

// parseConfig reads a config file (cmd/CONFIG.md) with a maintained TOML
// parser. The top-level keys are walked first, so that an unknown key, a
// key set twice or a table is reported with its line; then each value is
// checked with the rule its flag has. Relative paths are taken from the
// file's directory.
func parseConfig(path, text string) (config, error) {
	text = strings.TrimPrefix(text, "\ufeff")
	lines, err := configKeyLines(path, text)
	if err != nil {
		return config{}, err
	}
	var cfg config
	if err := toml.Unmarshal([]byte(text), &cfg); err != nil {
		return config{}, configDecodeError(path, text, err)
	}
	if err := cfg.check(path, lines); err != nil {
		return config{}, err
	}
	cfg.Journal = configPath(path, cfg.Journal)
	cfg.MasterKeyFile = configPath(path, cfg.MasterKeyFile)
	cfg.TokenFile = configPath(path, cfg.TokenFile)
	return cfg, nil
}

// configKeyLines maps each top-level key to its line, refusing unknown
// keys, keys set twice, tables other than configTables, and the syntax
// errors the parser finds.
func configKeyLines(path, text string) (map[string]int, error) {
	known := configKeyNames()
	lines := map[string]int{}
	var p unstable.Parser
	p.Reset([]byte(text))
	table := ""
	for p.NextExpression() {
		e := p.Expression()
		if e.Kind != unstable.KeyValue && e.Kind != unstable.Table && e.Kind != unstable.ArrayTable {
			continue
		}
		it := e.Key()
		it.Next()
		name, line := string(it.Node().Data), p.Shape(it.Node().Raw).Start.Line
		if e.Kind != unstable.KeyValue {
			table = name
			if e.Kind == unstable.ArrayTable || !slices.Contains(configTables, name) || !it.IsLast() {
				header := strings.TrimSpace(strings.Split(text, "\n")[line-1])
				return nil, &configError{path: path, line: line, msg: fmt.Sprintf("tables (%s) are not supported; put every key at the top level (only %s may be a table)", header, strings.Join(configTables, ", "))}
			}
		} else if table != "" {
			continue // a key of an allowed table: the decoder checks its value
		}
		if !slices.Contains(known, name) {
			return nil, &configError{path: path, line: line, msg: fmt.Sprintf("unknown key %q", name)}
		}
		if prev, dup := lines[name]; dup {
			return nil, &configError{path: path, line: line, msg: fmt.Sprintf("%s is set twice (first on line %d)", name, prev)}
		}
		lines[name] = line
	}
	if err := p.Error(); err != nil {
		var pe *unstable.ParserError
		if !errors.As(err, &pe) {
			return nil, &configError{path: path, msg: err.Error()}
		}
		at := p.Shape(p.Range(pe.Highlight)).Start
		return nil, configSyntaxError(path, text, at.Line, at.Column, pe.Message)
	}
	return lines, nil
}

// configSyntaxError says what is wrong on a line in the words of the
// config file's documentation rather than the parser's.
func configSyntaxError(path, text string, line, col int, msg string) error {
	src := strings.Split(text, "\n")[line-1]
	bad := func(format string, args ...any) error {
		return &configError{path: path, line: line, msg: fmt.Sprintf(format, args...)}
	}
	key, _, ok := strings.Cut(src, "=")
	key = strings.TrimSpace(key)
	switch {
	case !ok || strings.HasPrefix(msg, "expected '='"):
		return bad("expected key = \"value\"")
	case strings.HasSuffix(msg, "at start of value"):
		return bad("%s: values must be quoted strings, e.g. \"value\"", key)
	case strings.Contains(msg, "cannot have new lines"):
		return bad("%s: unterminated string", key)
	case strings.HasPrefix(msg, "expected newline") && col-1 < len(src):
		return bad("%s: unexpected %q after the value", key, strings.TrimSpace(src[col-1:]))
	}
	return bad("%s: %s", key, msg)
}

// configDecodeError reports a value of the wrong type with its line.
func configDecodeError(path, text string, err error) error {
	var de *toml.DecodeError
	if !errors.As(err, &de) {
		return &configError{path: path, msg: err.Error()}
	}
	line, _ := de.Position()
	key := strings.Join(de.Key(), ".")
	want := "a quoted string, e.g. \"value\""
	switch {
	case key == "key_versions" || strings.HasPrefix(key, "key_versions."):
		key, want = "key_versions", "a list of numbers 1 to 255, e.g. [1, 2]"
	case strings.HasPrefix(key, "redirects"):
		want = "SKU = \"URL\" pairs, e.g. redirects = { \"CAP-30-BLUE\" = \"https://brand.example/cap\" }"
	case strings.HasPrefix(key, "products"):
		want = "SKU = \"NAME\" pairs, e.g. products = { \"CAP-30-BLUE\" = \"Blue cap, 30 mm\" }"
	case key == "history_keep_ip" || key == "accept_simulated":
		want = "true or false"
	}
	return &configError{path: path, line: line, msg: fmt.Sprintf("%s: must be %s", key, want)}
}

// check applies to each station value the rule its flag has, so that a
// bad value is reported with its line when the file is read. serve's
// values are checked where serve uses them, with their source named.
func (c *config) check(path string, lines map[string]int) error {
	bad := func(key string, err error) error {
		return &configError{path: path, line: lines[key], msg: fmt.Sprintf("%s: %v", key, err)}
	}
	if c.StationID != "" || lines["station_id"] > 0 {
		if err := checkStationID(c.StationID); err != nil {
			return bad("station_id", err)
		}
	}
	if c.Reader != "" || lines["reader"] > 0 {
		if _, err := parseReaderSpec(c.Reader); err != nil {
			return bad("reader", err)
		}
	}
	if c.Template != "" || lines["template"] > 0 {
		if _, err := sdm.ParseTemplate(c.Template); err != nil {
			return bad("template", err)
		}
	}
	if c.KDF != "" || lines["kdf"] > 0 {
		if _, err := keys.ParseScheme(c.KDF); err != nil {
			return bad("kdf", err)
		}
	}
	if c.Sync != "" || lines["sync"] > 0 {
		if _, err := syncEndpoint(c.Sync); err != nil {
			return bad("sync", errors.New("must be the backend's http or https URL, e.g. https://backend.example"))
		}
	}
	if lines["key_versions"] > 0 && len(c.KeyVersions) == 0 {
		return bad("key_versions", errors.New("must name at least one key version, e.g. [1]"))
	}
	if len(c.Redirects) == 0 {
		c.Redirects = nil // redirects = {} says nothing
	}
	if len(c.Products) == 0 {
		c.Products = nil
	}
	return nil
}

// configKeyNames lists the keys a config file may set, from the toml tags
// of config, in documentation order.
func configKeyNames() []string {
	t := reflect.TypeFor[config]()
	var names []string
	for i := range t.NumField() {
		if n, _, _ := strings.Cut(t.Field(i).Tag.Get("toml"), ","); n != "-" && n != "" {
			names = append(names, n)
		}
	}
	return names
}

// configPath resolves a relative path against the config file's folder.
func configPath(cfgPath, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(cfgPath), p)
}

// checkStationID applies the journal's naming rule early, so that a bad
// station_id is reported with its line.
func checkStationID(s string) error {
	if s == "" || len(s) > 64 {
		return errors.New("must be 1 to 64 characters")
	}
	for i, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			(i > 0 && (r == '-' || r == '_' || r == '.'))
		if !ok {
			return errors.New("may hold only letters, digits and '-', '_', '.' (not first)")
		}
	}
	return nil
}
