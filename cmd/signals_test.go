//go:build unix

package cmd

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// SIGTERM and SIGHUP (a closed terminal) stop a command as Ctrl-C does:
// they cancel its context, which the station treats as "finish the tag in
// flight, then stop" (station's TestStopFinishesTheTagInFlight), instead
// of killing the process mid-tag.
func TestStopSignalsCancelTheCommand(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			ctx, stop := stopContext()
			defer stop()
			if err := syscall.Kill(os.Getpid(), sig); err != nil {
				t.Fatal(err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Second):
				t.Fatalf("%v did not cancel the command", sig)
			}
		})
	}
}
