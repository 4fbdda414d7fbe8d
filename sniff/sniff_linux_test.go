//go:build linux

package sniff_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/internal/capperm"
	"github.com/muxtop/muxtop/sniff"
)

// TestLoopbackOnce sends a marked payload over loopback TCP while sniffing
// lo, and every interface (-i any): it must be captured exactly once
// (AF_PACKET shows loopback packets as they leave and as they arrive;
// sniff keeps the arrival).
func TestLoopbackOnce(t *testing.T) {
	for _, iface := range []string{"lo", sniff.Any} {
		t.Run(iface, func(t *testing.T) { loopbackOnce(t, iface) })
	}
}

func loopbackOnce(t *testing.T, iface string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h, err := sniff.Open(ctx, iface, capture.Filter{})
	if errors.Is(err, sniff.ErrPermission) {
		capperm.Missing(t, "capturing needs root or CAP_NET_RAW")
	}
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // ends with the listener's close
		c, err := ln.Accept()
		if err == nil {
			buf := make([]byte, 64)
			c.Read(buf)
			c.Close()
		}
	}()
	// The capture has no filter: on "any" it sees every packet of the
	// machine, and a run of this test in another process (a second
	// checkout's go test) sent its mark within the same second ("captured
	// 2 times"). This run's mark is its own.
	mark := fmt.Appendf(nil, "muxtop-sniff-mark-%d-%d", os.Getpid(), time.Now().UnixNano())
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Write(mark)
	c.Close()
	if seen := countMarks(h, cancel, string(mark))[string(mark)]; seen != 1 {
		t.Fatalf("the payload was captured %d times, want once", seen)
	}
}

// TestNoInterface checks the one-line error for a name that is no
// interface: it names the interfaces that are up (the loopback is), not
// the Go runtime's lookup ("route ip+net: no such network interface").
// The lookup comes before the socket: no root needed.
func TestNoInterface(t *testing.T) {
	_, err := sniff.Open(context.Background(), "no-such-if0", capture.Filter{})
	if err == nil {
		t.Fatal("no error")
	}
	lo, lerr := net.InterfaceByName("lo")
	if lerr != nil || lo.Flags&net.FlagUp == 0 {
		t.Skip("no loopback up here")
	}
	got := err.Error()
	list, ok := strings.CutPrefix(got, `sniff: no interface "no-such-if0" (interfaces up here: `)
	list, ok2 := strings.CutSuffix(list, "; or -i any for every one)")
	if !ok || !ok2 || !slices.Contains(strings.Split(list, ", "), "lo") || strings.Contains(got, "\n") {
		t.Fatalf("got %q", got)
	}
}

// TestIdle opens a capture where no packet comes, every interface of a
// network namespace of its own (its loopback down): ReadPacketData says
// so with capture.ErrIdle about every poll period, the time with it, so
// that the reader's waits end on a quiet interface; and io.EOF once the
// context is done.
func TestIdle(t *testing.T) {
	type result struct {
		idles int
		at    time.Time
		err   error
		skip  string
	}
	done := make(chan result, 1)
	go func() {
		// The thread stays in the namespace and ends with the goroutine:
		// never unlocked, it is not reused.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			done <- result{skip: "a network namespace of its own needs root: " + err.Error()}
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		h, err := sniff.Open(ctx, sniff.Any, capture.Filter{})
		if err != nil {
			done <- result{err: err}
			return
		}
		defer h.Close()
		var r result
		for {
			_, ci, err := h.ReadPacketData()
			if errors.Is(err, capture.ErrIdle) {
				r.idles++
				r.at = ci.Timestamp
				continue
			}
			if err != io.EOF {
				r.err = fmt.Errorf("ReadPacketData: %v, want capture.ErrIdle, then io.EOF", err)
			}
			done <- r
			return
		}
	}()
	start := time.Now()
	r := <-done
	if r.skip != "" {
		t.Skip(r.skip)
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.idles < 3 || r.at.Before(start) || r.at.After(time.Now()) {
		t.Errorf("in 1 s of a quiet capture: %d ErrIdle, the last at %v (started %v), want about 10, each with its time", r.idles, r.at, start)
	}
}

// inNetns runs f on a thread in a network namespace of its own, where
// only a loopback interface is, down; the thread ends with f. It skips
// the test without the privilege.
func inNetns(t *testing.T, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	skip := errors.New("skip")
	go func() {
		runtime.LockOSThread() // never unlocked: the thread is not reused
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			t.Logf("a network namespace of its own needs root: %v", err)
			done <- skip
			return
		}
		done <- f()
	}()
	err := <-done
	if err == skip {
		t.Skip("a network namespace of its own needs root")
	}
	return err
}

