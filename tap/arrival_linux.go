//go:build linux

package tap

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// waiting returns how many bytes wait to be read in rc's socket (SIOCINQ),
// and whether the system told.
func waiting(rc syscall.RawConn) (int, bool) {
	var n int
	var err error
	if cerr := rc.Control(func(fd uintptr) { n, err = unix.IoctlGetInt(int(fd), unix.SIOCINQ) }); cerr != nil || err != nil {
		return 0, false
	}
	return n, true
}
