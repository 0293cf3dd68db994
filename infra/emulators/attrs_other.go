//go:build unix && !linux

package emulators

import "syscall"

// childAttrs puts an emulator in its own process group, so Stop reaches anything it
// forks. Only Linux can tie a child's life to its parent (Pdeathsig); elsewhere an
// emulator outlives a test binary that is killed without calling Stop.
func childAttrs() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
