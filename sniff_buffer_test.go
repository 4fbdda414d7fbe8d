package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	pcap "github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/sniff"
)

// TestSniffBufferRejected: a --buffer sniff cannot have is one line,
// exit 2, before any capture (so without root too): less than 1 MiB, and
// tcpdump's -B 400000 given as is (--buffer counts MiB: 390 GiB), which
// says what it is in MiB.
func TestSniffBufferRejected(t *testing.T) {
	for _, tc := range []struct{ value, want string }{
		{"0", "muxtop: sniff: --buffer 0: give the capture ring's size in MiB, 1 or more (default 32; tcpdump's -B counts KiB: -B 65536 is --buffer 64)\n"},
		{"-1", "muxtop: sniff: --buffer -1: give the capture ring's size in MiB, 1 or more (default 32; tcpdump's -B counts KiB: -B 65536 is --buffer 64)\n"},
		{"x", "muxtop: --buffer x: give a whole number\n"},
		{"409600000", "muxtop: sniff: " + sniff.CheckBuffer(409600000).Error() + "\n"},
	} {
		var stdout, stderr syncBuffer
		args := []string{"sniff", "--buffer", tc.value, "-o", "plain", "--duration", "1ms"}
		code := run(context.Background(), args, &stdout, &stderr)
		if code != 2 || stderr.String() != tc.want || stdout.String() != "" {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want exit 2 and %q", args, code, stderr.String(), stdout.String(), tc.want)
		}
	}
	if err := sniff.CheckBuffer(409600000); err == nil || !strings.Contains(err.Error(), "(-B 409600000 is --buffer 400000)") {
		t.Errorf("CheckBuffer(409600000): %v, want it said in MiB", err)
	}
}

// TestSayDropped: sniff says once, at the first tick at which the kernel
// has dropped packets, how many and the --buffer that helps; nothing
// while none was dropped, nothing more as drops go on.
func TestSayDropped(t *testing.T) {
	ticks := make(chan time.Time)
	var dropped atomic.Uint64
	said := make(chan string, 4)
	stop := sayDropped(ticks, dropped.Load, func(n uint64) string { return droppedText(n, 32) }, func(s string) { said <- s })
	tick := func() { // twice: the first has been acted on when it returns
		ticks <- time.Time{}
		ticks <- time.Time{}
	}
	tick()
	if n := len(said); n != 0 {
		t.Fatalf("said %d times with no drop", n)
	}
	dropped.Store(617)
	tick()
	dropped.Store(5762)
	tick()
	stop()
	if n := len(said); n != 1 {
		t.Fatalf("said %d times, want once", n)
	}
	want := "sniff: the kernel dropped 617 packets, its 32 MiB ring full before sniff read them: their bytes are lost, and their sessions (INCOMPLETE) count only what was seen; a larger ring holds a longer burst: --buffer 128"
	if s := <-said; s != want {
		t.Errorf("said %q\nwant  %q", s, want)
	}
}

// TestDroppedSaysBuffer: the status's kernel dropped figure says which
// --buffer helps once there are drops, and nothing while there are none;
// a ring that may grow no more says to capture less.
func TestDroppedSaysBuffer(t *testing.T) {
	st := pcap.Stats{Packets: 10}
	for _, tc := range []struct {
		dropped uint64
		mib     int
		want    string
	}{
		{0, 32, ""},
		{617, 32, " (32 MiB ring full: --buffer 128)"},
		{1, 1, " (1 MiB ring full: --buffer 4)"},
	} {
		for _, f := range sniffBufferStatus(st, tc.dropped, tc.mib) {
			if f.Key == "kernel_dropped" && (f.Unit != tc.want || f.Value != tc.dropped) {
				t.Errorf("dropped %d of %d MiB: %v %q, want %d %q", tc.dropped, tc.mib, f.Value, f.Unit, tc.dropped, tc.want)
			}
		}
	}
	if err := sniff.CheckBuffer(1 << 30); err == nil {
		t.Skip("this machine has more than 2 PiB: no ring too large to test")
	}
	most := 1 << 30
	for sniff.CheckBuffer(most) != nil {
		most /= 2
	}
	if more := moreBuffer(most); more != 2*most && more != 0 {
		t.Errorf("moreBuffer(%d) = %d, want what CheckBuffer allows", most, more)
	}
	s := droppedText(3, 1<<29)
	if !strings.HasSuffix(s, "the ring is as large as --buffer allows here: capture fewer packets (--port, or a filter)") {
		t.Errorf("droppedText of a ring that may grow no more: %q", s)
	}
}

// TestSniffBufferDropsSaid: a real sniff with a ring of 1 MiB, of a
// bulk transfer it cannot keep up with, says the kernel dropped packets
// and that --buffer 4 helps: as a notice, and in the summary's status.
func TestSniffBufferDropsSaid(t *testing.T) {
	if testing.Short() {
		t.Skip("sends bulk traffic for seconds")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // ends with the listener's close
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := startSniff(ctx, "-i", "lo", "--port", port, "--buffer", "1", "-o", "plain")
	notice := "notice: sniff: the kernel dropped "
	said := func() bool {
		s.failIfEnded(t)
		return strings.Contains(s.stdout.String(), notice)
	}
	buf := make([]byte, 1<<20)
	// Bursts of 64 MiB, until one overflows the ring: the first may come
	// before the capture is open.
	for deadline := time.Now().Add(60 * time.Second); !said(); {
		if time.Now().After(deadline) {
			t.Fatalf("no notice of dropped packets in 60 s:\n%s", s.stdout.String())
		}
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		for range 64 {
			if _, err := c.Write(buf); err != nil {
				t.Fatal(err)
			}
		}
		c.Close()
		time.Sleep(100 * time.Millisecond) // a poll's pace, not a timing assertion
	}
	cancel()
	if code := <-s.done; code != 0 {
		t.Fatalf("sniff: exit %d: %s", code, s.stderr.String())
	}
	out := s.stdout.String()
	if n := strings.Count(out, notice); n != 1 {
		t.Errorf("said %d times, want once:\n%s", n, out)
	}
	if !strings.Contains(out, "ring full before sniff read them: their bytes are lost, and their sessions (INCOMPLETE) count only what was seen; a larger ring holds a longer burst: --buffer 4\n") {
		t.Errorf("the notice does not say --buffer 4 helps:\n%s", out)
	}
	if !strings.Contains(out, " (1 MiB ring full: --buffer 4)  tcp conns") {
		t.Errorf("the summary's status does not say --buffer 4 helps:\n%s", out)
	}
}

// TestBufferInREADME: README's sniff row and section name --buffer, and
// quote the drop notice as sniff says it.
func TestBufferInREADME(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := strings.Join(strings.Fields(string(b)), " ")
	for _, want := range []string{
		"`muxtop sniff [-i IFACE] [--buffer MiB] [--port N \\| FILTER]",
		"`" + droppedText(617, 32) + "`",
		"`kernel dropped 617 (32 MiB ring full: --buffer 128)`",
	} {
		if !strings.Contains(readme, want) {
			t.Errorf("README does not have %q", want)
		}
	}
}
