package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	hyamux "github.com/hashicorp/yamux"
	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/internal/pcaptest"
)

// echoMuxSession runs one healthy session over a connection to ln, its
// keepalive every 300 ms: the client opens a stream and sends a line
// every 150 ms for d, the server echoes each; frozen, the server's
// process never reads the connection (its kernel still ACKs) and the
// client pings into it for d. It returns when both ends are closed.
func echoMuxSession(t *testing.T, ln net.Listener, yam, frozen bool, d time.Duration) {
	t.Helper()
	var closing atomic.Bool // set as the client closes its stream: no more keepalives, either side
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			t.Error(err)
			return
		}
		c = &noKeepaliveAfter{Conn: c, closing: &closing, yamux: yam}
		defer c.Close()
		var fc *freezeConn
		if frozen {
			fc = newFreezeConn(c)
			fc.freeze()
			c = fc
		}
		var accept func() (net.Conn, error)
		if yam {
			cfg := hyamux.DefaultConfig()
			cfg.KeepAliveInterval = 300 * time.Millisecond
			cfg.LogOutput = io.Discard
			s, err := hyamux.Server(c, cfg)
			if err != nil {
				t.Error(err)
				return
			}
			defer s.Close()
			accept = func() (net.Conn, error) { return s.AcceptStream() }
		} else {
			cfg := smux.DefaultConfig()
			cfg.KeepAliveInterval = 300 * time.Millisecond
			s, err := smux.Server(c, cfg)
			if err != nil {
				t.Error(err)
				return
			}
			defer s.Close()
			accept = func() (net.Conn, error) { return s.AcceptStream() }
		}
		if frozen {
			time.Sleep(d + 300*time.Millisecond)
			// Thawed before the session's Close, which waits for its loops.
			close(fc.thawed)
			fc.Conn.Close()
			return
		}
		st, err := accept()
		if err != nil {
			t.Error(err)
			return
		}
		io.Copy(st, st)
		st.Close()
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c = &noKeepaliveAfter{Conn: c, closing: &closing, yamux: yam}
	defer c.Close()
	var open func() (net.Conn, error)
	var closeSess func() error
	if yam {
		cfg := hyamux.DefaultConfig()
		cfg.KeepAliveInterval = 300 * time.Millisecond
		cfg.LogOutput = io.Discard
		s, err := hyamux.Client(c, cfg)
		if err != nil {
			t.Fatal(err)
		}
		open, closeSess = func() (net.Conn, error) { return s.OpenStream() }, s.Close
	} else {
		cfg := smux.DefaultConfig()
		cfg.KeepAliveInterval = 300 * time.Millisecond
		s, err := smux.Client(c, cfg)
		if err != nil {
			t.Fatal(err)
		}
		open, closeSess = func() (net.Conn, error) { return s.OpenStream() }, s.Close
	}
	if frozen {
		time.Sleep(d)
		closeSess()
		<-done
		return
	}
	st, err := open()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(150 * time.Millisecond) {
		if _, err := st.Write([]byte("hello\n")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(st, buf[:6]); err != nil {
			t.Fatal(err)
		}
	}
	closing.Store(true)
	st.Close()
	time.Sleep(100 * time.Millisecond)
	closeSess()
	<-done
}

// noKeepaliveAfter is a conn that, once closing is set, drops the
// keepalive frames written to it (an smux NOP, a yamux ping), each a
// Write of its own: the session's last frames are its streams' FINs, and
// then each side closes its conn. A keepalive that went out after them,
// at 300 ms intervals, reached a server that had closed its socket, whose
// kernel answered with a reset: the client's capture then had no FIN of
// its own, nor the half-close record TestTcpdumpOneWayCellOnScreen looks
// for, and the server's ended "reset by the server" (seen under load,
// where the session's last stream closed later into an interval).
type noKeepaliveAfter struct {
	net.Conn
	closing *atomic.Bool
	yamux   bool
}

