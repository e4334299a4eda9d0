package pcscdtest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/reader/vpcd"
)

// The set-ups every PC/SC test repeats, in one place.

// UseSocket points this process's PC/SC client library at SocketPath, for
// a TestMain to call before any test makes the first PC/SC call (the
// library reads the variable once per process).
func UseSocket() {
	_ = os.Setenv(EnvSocket, SocketPath())
}

// Setup starts a daemon with at least readers vpcd readers (Start) and
// points this process's PC/SC client at it for the test (Setenv).
func Setup(t testing.TB, readers int) *Daemon {
	t.Helper()
	d := Start(t, readers)
	d.Setenv(t)
	return d
}

// insertTimeout bounds the connection to a vpcd slot, which listens on
// the loopback interface once Start has returned.
const insertTimeout = 20 * time.Second

// Insert puts tag into vpcd reader i, failing the test when the slot does
// not take it, and takes it out when the test ends.
func (d *Daemon) Insert(t testing.TB, i int, tag reader.Emulated, opts vpcd.Options) *vpcd.Card {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), insertTimeout)
	defer cancel()
	card, err := vpcd.Insert(ctx, d.Addr(i), tag, opts)
	if err != nil {
		t.Fatalf("insert into reader %d: %v", i, err)
	}
	t.Cleanup(func() { card.Remove() })
	return card
}
