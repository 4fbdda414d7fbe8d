package tap

import (
	"strings"
	"testing"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
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
			if proto == Yamux {
				if len(fs) != 1 {
					t.Errorf("PROTOCOL findings %v: the server's yamux decodes", fs)
				}
				return
			}
			// Detected past the skip, the client's 0x01 made it smux: the
			// server's yamux is a finding too, with the same advice.
			g := fs[live.ServerToClient]
			want = "the server sent a yamux header, not smux (BAD_VERSION at offset 0), and the client's first byte, skipped by --skip 1, begins a yamux header: both ends speak yamux, and muxtop, past --skip 1, decoded their connection as smux"
			if len(fs) != 2 || g == nil || g.Text != want {
				t.Fatalf("PROTOCOL findings %v; the server's text %q, want %q", fs, g.Text, want)
			}
			if g.Advice != f.Advice {
				t.Errorf("the server's advice %q, want the client's, %q", g.Advice, f.Advice)
			}
		})
	}
}
