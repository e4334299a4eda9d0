package cmd

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/spf13/pflag"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/keys"
)

// errNoJournal reports a journal file that does not exist yet.
var errNoJournal = errors.New("no journal")

// journalPath resolves --journal, then the config file, then the default.
func (e *env) journalPath(flag string) (string, error) {
	if p, _, err := e.lookup(settingJournal, flag); p != "" || err != nil {
		return p, err
	}
	p, err := batch.DefaultPath()
	if err != nil {
		return "", usageErrorf("pass --journal FILE or set journal in the config file", "%w", err)
	}
	return p, nil
}

// stationID resolves --station-id, then the config file.
func (e *env) stationID(flag string) (string, error) {
	if flag != "" {
		if err := checkStationID(flag); err != nil {
			return "", usageErrorf("", "--station-id %q: %w", flag, err)
		}
		return flag, nil
	}
	id, _, err := e.lookup(settingStation, "")
	return id, err
}

// openJournal opens the journal for writing, creating it if needed.
func (e *env) openJournal(path, stationID string) (*batch.Store, error) {
	if err := journalPathProblem(path); err != nil {
		return nil, err
	}
	e.log.Info("open journal", "path", path, "station_id", stationID)
	st, err := batch.Open(path, batch.Options{StationID: stationID, Now: e.now})
	if errors.Is(err, batch.ErrLocked) {
		return nil, heldError(path, err)
	}
	if err != nil {
		return nil, err
	}
	return st, nil
}

// openJournalRO opens an existing journal read-only. A missing file is
// reported as errNoJournal.
func (e *env) openJournalRO(path string) (*batch.Store, error) {
	if err := journalExists(path); err != nil {
		return nil, err
	}
	e.log.Info("open journal read-only", "path", path)
	st, err := batch.Open(path, batch.Options{ReadOnly: true, Now: e.now})
	if errors.Is(err, batch.ErrLocked) {
		return e.openHeldCopy(path, err)
	}
	return st, err
}

// journalExists reports a missing journal file as errNoJournal (exit 5),
// for commands that must not create one.
func journalExists(path string) error {
	if err := journalPathProblem(path); err != nil {
		return err
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return withCode(ExitJournal, fmt.Errorf("%w at %s", errNoJournal, path),
			"check --journal (or journal in the config file); tagline batch new creates the journal")
	}
	return nil
}

// journalPathProblem reports a journal path that cannot be a journal: a
// directory, a device or pipe, or a symbolic link to nothing. A dangling
// link usually points at a journal on storage that is missing (unmounted,
// restored elsewhere); creating a fresh journal behind it would split the
// station's records, so it is a journal error (exit 5), never created.
// A path that does not exist at all is left to the caller.
func journalPathProblem(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		target, _ := os.Readlink(path)
		if fi, err = os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return withCode(ExitJournal, fmt.Errorf("journal %s is a symbolic link to %s, which does not exist", path, target),
				"mount or restore the journal the link points to, or point --journal (or journal in the config file) at the journal file itself")
		} else if err != nil {
			return nil // batch.Open reports it
		}
	}
	switch {
	case fi.IsDir():
		return withCode(ExitJournal, fmt.Errorf("journal %s is a directory", path),
			"--journal (or journal in the config file) names the journal file, e.g. "+filepath.Join(path, "journal.db"))
	case !fi.Mode().IsRegular():
		return withCode(ExitJournal, fmt.Errorf("journal %s is not a regular file", path),
			"--journal (or journal in the config file) names the journal file, a regular file")
	}
	return nil
}

// checkKeyVersion is the one rule for a key version given on the command
// line, with one message: 1 to 255, since 0 is the factory keys' version.
func checkKeyVersion(v int) error {
	if v < 1 || v > 255 {
		return usageErrorf("key version 0 is the factory keys' version; use 1 for a first key generation", "--key-version must be 1 to 255, got %d", v)
	}
	return nil
}

// masterKeySource picks the master key file: the flag, then
// $TAGLINE_MASTER_KEY_FILE, then the config file.
func (e *env) masterKeySource(flag string) (keys.Source, error) {
	p, _, err := e.lookup(settingMasterKey, flag)
	if err != nil || p == "" {
		return keys.Source{}, err // LoadMaster explains that none was given
	}
	return keys.Source{File: p, Stdin: e.stdin}, nil
}

// loadMaster loads the master key and warns about a key file that others
// can read. Errors never contain the key (package keys guarantees it).
func (e *env) loadMaster(src keys.Source) (keys.Master, error) {
	m, err := keys.LoadMaster(src)
	if err != nil {
		return keys.Master{}, err
	}
	if src.File != "" && src.File != "-" {
		warnKeyFileMode(e.stderr, src.File)
	}
	e.log.Info("master key loaded", "source", src.File, "kcv", m.KCV())
	return m, nil
}

func warnKeyFileMode(w io.Writer, path string) {
	if runtime.GOOS == "windows" {
		return
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(w, "tagline: warning: master key file %s can be read by other users (mode %04o); chmod 600 %s\n", path, fi.Mode().Perm(), path)
	}
}

// kdfScheme resolves --kdf, then the config file, then "tagline".
func (e *env) kdfScheme(flag string) (keys.Scheme, error) {
	name, _, err := e.lookup(settingKDF, flag)
	if err != nil {
		return "", err
	}
	if name == "" {
		return keys.SchemeTagline, nil
	}
	s, err := keys.ParseScheme(name)
	if err != nil {
		return "", usageErrorf("--kdf is tagline or sdm-backend", "%w", err)
	}
	return s, nil
}

// createKeyFile writes a new random 16-byte master key as hex to path with
// mode 0600, refusing to replace an existing file.
func createKeyFile(path string) error {
	var k [16]byte
	if _, err := rand.Read(k[:]); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(hex.EncodeToString(k[:]) + "\n")
	clear(k[:])
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
	}
	return err
}

// writeJSON writes v as one line of JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// writeJSONIndent writes v as indented JSON.
func writeJSONIndent(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// stationKeys resolves the key derivation and loads the master key the way
// every command that derives tag keys does (flag, then environment, then
// config); src says where the key came from, for messages.
func (e *env) stationKeys(kdfFlag, keyFileFlag string) (scheme keys.Scheme, m keys.Master, src keys.Source, err error) {
	if scheme, err = e.kdfScheme(kdfFlag); err != nil {
		return
	}
	if src, err = e.masterKeySource(keyFileFlag); err != nil {
		return
	}
	m, err = e.loadMaster(src)
	return
}

// The flags that every journal- or key-using command shares, with one help
// text each, so that their defaults are described the same everywhere.

func journalFlag(f *pflag.FlagSet, dst *string) {
	f.StringVar(dst, "journal", "", "journal `FILE` (default: journal in the config file, else "+defaultJournalHelp()+")")
}

func masterKeyFileFlag(f *pflag.FlagSet, dst *string) {
	f.StringVar(dst, "master-key-file", "", "master key `FILE` (default $TAGLINE_MASTER_KEY_FILE, else master_key_file in the config file)")
}

func kdfFlag(f *pflag.FlagSet, dst *string) {
	f.StringVar(dst, "kdf", "", "key derivation `KDF`: tagline or sdm-backend (default: kdf in the config file, else tagline)")
}
