package tap

import (
	"io"
	"net"
	"strings"
	"testing"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/wirekind"
)

// TestProxyWrongSkip: attach --skip 1 in front of a plain yamux service,
// whose clients send no prefix: the skip eats the first byte of the
// client's first yamux header. Before, the client's finding said
// "unknown bytes … bytes lost or altered on the way" and none named the
// --skip 1 the user gave. The client's finding says that the skipped
// byte begins a yamux header, and to drop --skip.
func TestProxyWrongSkip(t *testing.T) {
	for _, proto := range []Protocol{Detect, Yamux} {
		t.Run(proto.String(), func(t *testing.T) {
			raw := make(chan *smuxtest.RecordingConn, 1)
			up := startUpstream(t, "", serveYamux(0, raw))
			reg := live.New(live.Config{})
			p := startProxy(t, ProxyConfig{Upstream: up.addr(), Registry: reg, Protocol: proto, Skip: 1})
			yamuxClientWork(t, dialProxy(t, p), 1, 0, 0) // the two ends work through the proxy
			smuxtest.Eventually(t, "the client's bytes to break the framing", func() bool {
				snap := reg.Snapshot()
				return len(snap.Sessions) == 1 && len(snap.Sessions[0].Framing) > 0
			})
			fs := protocolFindings(reg)
			f := fs[live.ClientToServer]
			if f == nil {
				t.Fatalf("PROTOCOL findings: %v, want the client's", fs)
			}
			want := "the client's first byte, skipped by --skip 1, begins a yamux header"
			if !strings.Contains(f.Text, want) || strings.Contains(f.Text, "lost or altered") {
				t.Errorf("text %q, want it to say %q", f.Text, want)
			}
			if !strings.HasPrefix(f.Advice, "drop --skip 1") || strings.Contains(f.Advice, "address") {
				t.Errorf("advice %q, want it to start \"drop --skip 1\"", f.Advice)
			}
			if f.Severity != live.Warning {
				t.Errorf("severity %v: the ends are fine; muxtop's --skip is not", f.Severity)
			}
			// One finding: with yamux forced the server's frames decode;
			// detected past the skip, the client's 0x01 made it smux and
			// the server's yamux broke smux's framing too, which the
			// client's finding says.
			if len(fs) != 1 {
				t.Errorf("PROTOCOL findings %v, want the client's alone", fs)
			}
			if proto == Detect {
				want = "the client sent unknown bytes, not smux (LENGTH_NOT_ZERO at offset 0), but the client's first byte, skipped by --skip 1, begins a yamux header, and the server sent a yamux header: both ends speak yamux, and muxtop skipped the start of the client's, not a prefix"
				if f.Text != want {
					t.Errorf("text %q, want %q", f.Text, want)
				}
			}
		})
	}
}

// TestProxyWrongSkipServerFault: attach --protocol yamux --skip 1 in
// front of an HTTP server that a yamux client was pointed at: the skip is
// wrong (the client's skipped byte begins its yamux header), and the
// server's HTTP answer to yamux is a fault of its own, which muxtop
// decoded from its first byte. The server's finding must stay critical
// and not say that nothing shows the ends at fault.
func TestProxyWrongSkipServerFault(t *testing.T) {
	up := startUpstream(t, "", func(c net.Conn) {
		if _, err := io.ReadFull(c, make([]byte, 24)); err != nil {
			return
		}
		c.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
		io.Copy(io.Discard, c)
	})
	reg := live.New(live.Config{})
	p := startProxy(t, ProxyConfig{Upstream: up.addr(), Registry: reg, Protocol: Yamux, Skip: 1})
	c := dialProxy(t, p)
	// A yamux SYN (a window update of stream 1) and a ping.
	if _, err := c.Write([]byte{0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 12)); err != nil {
		t.Fatal(err)
	}
	smuxtest.Eventually(t, "both directions to break the framing", func() bool {
		snap := reg.Snapshot()
		return len(snap.Sessions) == 1 && len(snap.Sessions[0].Framing) == 2
	})
	fs := protocolFindings(reg)
	if f := fs[live.ClientToServer]; f == nil || f.Evidence.Unskipped != wirekind.Yamux {
		t.Fatalf("the client's PROTOCOL finding: %v, want one naming the wrong skip", f)
	}
	f := fs[live.ServerToClient]
	if f == nil {
		t.Fatalf("PROTOCOL findings %v, want the server's too", fs)
	}
	if f.Severity != live.Critical || strings.Contains(f.Advice, "nothing shows the two ends at fault") {
		t.Errorf("the server's finding: %v, %q / %q; want critical: an HTTP answer to yamux is the server's fault", f.Severity, f.Text, f.Advice)
	}
}

// TestProxyWrongPrefix: attach --prefix 00 --protocol smux in front of a
// plain yamux service: its clients' first byte is 00, the version byte of
// yamux's first header, which --prefix takes for the prefix. The finding
// names the flag given, --prefix 00: it said "skipped by --skip 1" and
// "drop --skip 1", a flag the user never gave.
func TestProxyWrongPrefix(t *testing.T) {
	raw := make(chan *smuxtest.RecordingConn, 1)
	up := startUpstream(t, "", serveYamux(0, raw))
	reg := live.New(live.Config{})
	p := startProxy(t, ProxyConfig{Upstream: up.addr(), Registry: reg, Protocol: Smux, Prefix: []byte{0}})
	yamuxClientWork(t, dialProxy(t, p), 1, 0, 0)
	smuxtest.Eventually(t, "the client's bytes to break the framing", func() bool {
		snap := reg.Snapshot()
		return len(snap.Sessions) == 1 && len(snap.Sessions[0].Framing) > 0
	})
	f := protocolFindings(reg)[live.ClientToServer]
	if f == nil {
		t.Fatal("no PROTOCOL finding of the client's")
	}
	if !strings.Contains(f.Text, "the client's first byte, skipped by --prefix 00, begins a yamux header") ||
		!strings.HasPrefix(f.Advice, "drop --prefix 00: ") || strings.Contains(f.Text+f.Advice, "--skip") {
		t.Errorf("%q / %q: want it to name --prefix 00, the flag given", f.Text, f.Advice)
	}
}
