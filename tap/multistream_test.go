package tap

import (
	"io"
	"net"
	"strings"
	"testing"

	hyamux "github.com/hashicorp/yamux"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// TestProxyMultistreamOneWarning: attach in front of a libp2p-like
// server, its client alike: each end sends multistream-select (its header
// and the muxer's id, "/yamux/1.0.0", as go-libp2p does without
// encryption), reads the other's, and then runs a real hashicorp/yamux
// session; a stream's request is echoed through the proxy. attach decodes
// from the first byte, so both directions break the framing, with the
// same protocol: one finding, a warning, that names multistream-select
// and says that a capture finds the yamux after it. Before, each end was
// a critical PROTOCOL finding ("the client sent unknown bytes, not smux …
// fix the client's address or protocol"), as attach in front of go-libp2p
// said of its two healthy ends.
func TestProxyMultistreamOneWarning(t *testing.T) {
	const hello = "\x13/multistream/1.0.0\n\x0d/yamux/1.0.0\n"
	up := startUpstream(t, "", func(c net.Conn) {
		if _, err := io.ReadFull(c, make([]byte, len(hello))); err != nil {
			return
		}
		if _, err := io.WriteString(c, hello); err != nil {
			return
		}
		srv, err := hyamux.Server(c, smuxtest.YamuxConfig())
		if err != nil {
			return
		}
		<-smuxtest.EchoYamux(srv)
	})
	reg := live.New(live.Config{})
	p := startProxy(t, ProxyConfig{Upstream: up.addr(), Registry: reg})
	c := dialProxy(t, p)
	if _, err := io.WriteString(c, hello); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, len(hello))); err != nil {
		t.Fatal(err)
	}
	cli, err := hyamux.Client(c, smuxtest.YamuxConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	st, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(st, "ping"); err != nil {
		t.Fatal(err)
	}
	if got := make([]byte, 4); func() error { _, err := io.ReadFull(st, got); return err }() != nil || string(got) != "ping" {
		t.Fatalf("the echo through the proxy: %q: the two ends do not work", got)
	}
	smuxtest.Eventually(t, "both directions to break the framing", func() bool {
		snap := reg.Snapshot()
		return len(snap.Sessions) == 1 && len(snap.Sessions[0].Framing) == 2
	})
	fs := protocolFindings(reg)
	if len(fs) != 1 || fs[live.ClientToServer] == nil {
		for _, f := range fs {
			t.Logf("%v %v: %s", f.Dir, f.Severity, f.Text)
		}
		t.Fatalf("%d PROTOCOL findings, want one, the client's", len(fs))
	}
	f := fs[live.ClientToServer]
	text := "the client sent libp2p's multistream-select, not smux (BAD_VERSION at offset 0), and the server sent it too: both ends negotiate with multistream-select"
	advice := "attach decodes a connection from its first byte and cannot pass a negotiation both ends send; capture the connection instead"
	if f.Severity != live.Warning || !strings.HasPrefix(f.Text, text) || !strings.Contains(f.Advice, advice) {
		t.Errorf("%v: %s — %s\nwant a warning: %s … — … %s", f.Severity, f.Text, f.Advice, text, advice)
	}
}
