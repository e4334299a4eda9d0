package cmd

import (
	"reflect"
	"strings"

	"github.com/spf13/cobra"
)

// A setting is one value tagline takes from, in this order, a flag, an
// environment variable, the config file, or a built-in default
// (cmd/CONFIG.md, "Precedence"). Every command resolves its settings
// through env.lookup, so that the rule is written once.
type setting struct {
	flag string // the flag's name, without dashes
	env  string // the environment variable; "" for none
	key  string // the config file's key; "" for none
}

// Settings that several commands share.
var (
	settingJournal   = setting{flag: "journal", key: "journal"}
	settingStation   = setting{flag: "station-id", key: "station_id"}
	settingMasterKey = setting{flag: "master-key-file", env: envMasterKeyFile, key: "master_key_file"}
	settingKDF       = setting{flag: "kdf", key: "kdf"}
	settingTemplate  = setting{flag: "template", key: "template"}
	settingReader    = setting{flag: "reader", key: "reader"}
	settingTokenFile = setting{flag: "token-file", env: envSyncTokenFile, key: "token_file"}
	settingSync      = setting{flag: "sync", key: "sync"}
)

// lookup returns the setting's value and where it came from ("--kdf",
// "$TAGLINE_MASTER_KEY_FILE", "kdf in the config file"), both empty when
// nothing gives it and the caller's default applies. given is the flag's
// value, "" when it was not given. The config file is read only when the
// flag and the environment are silent, so that a broken config file does
// not stop a command whose flags say everything.
func (e *env) lookup(s setting, given string) (value, from string, err error) {
	if given != "" {
		return given, "--" + s.flag, nil
	}
	if s.env != "" {
		if v := e.getenv(s.env); v != "" {
			return v, "$" + s.env, nil
		}
	}
	if s.key == "" {
		return "", "", nil
	}
	cfg, err := e.config()
	if err != nil {
		return "", "", err
	}
	if v := cfg.value(s.key); v != "" {
		return v, cfg.source(s.key), nil
	}
	return "", "", nil
}

// lookupFlag is lookup for a flag with a non-empty default: the flag
// counts as given only when it is on the command line, and its default
// comes last.
func (e *env) lookupFlag(cmd *cobra.Command, s setting) (value, from string, err error) {
	f := cmd.Flags().Lookup(s.flag)
	given := ""
	if f.Changed {
		given = f.Value.String()
	}
	if value, from, err = e.lookup(s, given); value != "" || err != nil {
		return value, from, err
	}
	return f.DefValue, "--" + s.flag, nil
}

// value is the string the config file gives key, "" when unset.
func (c config) value(key string) string {
	v := reflect.ValueOf(c)
	for i := range v.NumField() {
		name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("toml"), ",")
		if name == key && v.Field(i).Kind() == reflect.String {
			return v.Field(i).String()
		}
	}
	return ""
}
