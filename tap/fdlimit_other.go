//go:build !unix

package tap

// fdLimit returns 0: the system has no RLIMIT_NOFILE to read.
func fdLimit() uint64 { return 0 }
