package lines

import (
	"bufio"
	"errors"
	"io"
)

// ErrTooLong is returned for a line longer than the bound.
var ErrTooLong = errors.New("line too long")

// Read returns the next line of br, with its '\n' when it had one. A last
// line without '\n' is returned with a nil error; io.EOF comes after the
// last line. A line whose content (without "\r\n" or "\n") exceeds max
// bytes fails with ErrTooLong.
func Read(br *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		part, err := br.ReadSlice('\n')
		line = append(line, part...)
		if content(line) > max {
			return nil, ErrTooLong
		}
		switch {
		case err == nil:
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(line) > 0:
			return line, nil
		}
		return nil, err
	}
}

// Trim drops a line's "\n" or "\r\n".
func Trim(line []byte) []byte {
	n := len(line)
	if n > 0 && line[n-1] == '\n' {
		n--
		if n > 0 && line[n-1] == '\r' {
			n--
		}
	}
	return line[:n]
}

// content is the length of line without its end. While the line is still
// being read, a final '\r' may be the start of "\r\n"; it is not counted,
// so that a line of exactly max bytes ending in CRLF passes whichever way
// the buffer splits it.
func content(line []byte) int {
	n := len(Trim(line))
	if n > 0 && n == len(line) && line[n-1] == '\r' {
		n--
	}
	return n
}
