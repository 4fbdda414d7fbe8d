//go:build unix

package main

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// nonBlocking reports whether f's descriptor is in non-blocking mode.
func nonBlocking(t *testing.T, f *os.File) bool {
	t.Helper()
	// Not f.Fd(), which would make it blocking.
	rc, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var flags int
	if cerr := rc.Control(func(fd uintptr) { flags, err = unix.FcntlInt(fd, unix.F_GETFL, 0) }); cerr != nil || err != nil {
		t.Fatal(cerr, err)
	}
	return flags&unix.O_NONBLOCK != 0
}
