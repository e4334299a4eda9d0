package encoder

import (
	"context"
	"errors"
	"fmt"

	"github.com/tagline-station/tagline/apdu"
	"github.com/tagline-station/tagline/sdm"
)

// ErrNoURL reports a tag that answered every read but whose NDEF file
// holds no single URI record (a blank or foreign tag).
var ErrNoURL = errors.New("ndef file holds no url")

// ReadURL reads the SUN URL from a tag as a phone does: select the NDEF
// application, select the NDEF file (E104), read NLEN with ISOReadBinary,
// then the message, all unauthenticated, so that the tag mirrors a fresh
// SUN message and increments its read counter once. It authenticates with
// nothing and writes nothing.
func (c *Conn) ReadURL(ctx context.Context) (string, error) {
	if err := c.SelectApplication(ctx); err != nil {
		return "", err
	}
	if err := c.SelectFile(ctx, apdu.FIDNDEF); err != nil {
		return "", err
	}
	head, err := c.ReadBinary(ctx, 0, 2)
	if err != nil {
		return "", err
	}
	if len(head) != 2 {
		return "", fmt.Errorf("read binary: %w: %d bytes for nlen", apdu.ErrMalformed, len(head))
	}
	n := int(head[0])<<8 | int(head[1])
	switch {
	case n == 0:
		return "", fmt.Errorf("%w: the ndef file is empty (nlen 0); the tag is blank", ErrNoURL)
	case n > sdm.NDEFFileSize-2:
		return "", fmt.Errorf("%w: nlen %d does not fit the %d-byte ndef file", ErrNoURL, n, sdm.NDEFFileSize)
	}
	file := append(make([]byte, 0, 2+n), head...)
	// The reads continue one read sequence: the tag mirrors the same SUN
	// message into every chunk.
	for off := 0; off < n; {
		chunk, err := c.ReadBinary(ctx, 2+off, min(n-off, 255))
		if err != nil {
			return "", err
		}
		if len(chunk) == 0 {
			return "", fmt.Errorf("read binary: %w: empty answer at offset %d", apdu.ErrMalformed, 2+off)
		}
		file = append(file, chunk...)
		off += len(chunk)
	}
	url, err := sdm.URLFromNDEF(file[:2+n])
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNoURL, err)
	}
	return url, nil
}
