//go:build linux

package pn532emu

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// openPTY allocates a pseudo-terminal pair through /dev/ptmx. The master is
// non-blocking so that os.File routes it through the runtime poller (Close
// then interrupts a pending Read). The slave is put in raw mode so that bytes
// pass unmodified before libnfc applies its own termios; libnfc's settings
// (CS8|CLOCAL|CREAD, IGNPAR, no output or local processing) are raw as well.
func openPTY() (master, slave *os.File, path string, err error) {
	mfd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, "", fmt.Errorf("pn532emu: open /dev/ptmx: %w", err)
	}
	fail := func(e error) (*os.File, *os.File, string, error) {
		unix.Close(mfd)
		return nil, nil, "", e
	}
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		return fail(fmt.Errorf("pn532emu: unlock pty: %w", err))
	}
	n, err := unix.IoctlGetUint32(mfd, unix.TIOCGPTN)
	if err != nil {
		return fail(fmt.Errorf("pn532emu: pty number: %w", err))
	}
	path = fmt.Sprintf("/dev/pts/%d", n)
	sfd, err := unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fail(fmt.Errorf("pn532emu: open %s: %w", path, err))
	}
	if err := makeRaw(sfd); err != nil {
		unix.Close(sfd)
		return fail(fmt.Errorf("pn532emu: raw mode on %s: %w", path, err))
	}
	return os.NewFile(uintptr(mfd), "/dev/ptmx"), os.NewFile(uintptr(sfd), path), path, nil
}

// makeRaw is cfmakeraw(3) at 115200 baud.
func makeRaw(fd int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON | unix.IXOFF
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB | unix.CBAUD
	t.Cflag |= unix.CS8 | unix.CLOCAL | unix.CREAD | unix.B115200
	t.Ispeed, t.Ospeed = 115200, 115200
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}
