//go:build linux

package sniff

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/internal/capperm"
)

// TestCheckBuffer: a ring of less than 1 MiB, or of more than half the
// machine's memory, is one line that names --buffer and says it counts
// MiB, not tcpdump's KiB; the default and a ring of a few hundred MiB,
// what tcpdump -B 400000 asks, pass.
func TestCheckBuffer(t *testing.T) {
	for _, mib := range []int{1, DefaultBuffer, 391} {
		if err := CheckBuffer(mib); err != nil {
			t.Errorf("CheckBuffer(%d): %v, want nil", mib, err)
		}
	}
	for _, mib := range []int{0, -1} {
		want := fmt.Sprintf("--buffer %d: give the capture ring's size in MiB, 1 or more (default 32; tcpdump's -B counts KiB: -B 65536 is --buffer 64)", mib)
		if err := CheckBuffer(mib); err == nil || err.Error() != want {
			t.Errorf("CheckBuffer(%d): %v, want %q", mib, err, want)
		}
	}
	mem := memory()
	if mem == 0 {
		t.Fatal("memory() = 0 on Linux")
	}
	most := int(mem / 2 >> 20)
	if err := CheckBuffer(most); err != nil {
		t.Errorf("CheckBuffer(%d), half the memory: %v", most, err)
	}
	// tcpdump's -B 400000 given as is: 400000 MiB, 390 GiB.
	for _, mib := range []int{most + 1, 400000 << 10} {
		err := CheckBuffer(mib)
		want := fmt.Sprintf("--buffer %d: more than half this machine's memory (%d MiB), give at most %d; --buffer counts MiB, not KiB as tcpdump's -B does (-B %d is --buffer %d)", mib, mem>>20, most, mib, (mib+1023)/1024)
		if err == nil || err.Error() != want {
			t.Errorf("CheckBuffer(%d): %v, want %q", mib, err, want)
		}
	}
}

// TestOpenBufferRefused: OpenBuffer refuses what CheckBuffer does, before
// it asks the kernel, in the same words; and the kernel's own refusal of
// the ring, as gopacket words it, is taken for one.
func TestOpenBufferRefused(t *testing.T) {
	for _, mib := range []int{-1, int(memory()/2>>20) + 1} {
		_, err := OpenBuffer(context.Background(), "lo", capture.Filter{}, mib)
		if err == nil || err.Error() != "sniff: "+CheckBuffer(mib).Error() {
			t.Errorf("OpenBuffer(%d MiB): %v, want sniff: %v", mib, err, CheckBuffer(mib))
		}
	}
	for _, err := range []error{
		errors.New("setsockopt packet_rx_ring v3: cannot allocate memory"),
		fmt.Errorf("mmap: %w", syscall.ENOMEM),
	} {
		if !ringRefused(err) {
			t.Errorf("ringRefused(%v) = false", err)
		}
	}
	if ringRefused(errors.New("setsockopt packet_version: invalid argument")) {
		t.Error("ringRefused of another setsockopt's error")
	}
}

// TestBufferHoldsWhatDefaultDrops: the ring is as large as --buffer says.
// A burst twice the default ring, not read meanwhile, is partly dropped
// by a ring of the default size, and wholly kept by one of 4 times it
// (blocks are only handed over when full here: no timeout retires a
// half-empty one while the machine is slow to send).
func TestBufferHoldsWhatDefaultDrops(t *testing.T) {
	saved := blockTimeout
	blockTimeout = time.Minute
	defer func() { blockTimeout = saved }()
	for _, tc := range []struct {
		buffer  int
		dropped bool
	}{{0, true}, {DefaultBuffer, true}, {4 * DefaultBuffer, false}} {
		h, got := burst(t, tc.buffer, 2*DefaultBuffer<<20)
		want := tc.buffer
		if want == 0 {
			want = DefaultBuffer
		}
		if h.Buffer() != want {
			t.Errorf("OpenBuffer(%d MiB): Buffer() = %d, want %d", tc.buffer, h.Buffer(), want)
		}
		if (got > 0) != tc.dropped {
			t.Errorf("a ring of %d MiB: %d packets dropped of a burst of %d MiB unread; want dropped %v", want, got, 2*DefaultBuffer, tc.dropped)
		}
	}
}

// burst captures, with a ring of buffer MiB, a connection on lo that
// sends n bytes while the capture is not read, and returns how many
// packets the kernel dropped once its receiver has read them all (each
// packet went by the capture before its bytes reached the receiver).
func burst(t *testing.T, buffer, n int) (*Handle, uint64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var got atomic.Int64
	read := make(chan struct{})
	go func() { // ends with the sender's close, or the listener's
		defer close(read)
		if c, err := ln.Accept(); err == nil {
			k, _ := io.Copy(io.Discard, c)
			got.Store(k)
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h, err := OpenBuffer(ctx, "lo", capture.Port(uint16(ln.Addr().(*net.TCPAddr).Port)), buffer)
	if errors.Is(err, ErrPermission) {
		capperm.Missing(t, "capturing needs root or CAP_NET_RAW")
	}
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	for sent := 0; sent < n; sent += len(buf) {
		if _, err := c.Write(buf); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	<-read
	if got.Load() != int64(n) {
		t.Fatalf("the receiver read %d bytes, want %d", got.Load(), n)
	}
	return h, h.Dropped()
}