// TestInterfaceDown: capturing on an interface that is down is a
// one-line error at once, as tcpdump's "That device is not up"; the read
// used to spin a core on the socket's error, capturing nothing.
func TestInterfaceDown(t *testing.T) {
	err := inNetns(t, func() error {
		h, err := sniff.Open(context.Background(), "lo", capture.Filter{}) // down in a new namespace
		if err == nil {
			h.Close()
		}
		return err
	})
	if err == nil || !strings.Contains(err.Error(), `sniff: lo is down`) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("Open of an interface that is down: %v, want one line: sniff: lo is down ...", err)
	}
}

// TestInterfaceGone: the interface sniff captures on is deleted (the
// veth of a container that stopped): the read ends with a one-line
// error, as tcpdump's "The interface disappeared", where it spun a core
// on the socket's error, capturing nothing, until interrupted.
func TestInterfaceGone(t *testing.T) {
	ipCmd, err := exec.LookPath("ip")
	if err != nil {
		t.Skip("no ip command")
	}
	err = inNetns(t, func() error {
		// Commands started from this thread run in its namespace.
		for _, args := range [][]string{{"link", "add", "rev0", "type", "veth", "peer", "name", "rev1"}, {"link", "set", "rev0", "up"}, {"link", "set", "rev1", "up"}} {
			if out, err := exec.Command(ipCmd, args...).CombinedOutput(); err != nil {
				return fmt.Errorf("ip %v: %v: %s", args, err, out)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		h, err := sniff.Open(ctx, "rev0", capture.Filter{})
		if err != nil {
			return err
		}
		defer h.Close()
		if out, err := exec.Command(ipCmd, "link", "del", "rev0").CombinedOutput(); err != nil {
			return fmt.Errorf("ip link del: %v: %s", err, out)
		}
		for {
			_, _, err := h.ReadPacketData()
			if errors.Is(err, capture.ErrIdle) || err == nil {
				continue
			}
			if err == io.EOF {
				return errors.New("ReadPacketData: io.EOF at the context's end, want an error once the interface is deleted")
			}
			if !strings.Contains(err.Error(), "sniff: rev0: the interface disappeared") || strings.Contains(err.Error(), "\n") {
				return fmt.Errorf("ReadPacketData: %v, want one line: sniff: rev0: the interface disappeared", err)
			}
			return nil
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestKernelFilter: with a filter, the kernel hands over only the packets
// of the connections it may pick: a payload to the filtered port comes
// once, one to another port never reaches the reads.
func TestKernelFilter(t *testing.T) {
	listen := func() (net.Listener, uint16) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() { // ends with the listener's close
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() { io.Copy(io.Discard, c); c.Close() }()
			}
		}()
		return ln, uint16(ln.Addr().(*net.TCPAddr).Port)
	}
	picked, port := listen()
	defer picked.Close()
	other, _ := listen()
	defer other.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h, err := sniff.Open(ctx, "lo", capture.Port(port))
	if errors.Is(err, sniff.ErrPermission) {
		capperm.Missing(t, "capturing needs root or CAP_NET_RAW")
	}
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	marks := map[string]net.Listener{"muxtop-picked-mark": picked, "muxtop-other-mark": other}
	for mark, ln := range marks {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte(mark))
		c.Close()
	}
	seen := countMarks(h, cancel, slices.Collect(maps.Keys(marks))...)
	if seen["muxtop-picked-mark"] != 1 || seen["muxtop-other-mark"] != 0 {
		t.Fatalf("captured %v, want the picked port's payload once and the other's never", seen)
	}
}

// countMarks reads h for a second, then cancels its context, which ends
// its reads (io.EOF), and counts the packets that carry each mark.
func countMarks(h *sniff.Handle, cancel context.CancelFunc, marks ...string) map[string]int {
	go func() { time.Sleep(time.Second); cancel() }()
	seen := map[string]int{}
	for {
		data, _, err := h.ReadPacketData()
		if errors.Is(err, capture.ErrIdle) {
			continue
		}
		if err != nil {
			return seen
		}
		for _, mark := range marks {
			if bytes.Contains(data, []byte(mark)) {
				seen[mark]++
			}
		}
	}
}
