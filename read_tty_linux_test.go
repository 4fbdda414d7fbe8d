package main

import (
	"context"
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// TestReadTerminalByPath reads a terminal given by its path, as muxtop
// read /dev/stdin at a shell does: refused as read - refuses a terminal on
// standard input, exit 2. Before, the terminal was taken for a pipe and
// read, read waiting for a capture typed at it until --duration.
func TestReadTerminalByPath(t *testing.T) {
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlock pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skipf("pseudo-terminal number: %v", err)
	}
	tty := fmt.Sprintf("/dev/pts/%d", n)
	if f, err := os.Open(tty); err != nil { // a devpts not the one behind /dev/ptmx (a container's)
		t.Skipf("open %s: %v", tty, err)
	} else {
		f.Close()
	}
	var stdout, stderr syncBuffer
	code := run(context.Background(), []string{"read", tty, "-o", "json", "--duration", "3s"}, &stdout, &stderr)
	want := "muxtop: read " + tty + ": it is a terminal, not a capture; give a capture file, or pipe a capture into read -, such as tcpdump -U -w - port 9000 | muxtop read -\n"
	if code != 2 || stderr.String() != want {
		t.Errorf("read %s: exit %d, stderr %q; want exit 2, %q", tty, code, stderr.String(), want)
	}
}
