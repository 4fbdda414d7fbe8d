//go:build linux

package sniff

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/internal/capperm"
)

// TestIdleWaitsForHeldBlock: while the kernel holds a packet in a block it
// has not handed over (here for 1.5 s, its timeout made long; on a loaded
// machine the kernel has been seen to take seconds), the reads report no
// quiet moment later than that packet: a reader told "nothing before now"
// would let the capture's time pass it, and the connection look silent.
func TestIdleWaitsForHeldBlock(t *testing.T) {
	saved := blockTimeout
	blockTimeout = 1500 * time.Millisecond
	defer func() { blockTimeout = saved }()
	ln, h := sinkOnLoopback(t, 10*time.Second)
	if err := untilQuiet(h); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The connection's SYN is the first packet since the ring was quiet.
	skip, err := heldBack(h, sent)
	if err != nil {
		t.Fatal(err)
	}
	if skip != "" {
		t.Skip(skip)
	}
}

// TestHeldUncounted: the reads return packets the kernel's counts never
// had (those the ring took before gopacket cleared the counts): they are
// no packets still held, or no quiet moment would ever come again; the
// packets counted after them are.
func TestHeldUncounted(t *testing.T) {
	var h Handle
	steps := []struct {
		packets, drops, read uint32
		want                 bool
	}{
		{0, 0, 0, false},
		{24, 0, 608, false}, // 584 uncounted, read first
		{29, 0, 608, true},  // 5 counted, still in a block the kernel holds
		{29, 0, 613, false},
		{40, 3, 621, false}, // drops are in the packets too
		{41, 3, 621, true},
		{0xfffffff0, 3, 565, false}, // counts of 32 bits wrap: 0xfffffff0 - 3 + 584 - 1<<32 read
		{0xfffffff1, 3, 565, true},
	}
	for i, s := range steps {
		if got := h.held(s.packets, s.drops, s.read); got != s.want {
			t.Fatalf("step %d: held(%d packets, %d drops, %d read) = %v, want %v", i, s.packets, s.drops, s.read, got, s.want)
		}
	}
}

