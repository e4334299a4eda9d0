package cmd

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/cpuguy83/go-md2man/v2/md2man"
	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// configDoc is cmd/CONFIG.md, the config file's manual page
// (tagline-config(5)) as well as its documentation in the source.
//
//go:embed CONFIG.md
var configDoc []byte

func newManCmd(e *env) *cobra.Command {
	var dir string
	c := &cobra.Command{
		Use:   "man --dir DIR",
		Short: "Write the manual pages",
		Long: `man writes a manual page for every command (tagline.1, tagline-encode.1,
...) and one for the config file (tagline-config.5) into DIR, generated
from the command tree so that they say what --help says. The pages carry
the date of $SOURCE_DATE_EPOCH when it is set, so that a package build is
reproducible.`,
		Example: `  tagline man --dir /usr/local/share/man/man1
  man -l tagline-encode.1`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlags(cmd, "dir"); err != nil {
				return err
			}
			return e.writeManPages(cmd.Root(), dir)
		},
	}
	c.Flags().StringVar(&dir, "dir", "", "`DIR` to write the pages to (created if missing)")
	_ = c.MarkFlagDirname("dir")
	return c
}

func (e *env) writeManPages(root *cobra.Command, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return usageErrorf("--dir names a folder tagline can create and write", "%w", err)
	}
	date, err := e.manDate()
	if err != nil {
		return err
	}
	header := &doc.GenManHeader{
		Title:   "TAGLINE",
		Section: "1",
		Date:    &date,
		Source:  "tagline " + buildVersion().Version,
		Manual:  "tagline manual",
	}
	root.DisableAutoGenTag = true
	if err := doc.GenManTree(root, header, dir); err != nil {
		return fmt.Errorf("writing manual pages to %s: %w", dir, err)
	}
	page := append([]byte(fmt.Sprintf("%% TAGLINE-CONFIG 5 \"%s\" \"tagline %s\" \"tagline manual\"\n\n", date.Format("Jan 2006"), buildVersion().Version)), configDoc...)
	if err := os.WriteFile(filepath.Join(dir, "tagline-config.5"), md2man.Render(page), 0o644); err != nil {
		return fmt.Errorf("writing manual pages to %s: %w", dir, err)
	}
	return nil
}

// manDate is $SOURCE_DATE_EPOCH when set (reproducible builds), else now.
func (e *env) manDate() (time.Time, error) {
	s := e.getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return e.now().UTC(), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, usageErrorf("SOURCE_DATE_EPOCH is seconds since 1970, e.g. $(git log -1 --format=%ct)", "SOURCE_DATE_EPOCH %q: %w", s, err)
	}
	return time.Unix(n, 0).UTC(), nil
}
