//go:build linux || darwin

package headless

import (
	"io"
	"syscall"

	"github.com/charmbracelet/x/term"
	"golang.org/x/sys/unix"
)

// readerGone returns a check of whether w, where it is a pipe or a
// socket, lost its reader, without writing to it; nil where w is
// neither (a file, a terminal) or no descriptor of it can be had. The
// check polls w's descriptor with a timeout of 0: Linux reports POLLERR
// on a pipe whose reader closed it, and POLLHUP on a socket shut both
// ways; darwin reports neither unless asked for POLLOUT (its poll only
// watches the filters the events ask for), and then POLLHUP. Either is
// what the next write would fail with EPIPE for.
func readerGone(w io.Writer) func() bool {
	rc, mode, ok := fileType(w)
	if !ok || mode != unix.S_IFIFO && mode != unix.S_IFSOCK {
		return nil
	}
	fds := make([]unix.PollFd, 1)
	return func() bool {
		gone := false
		rc.Control(func(fd uintptr) {
			fds[0] = unix.PollFd{Fd: int32(fd), Events: unix.POLLOUT}
			n, err := unix.Poll(fds, 0)
			gone = err == nil && n > 0 && fds[0].Revents&(unix.POLLERR|unix.POLLHUP) != 0
		})
		return gone
	}
}

// writesWhole reports whether w is a regular file or a character device
// other than a terminal (/dev/null): outputs that take every write whole
// without a reader that could stop taking it, so that the printer's
// writes need not be cut to pipeBuf.
func writesWhole(w io.Writer) bool {
	rc, mode, ok := fileType(w)
	switch {
	case !ok:
		return false
	case mode == unix.S_IFREG:
		return true
	case mode == unix.S_IFCHR:
		tty := true
		if rc.Control(func(fd uintptr) { tty = term.IsTerminal(fd) }) != nil {
			return false
		}
		return !tty
	}
	return false
}

// fileType returns w's descriptor's raw conn and file type (its mode's
// S_IFMT bits), or false where w has no descriptor or fstat fails.
func fileType(w io.Writer) (syscall.RawConn, uint32, bool) {
	sc, ok := w.(syscall.Conn)
	if !ok {
		return nil, 0, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, 0, false
	}
	var st unix.Stat_t
	if cerr := rc.Control(func(fd uintptr) { err = unix.Fstat(int(fd), &st) }); cerr != nil || err != nil {
		return nil, 0, false
	}
	return rc, uint32(st.Mode) & unix.S_IFMT, true
}
