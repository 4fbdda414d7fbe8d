package main

import (
	"io"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	pcap "github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/internal/pcaptest"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tui"
)

// halfCloseSession runs one real session (hashicorp/yamux if yam, else
// smux v2) on a connection to ln: the client exchanges "ping" and "pong"
// on a stream, both close it, and the client exits, closing its
// connection. The server reads the EOF: yamux closes its session at once;
// smux does not, and this server, its owner, closes it only once its
// AcceptStream returned the EOF. It returns when both ends are closed.
func halfCloseSession(t *testing.T, ln net.Listener, yam bool) {
	t.Helper()
	client, server := smuxtest.Exchange{Request: []byte("ping"), Answer: []byte("pong")}.Peers(t, smuxtest.MuxOf(yam))
	done := make(chan struct{})
	go func() { // the server: one connection, one stream
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		server(c)
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	client(c) // then the client exits: its FIN
	<-done
}

// TestTcpdumpHalfClosed: tcpdump on loopback captures a real smux v2
// session whose client exits while its server keeps the connection open
// after reading the EOF, as smux servers do until their owner closes
// them, and a yamux one, whose server closes at once on EOF. Read back
// packet by packet, the capture's session is live with the client's
// direction ended at its FIN's time up to the server's FIN, and the
// sessions pane says "client closed"; after the server's FIN the session
// ended by EOF at its time, and the pane says "ended: EOF" (and, as the
// room allows, that the client closed first). The FINs are
// the kernel's, not a recording's. Without tcpdump it skips, unless
// MUXTOP_REQUIRE_TCPDUMP=1 (CI).
func TestTcpdumpHalfClosed(t *testing.T) {
	bin := tcpdumpPath(t)
	for _, yam := range []bool{false, true} {
		t.Run(map[bool]string{false: "smux", true: "yamux"}[yam], func(t *testing.T) {
			file, addr := tcpdumpOf(t, bin, "halfclose.pcap", func(ln net.Listener) { halfCloseSession(t, ln, yam) })

			src, rd, reg := pcaptest.OpenFile(t, file, pcap.Config{})
			port := layers.TCPPort(netip.MustParseAddrPort(addr).Port())
			var fins [2]gopacket.CaptureInfo // the client's, the server's
			var seen [2]bool
			for {
				data, ci, err := src.ReadPacketData()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				tcp, _ := gopacket.NewPacket(data, src.LinkType(), gopacket.Default).Layer(layers.LayerTypeTCP).(*layers.TCP)
				if tcp != nil && tcp.FIN && tcp.SrcPort != port && !seen[0] {
					seen[0], fins[0] = true, ci
				}
				if tcp != nil && tcp.FIN && tcp.SrcPort == port && !seen[1] {
					if !seen[0] {
						t.Fatal("the server's FIN came first")
					}
					seen[1], fins[1] = true, ci
					// Everything up to the server's FIN read: the client's side closed.
					ss, row := halfClosedRow(t, reg)
					if ss.Ended || !ss.DirEnded[live.ClientToServer].Equal(fins[0].Timestamp) || !ss.DirEnded[live.ServerToClient].IsZero() {
						t.Errorf("before the server's FIN: ended %v, directions ended %v; want live, the client's at its FIN, %v", ss.Ended, ss.DirEnded, fins[0].Timestamp)
					}
					if !strings.Contains(row, " client closed ") {
						t.Errorf("before the server's FIN the session's row does not say client closed: %q", row)
					}
				}
				rd.Packet(data, ci, src.LinkType())
			}
			rd.Close()
			if !seen[1] {
				t.Fatalf("FINs seen: client %v, server %v; want both", seen[0], seen[1])
			}
			ss, row := halfClosedRow(t, reg)
			end := fins[1].Timestamp
			if !ss.Ended || ss.Reason != live.EOF || !ss.End.Equal(end) || !ss.DirEnded[live.ServerToClient].Equal(end) {
				t.Errorf("after both FINs: ended %v (%v at %v), directions ended %v; want ended by EOF at the server's FIN, %v", ss.Ended, ss.Reason, ss.End, ss.DirEnded, end)
			}
			if !strings.Contains(row, "ended: EOF") || strings.Contains(row, " client closed ") {
				t.Errorf("after both FINs the session's row does not say ended: EOF, or still says client closed: %q", row)
			}
		})
	}
}

// halfClosedRow returns reg's one session and its row in the sessions
// pane of the interactive screen.
func halfClosedRow(t *testing.T, reg *live.Registry) (live.SessionSnap, string) {
	t.Helper()
	snap := reg.Snapshot()
	if len(snap.Sessions) != 1 {
		t.Fatalf("%d sessions read, want 1", len(snap.Sessions))
	}
	m, _ := tui.New(reg, tui.Options{Title: "read", NoColor: true}).Update(tea.WindowSizeMsg{Width: 160, Height: 45})
	for _, l := range strings.Split(ansi.Strip(m.View().Content), "\n") {
		if strings.Contains(l, "▶") && strings.Contains(l, "→ :") {
			return *snap.Sessions[0], l
		}
	}
	t.Fatalf("no session row selected:\n%s", ansi.Strip(m.View().Content))
	return live.SessionSnap{}, ""
}

// tcpdumpOf runs session on a listener of a free loopback port while bin
// (tcpdump) captures that port into a file named name, and returns the
// file's path and the listener's address; it skips the test if tcpdump
// dropped packets.
func tcpdumpOf(t *testing.T, bin, name string, session func(ln net.Listener)) (file, addr string) {
	t.Helper()
	addr = freePort(t)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	file = filepath.Join(t.TempDir(), name)
	stop := startTcpdump(t, bin, addr, file)
	session(ln)
	if drops, stats := stop(); drops > 0 {
		t.Skipf("tcpdump dropped %d packets: %s", drops, stats)
	}
	return file, addr
}
