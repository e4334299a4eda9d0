package pcscdtest

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tagline-station/tagline/reader/vpcd"
)

type nullTag struct{}

func (nullTag) UID() []byte             { return make([]byte, 7) }
func (nullTag) ATS() []byte             { return []byte{0x06, 0x77, 0x77, 0x71, 0x02, 0x80} }
func (nullTag) Process(c []byte) []byte { return []byte{0x6D, 0x00} }

// waitLog waits until pcscd has logged s.
// logged waits up to d for pcscd to log s.
func logged(dm *Daemon, s string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !strings.Contains(dm.Log(), s) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

func waitLog(t *testing.T, d *Daemon, s string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(d.Log(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("pcscd never logged %q; log:\n%s", s, d.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestReaderPortMapping inserts a card at Addr(i) for every reader and
// checks that pcscd reports it in ReaderName(i): the mapping documented in
// the package comment, checked without a PC/SC client.
func TestReaderPortMapping(t *testing.T) {
	d := Start(t, 5)
	if d.Readers() != 6 {
		t.Fatalf("Readers() = %d, want 6", d.Readers())
	}
	names := d.ReaderNames()
	want := []string{"Virtual PCD 00 00", "Virtual PCD 00 01", "Virtual PCD 1 00 00", "Virtual PCD 1 00 01", "Virtual PCD 2 00 00", "Virtual PCD 2 00 01"}
	if strings.Join(names, "|") != strings.Join(want, "|") {
		t.Fatalf("ReaderNames() = %q", names)
	}
	insert := func(i int) *vpcd.Card { return d.Insert(t, i, nullTag{}, vpcd.Options{}) }
	cards := make([]*vpcd.Card, d.Readers())
	for i := range cards {
		cards[i] = insert(i)
	}
	for i := range cards {
		// pcscd (1.9.9) on a loaded machine sometimes takes a card that
		// arrived while a reader's event thread was starting without
		// logging it: a card inserted again at the same port is.
		for try := 1; !logged(d, "Card inserted into "+d.ReaderName(i), 5*time.Second); try++ {
			if try == 3 {
				t.Fatalf("pcscd never logged a card inserted into %s; log:\n%s", d.ReaderName(i), d.Log())
			}
			cards[i].Remove()
			// pcscd may not log the removal of a card it did not log.
			logged(d, "Card Removed From "+d.ReaderName(i), 2*time.Second)
			cards[i] = insert(i)
		}
	}
	for _, card := range cards {
		card.Remove()
	}
	for i := range cards {
		waitLog(t, d, "Card Removed From "+d.ReaderName(i))
	}
	if _, err := os.Stat(d.Socket()); err != nil {
		t.Fatalf("socket: %v", err)
	}
	if got := d.Env(); len(got) != 1 || got[0] != EnvSocket+"="+SocketPath() {
		t.Fatalf("Env() = %q", got)
	}
}

// TestStop checks that Stop ends pcscd by its PID and removes the socket,
// and that a second daemon of the same process reuses the socket path.
func TestStop(t *testing.T) {
	d := Start(t, 1)
	pid := d.PID()
	d.Stop()
	if err := syscall.Kill(pid, 0); err == nil {
		t.Fatalf("pcscd %d still running after Stop", pid)
	}
	if _, err := os.Stat(d.Socket()); !os.IsNotExist(err) {
		t.Fatalf("socket after Stop: %v", err)
	}
	d.Stop() // idempotent
}

func TestSecondDaemonSameSocket(t *testing.T) {
	var first string
	t.Run("first", func(t *testing.T) { first = Start(t, 2).Socket() })
	t.Run("second", func(t *testing.T) {
		if s := Start(t, 2).Socket(); s != first {
			t.Fatalf("socket %q, first daemon had %q", s, first)
		}
	})
}
