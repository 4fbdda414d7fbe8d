//go:build linux

package sniff_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/xtaci/smux"
	"golang.org/x/sys/unix"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/internal/tuntest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/sniff"
)

// TestTunnel sniffs a real smux session whose every segment crosses a tun
// device, whose packets are bare IP (no link-layer header), as on a
// WireGuard, Tailscale or OpenVPN interface: bound to the tun, and with
// -i any. Before sniff read bare IP, the first found nothing (every packet
// decoded as an Ethernet frame) and the second dropped the tun's packets
// in its socket filter. Each of the connection's two views on the tun
// (tunPair) must be one session with every stream opened and closed, and
// as many wire bytes each way as the client's conn counted, with no
// violation or anomaly. So over IPv4 and over IPv6 (tuntest.New6).
func TestTunnel(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		for _, bound := range []bool{true, false} {
			name := "bound"
			if !bound {
				name = sniff.Any
			}
			if v6 {
				name += "-ipv6"
			}
			t.Run(name, func(t *testing.T) { tunnel(t, bound, v6) })
		}
	}
}

func tunnel(t *testing.T, bound, v6 bool) {
	newPair := tuntest.New
	if v6 {
		newPair = tuntest.New6
	}
	p := newPair(t)
	iface := sniff.Any
	if bound {
		iface = p.Ifname
	}
	port := uint16(p.Ln.Addr().(*net.TCPAddr).Port)
	filter := capture.Port(port)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := openOn(t, ctx, iface, filter)
	if want := map[bool]layers.LinkType{true: layers.LinkTypeRaw, false: layers.LinkTypeEthernet}[bound]; h.LinkType() != want {
		t.Fatalf("LinkType %v, want %v", h.LinkType(), want)
	}
	reg := live.New(live.Config{})
	rd := capture.NewReader(capture.Config{Registry: reg, Filter: filter})
	read := make(chan error, 1)
	go func() { read <- rd.Run(ctx, h) }()

	cfg := smux.DefaultConfig()
	cfg.KeepAliveInterval, cfg.KeepAliveTimeout = time.Hour, 2*time.Hour // no NOP in the counts' way
	served := make(chan error, 1)
	go func() { served <- smuxtest.ServeEcho(p.Ln, cfg) }()
	c, err := p.Dial()
	if err != nil {
		t.Fatal(err)
	}
	cc := &smuxtest.CountingConn{Conn: c}
	sess, err := smux.Client(cc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	const streams = 40
	msg := []byte(strings.Repeat("muxtop over a tunnel ", 200)) // 4 KiB: segments of a full MTU
	buf := make([]byte, len(msg))
	for i := range streams {
		st, err := sess.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(st, buf); err != nil {
			t.Fatalf("stream %d: %v", i, err)
		}
		st.Close()
	}

	// Both views of the connection: every stream closed both ways, and the
	// wire bytes the client's conn counted.
	var views []*live.SessionSnap
	deadline := time.Now().Add(10 * time.Second)
	for {
		views = views[:0]
		wrote, got := cc.Out.Load(), cc.In.Load()
		for _, ss := range reg.Snapshot().Sessions {
			if ss.Counts.Frames[live.ClientToServer][decoder.FIN] == streams && ss.Counts.Frames[live.ServerToClient][decoder.FIN] == streams &&
				ss.Counts.BytesDir(live.ClientToServer) == wrote && ss.Counts.BytesDir(live.ServerToClient) == got {
				views = append(views, ss)
			}
		}
		if len(views) == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(views) != 2 {
		var b strings.Builder
		for _, ss := range reg.Snapshot().Sessions {
			fmt.Fprintf(&b, "\n  %s → %s: FIN %v, bytes c2s %d s2c %d, incomplete %v",
				ss.Info.Client, ss.Info.Server, [2]uint64{ss.Counts.Frames[0][decoder.FIN], ss.Counts.Frames[1][decoder.FIN]},
				ss.Counts.BytesDir(live.ClientToServer), ss.Counts.BytesDir(live.ServerToClient), ss.Incomplete)
		}
		t.Fatalf("want 2 sessions with %d streams closed both ways and %d/%d wire bytes (the client's conn's count), the packets read %d (reflected %d); sessions:%s",
			streams, cc.Out.Load(), cc.In.Load(), rd.Stats().Packets, p.Reflected.Load(), b.String())
	}
	wantEnds := map[string]bool{
		netip.AddrPortFrom(p.ServerSide, port).String(): true, // the client's view
		netip.AddrPortFrom(p.Local, port).String():      true, // the server's
	}
	for _, ss := range views {
		if !wantEnds[ss.Info.Server] {
			t.Errorf("a session's server is %s, want one of %v", ss.Info.Server, wantEnds)
		}
		delete(wantEnds, ss.Info.Server)
		if ss.AnomalyCount != 0 || ss.Counts.Frames[live.ClientToServer][decoder.SYN] != streams || ss.Incomplete {
			t.Errorf("%s → %s: %d anomalies, %d SYNs, incomplete %v: want 0, %d, false",
				ss.Info.Client, ss.Info.Server, ss.AnomalyCount, ss.Counts.Frames[live.ClientToServer][decoder.SYN], ss.Incomplete, streams)
		}
	}
	if snap := reg.Snapshot(); snap.Violations != 0 {
		t.Errorf("%d violations, want none", snap.Violations)
	}
	sess.Close()
	cancel()
	if err := <-read; err != nil {
		t.Errorf("the reader: %v", err)
	}
	p.Ln.Close()
	<-served
}

// TestUnsupportedLinkType: an interface of a link type sniff does not
// decode (a tun made to say IEEE 802.11, ARPHRD 801, with TUNSETLINK)
// is refused in one line that names the type and what to do instead,
// rather than captured as Ethernet and decoded into nothing.
func TestUnsupportedLinkType(t *testing.T) {
	const arphrdIEEE80211 = 801
	name := fmt.Sprintf("mxtl%04x", os.Getpid()&0xffff)
	defer newTunOf(t, name, 0, unix.IFF_TUN, arphrdIEEE80211).Close() // deletes the interface
	_, err := sniff.Open(context.Background(), name, capture.Filter{})
	if err == nil || !strings.Contains(err.Error(), "link type 801") || !strings.Contains(err.Error(), "muxtop read") {
		t.Fatalf("Open(%s): %v, want the link type named and the way round it", name, err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("a multi-line error: %q", err)
	}
}
