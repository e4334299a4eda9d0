package cmd

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at link time with -ldflags "-X github.com/tagline-station/tagline/cmd.version=v1.2.3";
// otherwise the module version from the build information is used.
var version = ""

// commit is set at link time like version, for builds made without VCS
// information (-buildvcs=false, or from a source archive).
var commit = ""

type versionInfo struct {
	Version  string `json:"version"`
	Commit   string `json:"commit,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	Time     string `json:"time,omitempty"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

func buildVersion() versionInfo {
	v := versionInfo{Version: version, Commit: commit, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v.Version == "" {
			v.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Commit = s.Value
			case "vcs.modified":
				v.Modified = s.Value == "true"
			case "vcs.time":
				v.Time = s.Value
			}
		}
	}
	if v.Version == "" {
		v.Version = "(devel)"
	}
	return v
}

func newVersionCmd(e *env) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "version",
		Short: "Print tagline's version, commit and Go version",
		Example: `  tagline version
  tagline version --json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := buildVersion()
			if asJSON {
				return writeJSONIndent(cmd.OutOrStdout(), v)
			}
			commit := v.Commit
			if commit == "" {
				commit = "unknown"
			} else if len(commit) > 12 {
				commit = commit[:12]
			}
			if v.Modified {
				commit += "+dirty"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "tagline %s (commit %s, %s, %s)\n", v.Version, commit, v.Go, v.Platform)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}
