//go:build linux

package sniff_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/netip"
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/sniff"
)

// TestAnyDropsUnsupportedLinkType: under -i any, the packets of an
// interface of a link type sniff does not decode (a tun made to say IEEE
// 802.11 with TUNSETLINK) are dropped in the kernel, with the whole
// socket filter and with only its preamble (a filter too long for the
// jumps), while a tun's bare IP packets are kept. Each packet of the
// 802.11 one is written before a marker on an ordinary tun (a tun's write
// reaches the capture before it returns): once the markers are read, the
// other must have been read first if the kernel kept it.
func TestAnyDropsUnsupportedLinkType(t *testing.T) {
	for _, terms := range []int{1, 20} {
		t.Run(fmt.Sprint(terms), func(t *testing.T) { anyDropsUnsupported(t, terms) })
	}
}

func anyDropsUnsupported(t *testing.T, terms int) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a failsafe
	defer cancel()
	var rnd [3]byte
	rand.Read(rnd[:])
	const port = 4242
	expr := "port 4242"
	for range terms - 1 {
		expr += " and port 4242"
	}
	f, err := capture.ParseFilter(expr)
	if err != nil {
		t.Fatal(err)
	}
	h := openOn(t, ctx, sniff.Any, f)

	index := freeIndex(t, 300000+int(rnd[2])*100)
	marker := newTun(t, fmt.Sprintf("mxm%x", rnd), index, unix.IFF_TUN)
	defer marker.Close()
	const arphrdIEEE80211 = 801
	oddName := fmt.Sprintf("mxo%x", rnd)
	odd := newTunOf(t, oddName, index+1, unix.IFF_TUN, arphrdIEEE80211)
	defer odd.Close()

	pkt := syn4(t, netip.MustParseAddr("10.80.0.2"), netip.MustParseAddr("10.80.0.1"), port, 1234)
	const rounds = 20
	for range rounds {
		if _, err := odd.Write(pkt); err != nil {
			t.Fatalf("writing the 802.11 tun: %v", err)
		}
		if _, err := marker.Write(pkt); err != nil {
			t.Fatalf("writing the tun: %v", err)
		}
	}
	for markers := 0; markers < rounds; {
		data, ci, err := nextPacket(h)
		if err != nil {
			t.Fatalf("read (%d markers of %d): %v", markers, rounds, err)
		}
		switch ci.InterfaceIndex {
		case index:
			markers++
		case index + 1:
			out, _ := exec.Command("ip", "-d", "link", "show", oddName).CombinedOutput()
			t.Fatalf("a packet of the 802.11 interface was kept, read as %v (%d markers before): % x\n%s", ci.AncillaryData, markers, data, out)
		}
	}
}
