//go:build !linux

package pcscdtest

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }
