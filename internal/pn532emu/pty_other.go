//go:build !linux

package pn532emu

import (
	"errors"
	"os"
)

func openPTY() (master, slave *os.File, path string, err error) {
	return nil, nil, "", errors.New("pn532emu: pseudo-terminals are only implemented on Linux")
}
