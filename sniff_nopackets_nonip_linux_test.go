package main

import (
	"context"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/capperm"
)

// htons is v in network byte order, as AF_PACKET takes a protocol.
func htons(v uint16) uint16 { return v<<8 | v>>8 }

// TestSniffNoPacketsDespiteOtherFrames: frames that are not TCP pass the
// socket filter whole (an ARP on an Ethernet interface, here a frame of
// the local experimental EtherType 0x88b5 on lo) for the reader to judge,
// and are none of the service's packets: sniff still says, after 5 s,
// that no packet matching --port came. It counted them, and on an
// Ethernet interface, where ARP comes every few seconds, never said it.
func TestSniffNoPacketsDespiteOtherFrames(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for seconds")
	}
	t.Parallel() // its frames are no TCP, and no other test's sniff counts them
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW, int(htons(syscall.ETH_P_ALL)))
	if err != nil {
		capperm.Missing(t, fmt.Sprintf("raw socket: %v (needs root or CAP_NET_RAW)", err))
	}
	defer syscall.Close(fd)
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Skip(err)
	}
	frame := make([]byte, 60)
	frame[12], frame[13] = 0x88, 0xb5
	to := &syscall.SockaddrLinklayer{Protocol: htons(0x88b5), Ifindex: lo.Index, Halen: 6}
	stopFrames := make(chan struct{})
	framesDone := make(chan struct{})
	go func() { // owned by the test: stopped and waited for below
		defer close(framesDone)
		for {
			syscall.Sendto(fd, frame, 0, to)
			select {
			case <-stopFrames:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	defer func() { close(stopFrames); <-framesDone }()

	port := quietPort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := startSniff(ctx, "-i", "lo", "--port", port, "-o", "json")
	want := `"text":"sniff: no packets on lo matching port ` + port + ` in 5s`
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(s.stdout.String(), want) {
		select {
		case code := <-s.done:
			t.Fatalf("sniff: exit %d: %s", code, s.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no notice that no packet came in 30 s, though none of the port's came:\n%s", s.stdout.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-s.done
}
