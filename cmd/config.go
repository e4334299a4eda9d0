package cmd

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/sdm"
)

// errConfig is wrapped by every configuration error (exit 2).
var errConfig = errors.New("bad configuration")

// Environment variables tagline reads.
const (
	envConfig        = "TAGLINE_CONFIG"
	envMasterKeyFile = "TAGLINE_MASTER_KEY_FILE"
)

// configKeys are the keys a config file may set, in documentation order.
var configKeys = []string{"station_id", "journal", "reader", "master_key_file", "template", "kdf"}

// config is the content of the config file. Empty fields were not set.
type config struct {
	Path          string // file it was read from; empty when there is none
	StationID     string
	Journal       string
	Reader        string
	MasterKeyFile string
	Template      string
	KDF           string
}

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
const configHint = `the config file holds lines of the form key = "value" (keys: station_id, journal, reader, master_key_file, template, kdf); see cmd/CONFIG.md`

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

// parseConfig parses the TOML subset described in CONFIG.md: comments,
// blank lines and `key = "value"` lines with a basic ("...") or literal
// ('...') string. Relative paths are taken from the file's directory.
func parseConfig(path, text string) (config, error) {
	var cfg config
	seen := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	n := 0
	bad := func(format string, args ...any) error {
		return &configError{path: path, line: n, msg: fmt.Sprintf(format, args...)}
	}
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if n == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "[") {
			return cfg, bad("tables (%s) are not supported; put every key at the top level", line)
		}
		key, rest, ok := strings.Cut(line, "=")
		if !ok {
			return cfg, bad("expected key = \"value\"")
		}
		key = strings.TrimSpace(key)
		if !slices.Contains(configKeys, key) {
			return cfg, bad("unknown key %q", key)
		}
		if prev, dup := seen[key]; dup {
			return cfg, bad("%s is set twice (first on line %d)", key, prev)
		}
		seen[key] = n
		val, err := parseConfigString(strings.TrimSpace(rest))
		if err != nil {
			return cfg, bad("%s: %v", key, err)
		}
		switch key {
		case "station_id":
			if err := checkStationID(val); err != nil {
				return cfg, bad("station_id: %v", err)
			}
			cfg.StationID = val
		case "journal":
			cfg.Journal = configPath(path, val)
		case "reader":
			if _, err := parseReaderSpec(val); err != nil {
				return cfg, bad("reader: %v", err)
			}
			cfg.Reader = val
		case "master_key_file":
			cfg.MasterKeyFile = configPath(path, val)
		case "template":
			if _, err := sdm.ParseTemplate(val); err != nil {
				return cfg, bad("template: %v", err)
			}
			cfg.Template = val
		case "kdf":
			if _, err := keys.ParseScheme(val); err != nil {
				return cfg, bad("kdf: %v", err)
			}
			cfg.KDF = val
		}
	}
	if err := sc.Err(); err != nil {
		return cfg, &configError{path: path, line: n + 1, msg: err.Error()}
	}
	return cfg, nil
}

// parseConfigString reads one quoted value and an optional trailing
// comment.
func parseConfigString(s string) (string, error) {
	if s == "" {
		return "", errors.New("missing value; write it in double quotes")
	}
	var val, rest string
	switch s[0] {
	case '"':
		end := -1
		for i := 1; i < len(s); i++ {
			if s[i] == '\\' {
				i++
				continue
			}
			if s[i] == '"' {
				end = i
				break
			}
		}
		if end < 0 {
			return "", errors.New("unterminated string")
		}
		v, err := strconv.Unquote(s[:end+1])
		if err != nil {
			return "", fmt.Errorf("bad escape in string")
		}
		val, rest = v, s[end+1:]
	case '\'':
		end := strings.IndexByte(s[1:], '\'')
		if end < 0 {
			return "", errors.New("unterminated string")
		}
		val, rest = s[1:end+1], s[end+2:]
	default:
		return "", errors.New("values must be quoted strings, e.g. \"value\"")
	}
	rest = strings.TrimSpace(rest)
	if rest != "" && !strings.HasPrefix(rest, "#") {
		return "", fmt.Errorf("unexpected %q after the value", rest)
	}
	return val, nil
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
