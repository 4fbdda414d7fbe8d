package tap

import (
	"io"
	"net"
	"testing"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// consulPort serves a Consul server's RPC port as far as its first byte
// goes: 0x04, yamux after it (serveYamux); anything else, an echo of what
// follows, as raft's msgpack answer stands for.
func consulPort(raw chan<- *smuxtest.RecordingConn) func(net.Conn) {
	yamux := serveYamux(0, raw)
	return func(c net.Conn) {
		first := make([]byte, 1)
		if _, err := io.ReadFull(c, first); err != nil {
			return
		}
		if first[0] == 0x04 {
			yamux(c)
			return
		}
		io.Copy(c, c)
	}
}

// TestProxyPrefixOtherProtocols: attach --prefix 04 in front of a Consul
// server's RPC port, which carries yamux behind 0x04 and raft behind
// 0x01. Before, the README's --protocol yamux --skip 1 made each raft
// connection two critical PROTOCOL findings ("fix the client's address").
// With --prefix 04 the yamux connection is decoded and the raft one
// forwarded untouched, not decoded, with a notice naming its first byte.
func TestProxyPrefixOtherProtocols(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    ProxyConfig
		others int // PROTOCOL findings of the raft connection
	}{
		// The raft stand-in echoes its client: past --skip 1 both ends
		// open with the same bytes, one protocol of both, one warning.
		{"skip", ProxyConfig{Protocol: Yamux, Skip: 1}, 1},
		{"prefix", ProxyConfig{Prefix: []byte{0x04}}, 0},
		{"prefix yamux", ProxyConfig{Protocol: Yamux, Prefix: []byte{0x04}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := make(chan *smuxtest.RecordingConn, 1)
			up := startUpstream(t, "", consulPort(raw))
			reg := live.New(live.Config{})
			cfg := tc.cfg
			cfg.Upstream, cfg.Registry = up.addr(), reg
			p := startProxy(t, cfg)

			c := dialProxy(t, p)
			if _, err := c.Write([]byte{0x04}); err != nil {
				t.Fatal(err)
			}
			yamuxClientWork(t, c, 2, 0, 0)

			raft := dialProxy(t, p)
			msg := append([]byte{0x01, 0x00, 0x85, 0xa4}, "Term\x01\xa6Leader\xc4\x04node"...)
			if _, err := raft.Write(msg); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, len(msg)-1)
			if _, err := io.ReadFull(raft, got); err != nil || string(got) != string(msg[1:]) {
				t.Fatalf("raft through the proxy: %q, %v", got, err)
			}
			smuxtest.Eventually(t, "both sessions", func() bool { return len(reg.Snapshot().Sessions) == 2 })
			if tc.others > 0 {
				smuxtest.Eventually(t, "the raft connection to break yamux's framing both ways", func() bool {
					return len(reg.Snapshot().Sessions[1].Framing) == 2
				})
			}
			reg.Evaluate(reg.Now(), live.FindingsConfig{Churn: -1})
			snap := reg.Snapshot()
			n := 0
			for _, f := range snap.Findings {
				if f.Code == live.CodeProtocol {
					n++
				}
			}
			if n != tc.others {
				t.Errorf("%d PROTOCOL findings, want %d", n, tc.others)
			}
			if y := snap.Sessions[0]; y.Proto != live.Yamux || len(y.Framing) != 0 || snap.StreamsTotal != 2 {
				t.Errorf("the yamux session: %v, framing %v, %d streams", y.Proto, y.Framing, snap.StreamsTotal)
			}
			if tc.cfg.Prefix == nil {
				return
			}
			want := "attach: " + raft.LocalAddr().String() + " → " + up.addr() + " is another protocol: its client began with 01, not --prefix 04; forwarded, not decoded (session 2)"
			if len(snap.Notices) != 1 || snap.Notices[0].Text != want {
				t.Errorf("notices %v, want %q", snap.Notices, want)
			}
			if r := snap.Sessions[1]; r.Proto != live.ProtocolUnknown || len(r.Framing) != 0 {
				t.Errorf("the raft session: %v, framing %v: decoded", r.Proto, r.Framing)
			}
			// Not decoded, but counted: every byte that passed is a wire
			// byte of the session, none a frame's.
			smuxtest.Eventually(t, "the raft session's bytes counted", func() bool {
				r := reg.Snapshot().Sessions[1]
				return r.WireBytes(live.ClientToServer) == uint64(len(msg)) && r.WireBytes(live.ServerToClient) == uint64(len(msg)-1)
			})
		})
	}
}
