package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/charmbracelet/x/term"
)

// streamPath reports whether path names a capture that comes as it is
// written, not a file: a FIFO (mkfifo), a pipe given by its name (bash's
// <(ssh db1 tcpdump -U -w -), /dev/fd/N), a character device or a socket
// (a terminal among them, which read refuses, as read - does).
// read reads it as it reads -.
func streamPath(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.Mode().IsRegular() && !st.IsDir()
}

// openStream opens path, a pipe (streamPath), for read. Opening a FIFO
// waits until a writer opens it, which may be never: the open goes on in
// the background, and openStream returns when it is done or ctx is (an
// interrupt, --duration), the open then abandoned (what it opens later is
// closed). If the open still waits when wait fires, it says so once on w,
// in the line waiting, as openSaying does.
//
// The file is as os.Open makes it: on Linux and the BSDs a pipe's reads
// go through the poller, so a deadline interrupts them (an interrupt,
// --duration, q in the UI); where the poller does not take it (darwin's
// FIFOs, Go issue 24164; a device without poll) it stays blocking, its
// end still seen, its reads not interrupted.
func openStream(ctx context.Context, path string, wait <-chan time.Time, waiting string, w io.Writer) (*os.File, error) {
	type result struct {
		f   *os.File
		err error
	}
	opened := make(chan result, 1)
	go func() { // ends when the open does: at once, or when a writer comes
		f, err := os.Open(path)
		opened <- result{f, err}
	}()
	for {
		select {
		case r := <-opened:
			return r.f, r.err // opened as ctx ended: read's later waits see ctx
		case <-ctx.Done():
			go func() { // closes what the abandoned open opens, if ever
				if r := <-opened; r.f != nil {
					r.f.Close()
				}
			}()
			return nil, ctx.Err()
		case <-wait:
			fmt.Fprintln(w, waiting)
			wait = nil
		}
	}
}

// isTerminal reports whether f is a terminal, without f.Fd(), which
// would make a pollable f blocking.
func isTerminal(f *os.File) bool {
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	tty := false
	if rc.Control(func(fd uintptr) { tty = term.IsTerminal(fd) }) != nil {
		return false
	}
	return tty
}