func (c *noKeepaliveAfter) Write(p []byte) (int, error) {
	if c.closing.Load() && (!c.yamux && len(p) == 8 && p[1] == 3 || c.yamux && len(p) == 12 && p[1] == 2) {
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// oneWay returns the packets of ps whose destination (toServer) or
// source port is port: what tcpdump's "dst port" or "src port" keeps.
func oneWay(ps []pcaptest.Packet, port uint16, toServer bool) []pcaptest.Packet {
	var out []pcaptest.Packet
	for _, p := range ps {
		if (uint16(p.TCP.DstPort) == port) == toServer {
			out = append(out, p)
		}
	}
	return out
}

// readJSON runs muxtop read -o json on file and returns its records.
func readJSON(t *testing.T, file string) capture {
	t.Helper()
	return parseJSON(t, readOK(t, file, "-o", "json"))
}

// TestTcpdumpOneDirection: a capture of one direction only of a healthy
// session (tcpdump's "dst port", to cut volume, or an asymmetric span
// port) holds nothing of the other side, not even its ACKs: muxtop says
// so once and opens no finding that needs that side's frames (KEEPALIVE,
// UNANSWERED, …), where it opened a critical KEEPALIVE for the unseen
// server. tcpdump's own "dst port" filter keeps the same packets as the
// whole capture with the server's removed. A frozen yamux server, whose
// kernel still ACKs, is seen: its silence is KEEPALIVE's.
func TestTcpdumpOneDirection(t *testing.T) {
	bin := tcpdumpPath(t)
	for _, yam := range []bool{true, false} {
		t.Run(map[bool]string{false: "smux", true: "yamux"}[yam], func(t *testing.T) {
			dir := t.TempDir()
			whole, dst := filepath.Join(dir, "whole.pcap"), filepath.Join(dir, "dst.pcap")
			addr := freePort(t)
			_, port, _ := strings.Cut(addr, ":")
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			stopWhole := startTcpdump(t, bin, addr, whole)
			// tcpdump's own filter: "dst port N and tcp port N".
			stopDst := startTcpdumpOn(t, bin, "lo", addr, dst, "-s", "65600", "dst", "port", port, "and")
			echoMuxSession(t, ln, yam, false, 3*time.Second)
			for _, stop := range []func() (int, string){stopDst, stopWhole} {
				if drops, stats := stop(); drops > 0 {
					t.Skipf("tcpdump dropped %d packets: %s", drops, stats)
				}
			}
			p := netip.MustParseAddrPort(addr).Port()
			wf, err := os.ReadFile(whole)
			if err != nil {
				t.Fatal(err)
			}
			df, err := os.ReadFile(dst)
			if err != nil {
				t.Fatal(err)
			}
			all, byTcpdump := pcaptest.Read(t, bytes.NewReader(wf)), pcaptest.Read(t, bytes.NewReader(df))
			mine := oneWay(all, p, true)
			if len(mine) != len(byTcpdump) {
				t.Fatalf("tcpdump's dst port kept %d packets, the whole capture without the server's %d", len(byTcpdump), len(mine))
			}
			for i := range mine {
				if !bytes.Equal(mine[i].Data, byTcpdump[i].Data) {
					t.Fatalf("packet %d differs between tcpdump's dst port and the whole capture without the server's", i)
				}
			}

			// The whole capture: healthy, no finding.
			if c := readJSON(t, whole); len(ofType(c.other, "finding-opened")) > 0 || c.summary["one_way"] != nil {
				t.Errorf("the whole capture opened findings:%s, one_way %v", findingLines(c.other), c.summary["one_way"])
			}
			for _, toServer := range []bool{true, false} {
				file := dst
				if !toServer {
					file = filepath.Join(dir, "src.pcap")
					f, err := os.Create(file)
					if err != nil {
						t.Fatal(err)
					}
					pcaptest.Write(t, f, oneWay(all, p, false))
					f.Close()
				}
				c := readJSON(t, file)
				if len(c.sessions) != 1 {
					t.Errorf("toServer %v: %d sessions, want 1", toServer, len(c.sessions))
				}
				if fs := ofType(c.other, "finding-opened"); len(fs) > 0 {
					t.Errorf("toServer %v: the capture of one direction opened findings:%s", toServer, findingLines(c.other))
				}
				unseen := map[bool]string{true: "server", false: "client"}[toServer]
				var notices []string
				for _, m := range ofType(c.other, "notice") {
					if d, _ := m["text"].(string); strings.Contains(d, "nothing about the "+unseen+"'s side") {
						notices = append(notices, d)
					}
				}
				if n, _ := c.summary["one_way"].(float64); n != 1 {
					t.Errorf("toServer %v: summary one_way %v, want 1", toServer, c.summary["one_way"])
				}
				var out, errOut syncBuffer
				if code := run(context.Background(), []string{"read", file, "-o", "plain"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "  ONE-WAY   1 session: ") {
					t.Errorf("toServer %v: read -o plain (exit %d) does not say ONE-WAY:\n%s", toServer, code, out.String())
				}
				if len(notices) != 1 {
					t.Errorf("toServer %v: %d notices of the unseen %s, want 1: %q", toServer, len(notices), unseen, notices)
				}
			}
		})
	}
}

// TestTcpdumpFrozenServerAcks: the twin of TestTcpdumpOneDirection: a
// yamux server frozen from the start sends no frame, but its kernel
// ACKs the client's: the capture has the server's side, and its silence
// against the client's unanswered ping is KEEPALIVE.
func TestTcpdumpFrozenServerAcks(t *testing.T) {
	bin := tcpdumpPath(t)
	file, _ := tcpdumpOf(t, bin, "frozen.pcap", func(ln net.Listener) { echoMuxSession(t, ln, true, true, 6*time.Second) })
	c := readJSON(t, file)
	if firstFinding(c.other, "KEEPALIVE") == nil {
		t.Errorf("a frozen server that ACKs opened no KEEPALIVE:%s", findingLines(c.other))
	}
	for _, m := range ofType(c.other, "notice") {
		if d, _ := m["text"].(string); strings.Contains(d, "nothing about") {
			t.Errorf("notice for a side that ACKs: %s", d)
		}
	}
}
