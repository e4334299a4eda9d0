package cmd

import (
	"reflect"
	"strings"
)

// envSystemConfig moves the system-wide config file, so that tests and
// unusual installs need not write under /etc.
const envSystemConfig = "TAGLINE_SYSTEM_CONFIG"

// defaultSystemConfig is where an administrator puts the settings every
// user of the machine shares (the Debian package ships an example there).
const defaultSystemConfig = "/etc/tagline/config.toml"

// systemConfigPath is the system-wide config file: $TAGLINE_SYSTEM_CONFIG
// when set, else /etc/tagline/config.toml.
func systemConfigPath(getenv func(string) string) string {
	if p := getenv(envSystemConfig); p != "" {
		return p
	}
	return defaultSystemConfig
}

// loadLayeredConfig reads the system-wide file, then the user's file
// (--config, $TAGLINE_CONFIG or the per-user default), and lets each key
// the user's file sets replace the system's. A missing system file is no
// error: most machines have none.
func loadLayeredConfig(flag string, getenv func(string) string) (config, error) {
	sys, err := loadConfig(systemConfigPath(getenv), false)
	if err != nil {
		return config{}, err
	}
	path, required := configLocation(flag, getenv)
	user, err := loadConfig(path, required)
	if err != nil {
		return config{}, err
	}
	return mergeConfig(sys, user), nil
}

// mergeConfig lays over on top of base key by key: a key over sets
// replaces base's whole value (a list or a table is not merged entry by
// entry, so that a user's redirects never mix with the system's).
// From records the file each key came from.
func mergeConfig(base, over config) config {
	out := base
	out.From = map[string]string{}
	ov, bv, rv := reflect.ValueOf(over), reflect.ValueOf(base), reflect.ValueOf(&out).Elem()
	for i := range rv.NumField() {
		key, _, _ := strings.Cut(rv.Type().Field(i).Tag.Get("toml"), ",")
		if key == "" || key == "-" {
			continue
		}
		switch {
		case !ov.Field(i).IsZero():
			rv.Field(i).Set(ov.Field(i))
			out.From[key] = over.Path
		case !bv.Field(i).IsZero():
			out.From[key] = base.Path
		}
	}
	out.Files = nil
	for _, c := range []config{base, over} {
		if c.Path != "" {
			out.Files = append(out.Files, c.Path)
			out.Path = c.Path
		}
	}
	return out
}

// source says where the config file's value of key came from, for
// messages: "kdf in the config file /etc/tagline/config.toml".
func (c config) source(key string) string {
	if p := c.From[key]; p != "" {
		return key + " in the config file " + p
	}
	return key + " in the config file"
}
