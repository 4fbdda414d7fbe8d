//go:build linux

package sniff

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/muxtop/muxtop/capture"
)

// TestClockSetBackAfterOpen: the wall clock set back an hour just after
// Open (an NTP step at boot, a VM resumed) stamps every packet an hour
// before Open's time: they are no packets the socket took before it was
// bound and filtered, and must come out, not be dropped for an hour.
func TestClockSetBackAfterOpen(t *testing.T) {
	ln, h := sinkOnLoopback(t, 10*time.Second)
	h.start.since = h.start.since.Add(time.Hour) // as if the clock went back an hour after it was read
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	for {
		_, _, err := h.ReadPacketData()
		if errors.Is(err, capture.ErrIdle) {
			continue
		}
		if err != nil {
			t.Fatalf("no packet read: %v", err)
		}
		return
	}
}
