package main

import (
	"io"
	"net"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/xtaci/smux"

	pcap "github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/internal/pcaptest"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// TestResetAfterOtherEndsFINProxyAndTcpdump: one end's FIN, then the
// other end's reset, on real sockets: a real smux client through attach's
// proxy exchanges a stream and half-closes its connection (CloseWrite: a
// FIN), which the proxy passes on to the upstream; the upstream, an smux
// server, reads the EOF and closes with SO_LINGER 0 (a RST). The proxy's
// session ends "reset by the upstream …; the client … had closed its side
// of the connection … before", and tcpdump's capture of the upstream's
// connection, read back, ends "reset by the server …; the client … had
// closed its side …", the time between being the capture's own, from the
// FIN's and the RST's timestamps counted here. Without tcpdump it skips,
// unless MUXTOP_REQUIRE_TCPDUMP=1 (CI).
func TestResetAfterOtherEndsFINProxyAndTcpdump(t *testing.T) {
	bin := tcpdumpPath(t)
	reg := live.New(live.Config{})
	cfg := smuxtest.Config(2)
	cfg.KeepAliveDisabled = true // no NOP after the FIN: the RST is the upstream's own
	var client, upClient string
	var shut time.Time
	var proxied *live.SessionSnap
	file, upAddr := tcpdumpOf(t, bin, "resetafterfin.pcap", func(ln net.Listener) {
		served := make(chan struct{})
		go func() { // the upstream: one connection, one stream, then its reset
			defer close(served)
			c, err := ln.Accept()
			if err != nil {
				t.Error(err)
				return
			}
			upClient = c.RemoteAddr().String()
			s, err := smux.Server(c, cfg)
			if err != nil {
				t.Error(err)
				c.Close()
				return
			}
			if st, err := s.AcceptStream(); err == nil {
				io.ReadFull(st, make([]byte, 4))
				st.Write([]byte("pong"))
			}
			s.AcceptStream() // until the EOF: the client's FIN, passed on
			c.(*net.TCPConn).SetLinger(0)
			c.Close() // the RST
		}()
		p := tap.NewProxy(tap.ProxyConfig{Listen: "127.0.0.1:0", Upstream: ln.Addr().String(), Registry: reg})
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { p.Close(); p.Wait() }()
		c, err := net.Dial("tcp", p.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		client = c.LocalAddr().String()
		cli, err := smux.Client(c, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer cli.Close()
		st, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		st.Write([]byte("ping"))
		if got := make([]byte, 4); func() error { _, err := io.ReadFull(st, got); return err }() != nil || string(got) != "pong" {
			t.Fatalf("the client read %q; want pong", got)
		}
		shut = time.Now()
		if err := c.(*net.TCPConn).CloseWrite(); err != nil { // the client's FIN
			t.Fatal(err)
		}
		<-served
		smuxtest.Eventually(t, "the proxy's session to end", func() bool {
			snap := reg.Snapshot()
			if len(snap.Sessions) == 1 && snap.Sessions[0].Ended {
				proxied = snap.Sessions[0]
			}
			return proxied != nil
		})
	})
	elapsed := time.Since(shut)

	// The proxy: the upstream reset, the client had closed first.
	want := regexp.MustCompile(`^reset by the upstream ` + regexp.QuoteMeta(upAddr) + `; the client ` + regexp.QuoteMeta(client) +
		` had closed its side of the connection ([0-9.]+(?:µs|ms|s)) before$`)
	if proxied.Reason != live.Reset {
		t.Errorf("the proxy's session ended %v: %q; want reset", proxied.Reason, proxied.Err)
	}
	if m := want.FindStringSubmatch(proxied.Err); m == nil {
		t.Errorf("the proxy's session ended %q; want %v", proxied.Err, want)
	} else if d, err := time.ParseDuration(m[1]); err != nil || d <= 0 || d > elapsed {
		t.Errorf("the proxy says the client had closed %s before the reset; the test's CloseWrite was %v before the session's end was read", m[1], elapsed)
	}

	// The capture of the upstream's connection: the proxy's end is its
	// client, which sent the FIN; the upstream, its server, the RST.
	checkCapturedResetAfterFIN(t, file, upAddr, upClient)
}

// checkCapturedResetAfterFIN reads back file, tcpdump's capture of one
// connection to the server at server from client, and checks that its
// session ended as the client's FIN, then the server's RST, say, the time
// between them counted here from their packets: "reset by the server …;
// the client … had closed its side of the connection … before". It
// returns that detail.
func checkCapturedResetAfterFIN(t *testing.T, file, server, client string) string {
	t.Helper()
	var fin, rst time.Time
	src, rd, capReg := pcaptest.OpenFile(t, file, pcap.Config{})
	for {
		data, ci, err := src.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if tcp, _ := gopacket.NewPacket(data, src.LinkType(), gopacket.Default).Layer(layers.LayerTypeTCP).(*layers.TCP); tcp != nil {
			fromServer := net.JoinHostPort("127.0.0.1", strconv.Itoa(int(tcp.SrcPort))) == server
			if tcp.FIN && !fromServer && fin.IsZero() {
				fin = ci.Timestamp
			}
			if tcp.RST && fromServer && rst.IsZero() {
				rst = ci.Timestamp
			}
		}
		rd.Packet(data, ci, src.LinkType())
	}
	rd.Close()
	if fin.IsZero() || rst.IsZero() || rst.Before(fin) {
		t.Fatalf("the capture's client FIN at %v, server RST at %v; want a FIN, then a RST", fin, rst)
	}
	snap := capReg.Snapshot()
	if len(snap.Sessions) != 1 {
		t.Fatalf("%d sessions read, want 1", len(snap.Sessions))
	}
	before := rst.Sub(fin).Round(time.Microsecond)
	if before >= time.Millisecond {
		before = rst.Sub(fin).Round(time.Millisecond)
	}
	want := "reset by the server " + server + "; the client " + client + " had closed its side of the connection " + before.String() + " before"
	if ss := snap.Sessions[0]; !ss.Ended || ss.Reason != live.Reset || ss.Err != want {
		t.Errorf("the capture's session ended %v, %v %q; want reset, %q", ss.Ended, ss.Reason, ss.Err, want)
	}
	return want
}

// TestResetAfterOwnFINTapAndTcpdump: the same on a tapped conn: a real
// smux client, its conn tapped, exchanges a stream and half-closes its
// connection through the tap (CloseWrite: a FIN); its server, an smux
// server, reads the EOF and closes with SO_LINGER 0 (a RST), which the
// client's read meets. The tap's session ends as the proxy's and the
// capture's do, "reset by the server …; the client … had closed its side
// of the connection … before", and tcpdump's capture of the connection
// says so too. Before, the tap said "reset" and nothing more: not who
// reset, nor that its own end had closed its side before. Without tcpdump
// it skips, unless MUXTOP_REQUIRE_TCPDUMP=1 (CI).
func TestResetAfterOwnFINTapAndTcpdump(t *testing.T) {
	bin := tcpdumpPath(t)
	reg := live.New(live.Config{})
	cfg := smuxtest.Config(2)
	cfg.KeepAliveDisabled = true // no NOP after the FIN: the RST is the server's own
	var client string
	var shut time.Time
	var tapped *live.SessionSnap
	file, addr := tcpdumpOf(t, bin, "resetafterownfin.pcap", func(ln net.Listener) {
		served := make(chan struct{})
		go func() { // the server: one connection, one stream, then its reset
			defer close(served)
			c, err := ln.Accept()
			if err != nil {
				t.Error(err)
				return
			}
			s, err := smux.Server(c, cfg)
			if err != nil {
				t.Error(err)
				c.Close()
				return
			}
			if st, err := s.AcceptStream(); err == nil {
				io.ReadFull(st, make([]byte, 4))
				st.Write([]byte("pong"))
			}
			s.AcceptStream() // until the client's EOF
			c.(*net.TCPConn).SetLinger(0)
			c.Close() // the RST
		}()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		client = c.LocalAddr().String()
		tc := tap.Wrap(c, live.Client, reg, "client")
		cli, err := smux.Client(tc, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer cli.Close()
		st, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		st.Write([]byte("ping"))
		if got := make([]byte, 4); func() error { _, err := io.ReadFull(st, got); return err }() != nil || string(got) != "pong" {
			t.Fatalf("the client read %q; want pong", got)
		}
		shut = time.Now()
		if err := tc.CloseWrite(); err != nil { // the client's FIN
			t.Fatal(err)
		}
		<-served
		smuxtest.Eventually(t, "the tap's session to end", func() bool {
			snap := reg.Snapshot()
			if len(snap.Sessions) == 1 && snap.Sessions[0].Ended {
				tapped = snap.Sessions[0]
			}
			return tapped != nil
		})
	})
	elapsed := time.Since(shut)
	want := regexp.MustCompile(`^reset by the server ` + regexp.QuoteMeta(addr) + `; the client ` + regexp.QuoteMeta(client) +
		` had closed its side of the connection ([0-9.]+(?:µs|ms|s)) before$`)
	if tapped.Reason != live.Reset {
		t.Errorf("the tap's session ended %v: %q; want reset", tapped.Reason, tapped.Err)
	}
	if m := want.FindStringSubmatch(tapped.Err); m == nil {
		t.Errorf("the tap's session ended %q; want %v", tapped.Err, want)
	} else if d, err := time.ParseDuration(m[1]); err != nil || d <= 0 || d > elapsed {
		t.Errorf("the tap says the client had closed %s before the reset; the test's CloseWrite was %v before the session's end was read", m[1], elapsed)
	}
	checkCapturedResetAfterFIN(t, file, addr, client)
}
