package snapshot

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"
)

// ErrNoHolder: nothing answers on the journal's socket (no station, an
// older tagline, or a path too long for a socket).
var ErrNoHolder = errors.New("no running station answers for the journal")

func dial(ctx context.Context, journal, req string) (net.Conn, *bufio.Reader, header, error) {
	d := net.Dialer{Timeout: 2 * time.Second}
	c, err := d.DialContext(ctx, "unix", SocketPath(journal))
	if err != nil {
		return nil, nil, header{}, fmt.Errorf("%w: %w", ErrNoHolder, err)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, req+"\n"); err != nil {
		c.Close()
		return nil, nil, header{}, fmt.Errorf("%w: %w", ErrNoHolder, err)
	}
	// The header is read from the buffer the copy is read from next, and
	// a line longer than that buffer ends the read (ErrBufferFull).
	r := bufio.NewReaderSize(c, 4096)
	var h header
	line, err := r.ReadSlice('\n')
	if err == nil {
		err = json.Unmarshal(line, &h)
	}
	if err != nil {
		c.Close()
		return nil, nil, header{}, fmt.Errorf("%w: bad answer: %w", ErrNoHolder, err)
	}
	if h.Error != "" {
		c.Close()
		return nil, nil, h, fmt.Errorf("the station holding the journal answered: %s", h.Error)
	}
	return c, r, h, nil
}

// Ask returns who holds the journal at path.
func Ask(ctx context.Context, journal string) (Holder, error) {
	c, _, h, err := dial(ctx, journal, "holder")
	if err != nil {
		return Holder{}, err
	}
	c.Close()
	if h.Holder == nil {
		return Holder{}, fmt.Errorf("%w: the answer names no holder", ErrNoHolder)
	}
	return *h.Holder, nil
}

// Fetch takes a copy of the held journal into a new private file in dir
// and returns its path; the caller removes it.
func Fetch(ctx context.Context, journal, dir string) (string, Holder, error) {
	c, r, h, err := dial(ctx, journal, "snapshot")
	if err != nil {
		return "", Holder{}, err
	}
	defer c.Close()
	if h.Holder == nil || h.Size <= 0 || h.Size > MaxSize {
		return "", Holder{}, fmt.Errorf("%w: the answer announces no usable copy (size %d)", ErrNoHolder, h.Size)
	}
	_ = c.SetDeadline(time.Now().Add(10*time.Second + time.Duration(h.Size/20e6)*time.Second))
	f, err := os.CreateTemp(dir, "."+filepath.Base(journal)+".snapshot-*")
	if err != nil {
		return "", Holder{}, fmt.Errorf("copy of the held journal: %w", err)
	}
	n, err := io.CopyN(f, r, h.Size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", Holder{}, fmt.Errorf("copy of the held journal (%d of %d bytes): %w", n, h.Size, err)
	}
	return f.Name(), *h.Holder, nil
}
