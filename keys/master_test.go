package keys

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// zeros is an endless input, as /dev/zero or a pipe that never ends.
type zeros struct{ n int64 }

func (z *zeros) Read(p []byte) (int, error) {
	clear(p)
	z.n += int64(len(p))
	return len(p), nil
}

// A key file or standard input larger than a key file can be is refused
// after reading just past the limit, even when what comes first is a
// valid key: /dev/zero used to be read until the memory ran out.
func TestLoadMasterBoundsItsInput(t *testing.T) {
	dir := t.TempDir()
	key := "000102030405060708090a0b0c0d0e0f"
	padded := key + strings.Repeat(" ", MaxKeyFileSize-len(key)-1) + "\n"
	big := filepath.Join(dir, "big.key")
	os.WriteFile(big, []byte(padded+" "), 0o600)
	atLimit := filepath.Join(dir, "limit.key")
	os.WriteFile(atLimit, []byte(padded), 0o600)

	if m, err := LoadMaster(Source{File: atLimit}); err != nil || m.Len() != 16 {
		t.Fatalf("a key file of exactly %d bytes: %v", MaxKeyFileSize, err)
	}
	if _, err := LoadMaster(Source{File: big}); !errors.Is(err, ErrMasterKey) || !strings.Contains(err.Error(), "holds more than 4096 bytes") {
		t.Fatalf("oversized key file: %v", err)
	}
	z := &zeros{}
	if _, err := LoadMaster(Source{File: "-", Stdin: z}); !errors.Is(err, ErrMasterKey) || !strings.Contains(err.Error(), "standard input holds more than") {
		t.Errorf("endless standard input: %v", err)
	}
	if z.n > 64<<10 {
		t.Errorf("read %d bytes of standard input", z.n)
	}
	if _, err := LoadMaster(Source{File: "-", Stdin: io.MultiReader(strings.NewReader(padded), strings.NewReader("x"))}); err == nil {
		t.Error("standard input one byte over the limit accepted")
	}
	if runtime.GOOS != "linux" {
		return
	}
	start := time.Now()
	_, err := LoadMaster(Source{File: "/dev/zero"})
	if !errors.Is(err, ErrMasterKey) || !strings.Contains(err.Error(), "/dev/zero holds more than") {
		t.Errorf("/dev/zero: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("/dev/zero took %s", d)
	}
}
