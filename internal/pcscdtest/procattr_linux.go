package pcscdtest

import "syscall"

// sysProcAttr makes the kernel stop pcscd if the test process dies without
// running its cleanups (a panic, a test timeout, os.Exit).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
