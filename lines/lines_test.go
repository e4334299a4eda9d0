package lines

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
)

func readAll(t *testing.T, in string, max, buf int) ([]string, error) {
	t.Helper()
	br := bufio.NewReaderSize(strings.NewReader(in), buf)
	var out []string
	for {
		l, err := Read(br, max)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, string(l))
	}
}

func TestReadKeepsLineEnds(t *testing.T) {
	got, err := readAll(t, "a\nbb\r\nccc", 3, 16)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a\n", "bb\r\n", "ccc"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestReadBoundsEachLine(t *testing.T) {
	for _, buf := range []int{16, 17, 32, 4096} {
		// Exactly max bytes of content passes, whatever the line end.
		ok := strings.Repeat("x", 20)
		if got, err := readAll(t, ok+"\r\n"+ok+"\n"+ok, 20, buf); err != nil || len(got) != 3 {
			t.Fatalf("buf %d: %q, %v", buf, got, err)
		}
		// One byte more fails, before the rest of the line is read.
		r := &countingReader{r: strings.NewReader(strings.Repeat("y", 21) + strings.Repeat("z", 1<<20) + "\n")}
		_, err := Read(bufio.NewReaderSize(r, buf), 20)
		if !errors.Is(err, ErrTooLong) {
			t.Fatalf("buf %d: %v, want ErrTooLong", buf, err)
		}
		if r.n > 21+4096 {
			t.Fatalf("buf %d: read %d bytes of an overlong line", buf, r.n)
		}
	}
}

func TestTrim(t *testing.T) {
	for in, want := range map[string]string{"a\r\n": "a", "a\n": "a", "a": "a", "\r": "\r", "": ""} {
		if got := string(Trim([]byte(in))); got != want {
			t.Errorf("Trim(%q) = %q, want %q", in, got, want)
		}
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}
