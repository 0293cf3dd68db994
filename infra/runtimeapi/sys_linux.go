package runtimeapi

import "syscall"

// sysProcAttr kills the function if the process running it dies, as Lambda would
// never leave a sandbox behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}
