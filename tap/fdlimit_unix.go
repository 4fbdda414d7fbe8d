//go:build unix

package tap

import "syscall"

// fdLimit returns the process's limit on open file descriptors, the soft
// RLIMIT_NOFILE (which Go raised to the hard limit at start), or 0 if the
// system does not say.
func fdLimit() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	return uint64(lim.Cur)
}
