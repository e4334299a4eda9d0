package pcsc

import "errors"

// ErrClosed is returned by operations on a Stack, Reader or Tag that was
// closed (a wait interrupted by Close returns it too).
var ErrClosed = errors.New("pcsc: closed")

// hintNotRunning is appended to the error of Open when pcscd cannot be
// reached.
const hintNotRunning = "pcscd is not running: start it with `systemctl start pcscd` or run scripts/setup.sh"

// hintNoCgo is the error of Open in builds without cgo.
const hintNoCgo = "built without cgo; rebuild with CGO_ENABLED=1 and libpcsclite-dev"

// Option configures Open.
type Option func(*config)

type config struct {
	exclusive bool
}

// Exclusive makes WaitTag connect tags with SCARD_SHARE_EXCLUSIVE, so that
// no other PC/SC application can talk to the tag while it is connected.
// The default is shared access.
func Exclusive() Option {
	return func(c *config) { c.exclusive = true }
}
