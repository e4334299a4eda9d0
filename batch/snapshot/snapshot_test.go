package snapshot

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tagline-station/tagline/batch"
)

func heldJournal(t *testing.T) (*batch.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "j.db")
	st, err := batch.Open(path, batch.Options{StationID: "st-1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.CreateBatch(batch.Batch{ID: "b1", SKU: "SKU", Target: 5, KeyVersion: 1, Template: "https://x.example/t?p={picc}&m={mac}"}); err != nil {
		t.Fatal(err)
	}
	return st, path
}

// The copy is the journal: opened read-only it shows the batch, names
// the journal, and is removed when closed; the socket is the owner's
// only and goes away with the server.
func TestCopyOfAHeldJournal(t *testing.T) {
	st, path := heldJournal(t)
	since := time.Date(2026, 12, 5, 1, 0, 0, 0, time.UTC)
	srv, err := Serve(st, Holder{Station: "st-1", PID: 42, Since: since}, nil)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(SocketPath(path))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket: %v %v", fi.Mode(), err)
	}
	h, err := Ask(context.Background(), path)
	if err != nil || h.Station != "st-1" || h.PID != 42 || !h.Since.Equal(since) {
		t.Fatalf("holder %+v %v", h, err)
	}
	cp, _, err := Fetch(context.Background(), path, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ro, err := batch.Open(cp, batch.Options{ReadOnly: true, CopyOf: path})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := ro.GetBatch("b1"); err != nil || b.SKU != "SKU" || ro.Path() != path {
		t.Errorf("copy: %+v %v, path %s", b, err, ro.Path())
	}
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("copy left behind: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(SocketPath(path)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left behind: %v", err)
	}
	if _, err := Ask(context.Background(), path); !errors.Is(err, ErrNoHolder) {
		t.Errorf("after close: %v", err)
	}
}

// A dead station's socket is replaced; a file that is not a socket is
// never removed.
func TestStaleSocket(t *testing.T) {
	st, path := heldJournal(t)
	ln, err := net.Listen("unix", SocketPath(path))
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	srv, err := Serve(st, Holder{Station: "st-1"}, nil)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	srv.Close()
	if err := os.WriteFile(SocketPath(path), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Serve(st, Holder{}, nil); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("got %v", err)
	}
	if b, _ := os.ReadFile(SocketPath(path)); string(b) != "mine" {
		t.Error("a file in the way was touched")
	}
}

// A client that sends an endless request or nothing at all is cut off;
// a peer announcing more than MaxSize, or less than it sends, is refused.
func TestBoundedReads(t *testing.T) {
	st, path := heldJournal(t)
	srv, err := Serve(st, Holder{Station: "st-1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, err := net.Dial("unix", SocketPath(path))
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(c, zeroReader{})
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, _ := io.ReadAll(c)
	if len(b) != 0 {
		t.Errorf("answer to an endless request: %q", b)
	}
	c.Close()

	// A fake holder announcing a huge copy.
	dir := t.TempDir()
	fake := filepath.Join(dir, "f.db")
	ln, err := net.Listen("unix", SocketPath(fake))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	answers := []string{
		`{"holder":{"station":"x"},"size":1099511627777}` + "\n",
		`{"holder":{"station":"x"},"size":100}` + "\nshort",
		strings.Repeat("x", 10000),
	}
	go func() {
		for _, a := range answers {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, a)
			c.Close()
		}
	}()
	for i := range answers {
		if p, _, err := Fetch(context.Background(), fake, dir); err == nil {
			t.Errorf("answer %d accepted: %s", i, p)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".f.db.snapshot-*")); len(left) != 0 {
		t.Errorf("partial copies left: %v", left)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}
