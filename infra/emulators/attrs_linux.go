package emulators

import "syscall"

// childAttrs puts an emulator in its own process group, so Stop reaches anything it
// forks, and asks the kernel to kill it if this process dies without calling Stop
// (Pdeathsig): a test binary killed by its timeout must not leave a JVM behind.
func childAttrs() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
