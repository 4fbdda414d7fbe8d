//go:build !linux

package tap

import "syscall"

// waiting says nothing here: only Linux's SIOCINQ is asked how many bytes
// wait in a socket.
func waiting(syscall.RawConn) (int, bool) { return 0, false }
