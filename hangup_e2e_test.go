package main

import (
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/muxtop/muxtop/internal/smuxtest"
)

// A hangup (the terminal or ssh session closed, kill -HUP) ends a capture
// as an interrupt does, with its summary, as tcpdump's does: before, it
// killed muxtop outright, so -o json > file lost its summary line and the
// UI left the terminal in its screen, cursor hidden.
func TestHangupEndsWithSummary(t *testing.T) {
	bin := muxtopBinary(t)
	data, err := os.ReadFile(filepath.Join("capture", "testdata", "base-v2.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	hangupDefault()
	r := startReadPipe(t, bin)
	if _, err := r.in.Write(data); err != nil {
		t.Fatal(err)
	}
	smuxtest.Eventually(t, "a frame printed", func() bool {
		return strings.Contains(r.out.String(), `"type":"frame"`)
	})
	r.cmd.Process.Signal(syscall.SIGHUP)
	r.exits(t, "of SIGHUP")
	parseJSON(t, r.out.String()) // fails without a summary
}

// hangupDefault gives the processes the tests start SIGHUP's default
// disposition, as a terminal's shell does. A process inherits an ignored
// SIGHUP, and muxtop rightly keeps it (TestHangupIgnoredUnderNohup): a
// test run under nohup, or by a CI runner that ignores SIGHUP, would
// otherwise see muxtop ignore the hangup and never end. A signal the
// test process handles is reset to its default in a child at exec, so
// from then on the test process handles SIGHUP, dropping it as it
// ignored it. Once only: once handled, Ignored says false.
var hangupDefault = sync.OnceFunc(func() {
	if signal.Ignored(syscall.SIGHUP) {
		signal.Notify(make(chan os.Signal, 1), syscall.SIGHUP)
	}
})

// Under nohup, which ignores SIGHUP, a hangup does not end the capture:
// muxtop does not undo the ignoring.
func TestHangupIgnoredUnderNohup(t *testing.T) {
	t.Parallel() // sessions, ports and processes of its own, mostly waiting
	bin := muxtopBinary(t)
	data, err := os.ReadFile(filepath.Join("capture", "testdata", "base-v2.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	r := startPipe(t, exec.Command("sh", "-c", `trap '' HUP; exec "$0" read - -o json`, bin))
	smuxtest.Eventually(t, "read waiting for standard input", func() bool {
		return strings.Contains(r.errOut.String(), "waiting for a capture on standard input")
	})
	// The shell has exec'd muxtop once it waits; SIGHUP now is ignored.
	r.cmd.Process.Signal(syscall.SIGHUP)
	if _, err := r.in.Write(data); err != nil {
		t.Fatal(err)
	}
	smuxtest.Eventually(t, "a frame printed after the ignored SIGHUP", func() bool {
		return strings.Contains(r.out.String(), `"type":"frame"`)
	})
	r.cmd.Process.Signal(os.Interrupt)
	r.exits(t, "of the interrupt")
	parseJSON(t, r.out.String())
}
