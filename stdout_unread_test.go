//go:build linux

package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/xtaci/smux"
	"golang.org/x/sys/unix"

	"github.com/muxtop/muxtop/internal/smuxtest"
)

// cutLine is the stderr line of a second signal in the grace.
var cutLine = regexp.MustCompile(`(?m)^muxtop: a second signal cut the output short: \d+ records not written, nor the summary$`)

// unreadLine is the stderr line of a run whose stdout took nothing more.
var unreadLine = regexp.MustCompile(`(?m)^muxtop: stdout took nothing for 2s after the stop: (\d+) records not written, nor the summary$`)

// TestStdoutNotRead: muxtop demo or attach -o json into a pipe whose
// reader holds it open and reads nothing. --duration, SIGTERM and SIGINT
// stop the capture at once, the output gets headless.Grace, then muxtop
// says on stderr how many records stdout did not take and exits 1.
// Before, its printer sat in its write to the full pipe, which nothing
// interrupts, and nothing stopped it short of SIGKILL: "demo [-o json
// --rate 500 --pool 2 --duration 5s]: did not exit within 60 s of its
// stop (duration)". A second signal exits at once, saying so.
func TestStdoutNotRead(t *testing.T) {
	if testing.Short() {
		t.Skip("runs muxtop for seconds")
	}
	bin := muxtopBinary(t)
	for _, cmd := range []string{"demo", "attach"} {
		for _, stop := range []string{"duration", "SIGTERM", "SIGINT", "SIGTERM twice"} {
			t.Run(cmd+"/"+stop, func(t *testing.T) {
				t.Parallel() // mostly waiting
				stdoutNotRead(t, bin, cmd, stop)
			})
		}
	}
}

func stdoutNotRead(t *testing.T, bin, command, stop string) {
	const duration = 5 * time.Second
	args := []string{command, "-o", "json"}
	listen := ""
	if command == "demo" {
		args = append(args, "--rate", "500", "--pool", "2")
	} else {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go smuxtest.ServeEcho(ln, smuxtest.Config(1)) // ends as ln closes
		listen = freePort(t)
		args = append(args, ln.Addr().String(), "--listen", listen)
	}
	if stop == "duration" {
		args = append(args, "--duration", duration.String())
	}
	rd, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close() // held open, never read, until the end
	// The smallest pipe: it is full after a few records.
	if _, err := unix.FcntlInt(wr.Fd(), unix.F_SETPIPE_SZ, 4096); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout = wr
	var errOut syncBuffer
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	wr.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer cmd.Process.Kill() // on a failure; a no-op once it exited

	var streams atomic.Int64 // attach's load: the streams it has served
	if listen != "" {
		go attachLoad(listen, exited, &streams)
	}
	// Output began: the pipe holds bytes, which nothing will read. The
	// printer writes 4 KiB at a time, whole or not at all (PIPE_BUF), so
	// a 4 KiB pipe holding any byte takes none of its next full write: it
	// is stuck from here, though the pipe may never hold 4096 bytes (ci84
	// waited a minute for that: its first write was shorter).
	began := func() bool {
		n, err := unix.IoctlGetInt(int(rd.Fd()), unix.TIOCINQ)
		return err == nil && n > 0
	}
	for deadline := time.Now().Add(time.Minute); !began(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: no output a minute in: %s", command, errOut.String())
		}
	}
	// And more records than the pipe can take since: a write shorter
	// than the room the pipe has left goes through, and an attach whose
	// load had made few records by then (a loaded machine) wrote the
	// rest and its summary and exited 0 (TestStdoutNotRead/attach/SIGTERM
	// twice: "<nil>, want exit status 1"). 100 streams make 300 records
	// or more, tens of KiB; the demo's load makes hundreds a second.
	if listen != "" {
		from := streams.Load()
		smuxtest.Eventually(t, "100 more streams through attach", func() bool { return streams.Load() >= from+100 })
	}
	switch stop {
	case "SIGTERM":
		cmd.Process.Signal(syscall.SIGTERM)
	case "SIGINT":
		cmd.Process.Signal(os.Interrupt)
	case "SIGTERM twice":
		cmd.Process.Signal(syscall.SIGTERM)
		// Apart, so that the kernel does not merge the two (a signal
		// pending is not queued twice); well inside the 2 s grace.
		time.Sleep(300 * time.Millisecond)
		cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case err := <-exited:
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 1 {
			t.Fatalf("%s stopped by %s into an unread pipe: %v, want exit status 1: %s", command, stop, err, errOut.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("%s %v: did not exit within 60 s of its stop (%s): %s", command, args[1:], stop, errOut.String())
	}
	if stop == "SIGTERM twice" {
		if !cutLine.MatchString(errOut.String()) {
			if unreadLine.MatchString(errOut.String()) {
				t.Skip("the second signal came after the grace: the machine stalled between two kills")
			}
			t.Fatalf("stderr does not say the second signal:\n%s", errOut.String())
		}
		return
	}
	m := unreadLine.FindStringSubmatch(errOut.String())
	if m == nil {
		t.Fatalf("stderr says nothing of the records not written:\n%s", errOut.String())
	}
	if m[1] == "0" {
		t.Errorf("0 records not written, with the pipe full: %s", m[0])
	}
}

// attachLoad sends echo round trips through the attach proxy at addr
// until the process exits: frames for its output.
func attachLoad(addr string, exited <-chan error, streams *atomic.Int64) {
	var c net.Conn
	for {
		var err error
		if c, err = net.Dial("tcp", addr); err == nil {
			break
		}
		select {
		case <-exited:
			return
		case <-time.After(10 * time.Millisecond): // the proxy is not listening yet
		}
	}
	defer c.Close()
	s, err := smux.Client(c, smuxtest.Config(1))
	if err != nil {
		return
	}
	defer s.Close()
	buf := make([]byte, 16)
	for i := 0; ; i++ {
		st, err := s.OpenStream()
		if err != nil {
			return // the proxy stopped
		}
		fmt.Fprintf(st, "%016d", i)
		_, err = st.Read(buf)
		st.Close()
		streams.Add(1)
		if err != nil && !strings.Contains(err.Error(), "EOF") {
			return
		}
	}
}