// TestIdleAfterBusyOpen: a capture opened while its interface is busy
// (with traffic its filter drops, which the ring takes until the filter is
// set) reports quiet moments once it has read those packets. The ring's
// first packets, before gopacket cleared the kernel's counts, made it look
// as if the kernel still held packets, for good: no quiet moment came.
func TestIdleAfterBusyOpen(t *testing.T) {
	for i := range 5 {
		stop := make(chan struct{})
		done := make(chan struct{}, 2)
		for range 2 { // UDP to the discard port, and their ICMP errors
			go func() {
				defer func() { done <- struct{}{} }()
				c, err := net.Dial("udp", "127.0.0.1:9")
				if err != nil {
					return
				}
				defer c.Close()
				b := make([]byte, 100)
				for {
					select {
					case <-stop:
						return
					default:
						c.Write(b)
					}
				}
			}()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		h, err := Open(ctx, "lo", capture.Port(1)) // no packet of the flood
		close(stop)
		<-done
		<-done
		if errors.Is(err, ErrPermission) {
			cancel()
			capperm.Missing(t, "capturing needs root or CAP_NET_RAW")
		}
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		n := 0
		for {
			_, _, err := h.ReadPacketData()
			if errors.Is(err, capture.ErrIdle) {
				break
			}
			if err != nil {
				_, v3, _ := h.tp.SocketStats()
				t.Fatalf("open %d: no quiet moment after %d packets read; the kernel counted %d written, %d dropped", i, n, v3.Packets(), v3.Drops())
			}
			n++
		}
		h.Close()
		cancel()
	}
}

// TestDroppedWhenFull: a reader that falls behind while its connection
// sends more than the ring holds loses packets, which Dropped counts, also
// once the capture is closed (the summary reads it then); the reads still
// come to a quiet moment after the packets the ring kept.
func TestDroppedWhenFull(t *testing.T) {
	ln, h := sinkOnLoopback(t, 20*time.Second)
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	for range 8 * DefaultBuffer { // 8 times the ring, not read meanwhile
		if _, err := c.Write(buf); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	for {
		_, _, err := h.ReadPacketData()
		if errors.Is(err, capture.ErrIdle) {
			break
		}
		if err != nil {
			t.Fatalf("no quiet moment after the ring overflowed: %v (%d dropped)", err, h.Dropped())
		}
	}
	dropped := h.Dropped()
	if dropped == 0 {
		t.Fatal("no packet dropped, though 8 times the ring passed unread")
	}
	h.Close()
	if got := h.Dropped(); got != dropped {
		t.Errorf("closed, Dropped() = %d, want the %d counted before", got, dropped)
	}
}

// TestIdleWaitsForHeldBlockAfterFlap: once its interface went down and up
// again (a veth's peer restarted), the socket keeps its error and every
// read without a packet goes by it; those reads too report no quiet moment
// later than a packet the kernel still holds in a block.
func TestIdleWaitsForHeldBlockAfterFlap(t *testing.T) {
	ipCmd, err := exec.LookPath("ip")
	if err != nil {
		t.Skip("no ip command")
	}
	saved := blockTimeout
	blockTimeout = 1500 * time.Millisecond
	defer func() { blockTimeout = saved }()
	type result struct {
		skip string
		err  error
	}
	// A segment to port 9000, which the peer sends and rev0 receives.
	fr := makeFrame(t, netip.MustParseAddrPort("10.9.0.2:40000"), netip.MustParseAddrPort("10.9.0.1:9000"), layers.IPProtocolTCP, false)
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread, in a namespace of its own, is not reused
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			done <- result{skip: fmt.Sprintf("a network namespace of its own needs root: %v", err)}
			return
		}
		skip, err := heldAfterFlap(ipCmd, fr.data)
		done <- result{skip, err}
	}()
	r := <-done
	if r.skip != "" {
		t.Skip(r.skip)
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
}

// heldAfterFlap is TestIdleWaitsForHeldBlockAfterFlap in its namespace:
// it returns why to skip, or the failure.
func heldAfterFlap(ipCmd string, frame []byte) (string, error) {
	ip := func(args ...string) error {
		if out, err := exec.Command(ipCmd, args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %v: %v: %s", args, err, out)
		}
		return nil
	}
	for _, args := range [][]string{{"link", "add", "rev0", "type", "veth", "peer", "name", "rev1"}, {"link", "set", "rev0", "up"}, {"link", "set", "rev1", "up"}} {
		if err := ip(args...); err != nil {
			return "", err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h, err := Open(ctx, "rev0", capture.Port(9000))
	if err != nil {
		return "", err
	}
	defer h.Close()
	if err := ip("link", "set", "rev0", "down"); err != nil {
		return "", err
	}
	if err := ip("link", "set", "rev0", "up"); err != nil {
		return "", err
	}
	if err := untilQuiet(h); err != nil {
		return "", err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	peer, err := net.InterfaceByName("rev1")
	if err != nil {
		return "", err
	}
	sent := time.Now()
	if err := unix.Sendto(fd, frame, 0, &unix.SockaddrLinklayer{Ifindex: peer.Index}); err != nil {
		return "", err
	}
	skip, err := heldBack(h, sent)
	if err != nil {
		return "", fmt.Errorf("after the flap, %w", err)
	}
	return skip, nil
}

// sinkOnLoopback listens on the loopback for one connection, whose bytes
// it discards, and opens a capture of that port alone (a busy loopback
// would never be quiet), ending within d. The test cleans both up.
func sinkOnLoopback(t *testing.T, d time.Duration) (net.Listener, *Handle) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() { // ends with the listener's close
		if c, err := ln.Accept(); err == nil {
			io.Copy(io.Discard, c)
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	h, err := Open(ctx, "lo", capture.Port(uint16(ln.Addr().(*net.TCPAddr).Port)))
	if errors.Is(err, ErrPermission) {
		capperm.Missing(t, "capturing needs root or CAP_NET_RAW")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return ln, h
}

// untilQuiet reads until a quiet moment: the ring empty, its blocks
// handed over.
func untilQuiet(h *Handle) error {
	for {
		_, _, err := h.ReadPacketData()
		if errors.Is(err, capture.ErrIdle) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// heldBack reads up to the first packet, sent at sent into a ring that
// was quiet and holds its blocks for 1.5 s (blockTimeout). It fails if a
// quiet moment later than that packet's time was reported before it, and
// gives a reason to skip if the kernel handed the packet over within a
// second: then nothing was held.
func heldBack(h *Handle, sent time.Time) (skip string, err error) {
	var idles []time.Time
	for {
		_, ci, err := h.ReadPacketData()
		if errors.Is(err, capture.ErrIdle) {
			idles = append(idles, ci.Timestamp)
			continue
		}
		if err != nil {
			return "", fmt.Errorf("no packet: %v", err)
		}
		if waited := time.Since(sent); waited < time.Second {
			return fmt.Sprintf("the kernel handed the block over after %v, not the 1.5 s asked: nothing held to test", waited), nil
		}
		for _, at := range idles {
			if at.After(ci.Timestamp) {
				return "", fmt.Errorf("a quiet moment at %v was reported before the packet of %v it held back", at.Format("15:04:05.000"), ci.Timestamp.Format("15:04:05.000"))
			}
		}
		return "", nil
	}
}
