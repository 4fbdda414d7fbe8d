package tap

import (
	"io"
	"net"
	"testing"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// TestProxyPrefixServerSpeaksFirst: attach --prefix 04 in front of a
// port whose other protocol's server speaks first (a banner, before its
// client has sent anything). The connection's client then begins with
// other bytes than the prefix: it is another protocol, forwarded, not
// decoded, as the notice says; the server's banner, which came before the
// client's first byte told so, must not be decoded as a mux either (a
// PROTOCOL finding of a connection muxtop says it does not decode).
func TestProxyPrefixServerSpeaksFirst(t *testing.T) {
	banner := []byte("SSH-2.0-OpenSSH_9.6\r\n")
	up := startUpstream(t, "", func(c net.Conn) {
		if _, err := c.Write(banner); err != nil {
			return
		}
		io.Copy(c, c)
	})
	reg := live.New(live.Config{})
	p := startProxy(t, ProxyConfig{Upstream: up.addr(), Registry: reg, Prefix: []byte{0x04}})
	c := dialProxy(t, p)
	got := make([]byte, len(banner))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	msg := []byte("SSH-2.0-Go\r\n")
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, len(msg))); err != nil {
		t.Fatal(err)
	}
	smuxtest.Eventually(t, "the notice", func() bool { return len(reg.Snapshot().Notices) == 1 })
	reg.Evaluate(reg.Now(), live.FindingsConfig{Churn: -1})
	snap := reg.Snapshot()
	if s := snap.Sessions[0]; len(s.Framing) != 0 || len(snap.Findings) != 0 {
		t.Errorf("the other protocol's session: %v, framing %v, %d findings (%v): decoded", s.Proto, s.Framing, len(snap.Findings), snap.Findings)
	}
	want := "attach: " + c.LocalAddr().String() + " → " + up.addr() + " is another protocol: its server spoke first (53 53 48 2d 32 2e 30 2d), before its client sent --prefix 04; forwarded, not decoded (session 1)"
	if len(snap.Notices) != 1 || snap.Notices[0].Text != want {
		t.Errorf("notices %v, want %q", snap.Notices, want)
	}
}
