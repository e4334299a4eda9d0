package cmd

import (
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tagline-station/tagline/batch"
)

// shownSetting is one line of tagline config show: a setting's effective
// value and where it came from. Files that hold secrets (the master key,
// the sync tokens) are shown by path; their contents are never read here.
type shownSetting struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Source string `json:"source"`          // flag, env, file, default or unset
	Where  string `json:"where,omitempty"` // the flag, the variable or the file
}

type configShowJSON struct {
	SystemFile string         `json:"system_file"`
	UserFile   string         `json:"user_file"`
	FilesRead  []string       `json:"files_read"`
	Settings   []shownSetting `json:"settings"`
}

// showableSettings are the settings config show accepts as flags too, so
// that an administrator sees what a flag would change.
var showableSettings = []setting{settingStation, settingJournal, settingReader, settingMasterKey, settingTemplate, settingKDF, settingTokenFile}

func newConfigCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "config",
		Short: "Show the configuration tagline uses",
		Long: `config shows the settings tagline uses. They come from, in this order of
strength: flags, environment variables, the user's config file (--config,
else $TAGLINE_CONFIG, else the per-user config.toml), the system-wide file
/etc/tagline/config.toml ($TAGLINE_SYSTEM_CONFIG moves it), and built-in
defaults (see cmd/CONFIG.md).`,
		Example: `  tagline config show
  tagline --config ./line3.toml config show --json`,
		Args: cobra.ArbitraryArgs,
		RunE: groupRunE,
	}
	c.AddCommand(newConfigShowCmd(e))
	return c
}

func newConfigShowCmd(e *env) *cobra.Command {
	var asJSON bool
	given := map[string]*string{}
	c := &cobra.Command{
		Use:   "show",
		Short: "Print each setting's value and where it came from",
		Long: `show prints every setting with its effective value and its source: a flag,
an environment variable, a config file (by path) or the default. The
master key and the sync tokens are shown as the paths of their files,
never their contents; a password in a store URL is hidden.

The station's flags (--journal, --kdf, ...) may be given to see what they
change.`,
		Example: `  tagline config show
  tagline config show --json | jq -r '.settings[] | select(.source=="file") | .key'
  TAGLINE_SYSTEM_CONFIG=./site.toml tagline config show`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := e.configShow(given)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSONIndent(cmd.OutOrStdout(), res)
			}
			return printConfigShow(cmd, res)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	for _, s := range showableSettings {
		given[s.key] = new(string)
		c.Flags().StringVar(given[s.key], s.flag, "", "as the station's --"+s.flag)
	}
	return c
}

// configShow resolves every key a config file may set.
func (e *env) configShow(given map[string]*string) (configShowJSON, error) {
	cfg, err := e.config()
	if err != nil {
		return configShowJSON{}, err
	}
	user, _ := configLocation(e.configFlag, e.getenv)
	res := configShowJSON{SystemFile: systemConfigPath(e.getenv), UserFile: user, FilesRead: cfg.Files, Settings: []shownSetting{}}
	if res.FilesRead == nil {
		res.FilesRead = []string{}
	}
	defaults := e.configDefaults()
	envOf := map[string]string{}
	for _, s := range showableSettings {
		envOf[s.key] = s.env
	}
	for _, key := range configKeyNames() {
		sh := shownSetting{Key: key}
		switch {
		case given[key] != nil && *given[key] != "":
			sh.Value, sh.Source, sh.Where = *given[key], "flag", "--"+flagOfKey(key)
		case envOf[key] != "" && e.getenv(envOf[key]) != "":
			sh.Value, sh.Source, sh.Where = e.getenv(envOf[key]), "env", "$"+envOf[key]
		case cfg.From[key] != "":
			sh.Value, sh.Source, sh.Where = configValueText(cfg, key), "file", cfg.From[key]
		case defaults[key] != "":
			sh.Value, sh.Source = defaults[key], "default"
		default:
			sh.Source = "unset"
		}
		if key == "store" {
			sh.Value = redactURL(sh.Value)
		}
		res.Settings = append(res.Settings, sh)
	}
	return res, nil
}

func flagOfKey(key string) string {
	for _, s := range showableSettings {
		if s.key == key {
			return s.flag
		}
	}
	return key
}

// configValueText is a config value as one line of text.
func configValueText(cfg config, key string) string {
	switch key {
	case "key_versions":
		var vs []string
		for _, v := range cfg.KeyVersions {
			vs = append(vs, strconv.FormatUint(uint64(v), 10))
		}
		return strings.Join(vs, ", ")
	case "redirects":
		return pairsText(cfg.Redirects)
	case "products":
		return pairsText(cfg.Products)
	case "accept_simulated", "history_keep_ip":
		if v := reflect.ValueOf(cfg).FieldByIndex(fieldOfKey(key)); v.Bool() {
			return "true"
		}
		return ""
	}
	return cfg.value(key)
}

// configDefaults are the values commands use when nothing sets them; serve's
// are read from its own flags so that they cannot drift.
func (e *env) configDefaults() map[string]string {
	d := map[string]string{"kdf": "tagline", "key_versions": "1"}
	if p, err := batch.DefaultPath(); err == nil {
		d["journal"] = p
	}
	if h, err := os.Hostname(); err == nil {
		d["station_id"] = h
	}
	serve := newServeCmd(e)
	for _, k := range []string{"listen", "log_level"} {
		if f := serve.Flags().Lookup(strings.ReplaceAll(k, "_", "-")); f != nil {
			d[k] = f.DefValue
		}
	}
	return d
}

func printConfigShow(cmd *cobra.Command, res configShowJSON) error {
	out := cmd.OutOrStdout()
	read := "none"
	if len(res.FilesRead) > 0 {
		read = strings.Join(res.FilesRead, ", ")
	}
	fmt.Fprintf(out, "system file: %s\nuser file:   %s\nread:        %s\n\n", res.SystemFile, orNone(res.UserFile), read)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SETTING\tVALUE\tFROM")
	for _, s := range res.Settings {
		v, from := s.Value, s.Source
		if v == "" {
			v = "-"
		}
		if s.Where != "" {
			from += " " + s.Where
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Key, v, from)
	}
	return tw.Flush()
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func pairsText(m map[string]string) string {
	var rs []string
	for _, sku := range slices.Sorted(maps.Keys(m)) {
		rs = append(rs, sku+"="+m[sku])
	}
	return strings.Join(rs, ", ")
}

// fieldOfKey is the index of the config field with toml key key.
func fieldOfKey(key string) []int {
	t := reflect.TypeFor[config]()
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("toml"), ","); name == key {
			return []int{i}
		}
	}
	panic("no config key " + key)
}
