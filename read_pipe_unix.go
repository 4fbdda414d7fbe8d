//go:build unix

package main

import (
	"os"
	"runtime"
	"syscall"
	"time"
)

// pollableFile returns f, a pipe opened by name, as a file whose reads a
// deadline can interrupt (an interrupt, --duration, q in the UI), as
// pollableStdin does standard input. Linux's os.Open makes a pipe so
// already, and so do the BSDs'; elsewhere its descriptor is duplicated
// in non-blocking mode. Not on darwin, whose kqueue does not tell a FIFO's
// reader that its last writer closed (Go issue 24164): there f stays as
// it is, its end seen, its reads not interrupted. Where that fails, f as
// it is.
func pollableFile(f *os.File) *os.File {
	if f.SetReadDeadline(time.Time{}) == nil || runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return f
	}
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		return f
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return f
	}
	g := os.NewFile(uintptr(fd), f.Name())
	f.Close()
	return g
}
