// Package atomicfile replaces a file all at once: a reader (or a crash)
// sees the old content or the new, never a mix or a truncated file.
//
// Invariants:
//   - The new content goes to a temporary file in the same folder (so the
//     rename stays on one file system), which is synced, given its mode,
//     closed and only then renamed over path; the folder is synced after.
//   - When write or any step fails, path is untouched and the temporary
//     file is removed.
package atomicfile

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Write replaces path with what write writes, with mode perm.
func Write(path string, perm fs.FileMode, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err = write(tmp); err != nil {
		return err
	}
	if err = tmp.Chmod(perm); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	SyncDir(dir)
	return nil
}

// SyncDir makes a rename, link or new file in dir durable. Some file
// systems refuse to fsync a folder; the entry is then as durable as they
// make it.
func SyncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}
