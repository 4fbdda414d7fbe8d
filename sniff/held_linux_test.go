//go:build linux

package sniff

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/muxtop/muxtop/capture"
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // ends with the listener's close
		if c, err := ln.Accept(); err == nil {
			io.Copy(io.Discard, c)
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Only this connection's packets: a busy loopback would never be quiet.
	h, err := Open(ctx, "lo", capture.Port(uint16(ln.Addr().(*net.TCPAddr).Port)))
	if errors.Is(err, ErrPermission) {
		t.Skip("capturing needs root or CAP_NET_RAW")
	}
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	// Read until quiet, so that the ring is empty and handed over.
	for {
		_, _, err := h.ReadPacketData()
		if errors.Is(err, capture.ErrIdle) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	sent := time.Now()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var idles []time.Time
	for {
		_, ci, err := h.ReadPacketData()
		if errors.Is(err, capture.ErrIdle) {
			idles = append(idles, ci.Timestamp)
			continue
		}
		if err != nil {
			t.Fatalf("no packet: %v", err)
		}
		// The connection's SYN, the first packet since the ring was quiet.
		if waited := time.Since(sent); waited < time.Second {
			t.Skipf("the kernel handed the block over after %v, not the 1.5 s asked: nothing held to test", waited)
		}
		for _, at := range idles {
			if at.After(ci.Timestamp) {
				t.Fatalf("a quiet moment at %v was reported before the packet of %v it held back", at.Format("15:04:05.000"), ci.Timestamp.Format("15:04:05.000"))
			}
		}
		return
	}
}
