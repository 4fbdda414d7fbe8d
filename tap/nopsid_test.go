package tap

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// TestNOPOnStreamIsNoKeepalive: smux's keepalive sends its NOPs on stream
// 0; a NOP on another id (which a real smux server ignores, as it does
// any NOP) is no tick of the client's keepalive. A client that opened a
// stream, sent one NOP on stream 7 100 ms into its session and then
// nothing was a critical KEEPALIVE a second later (*keepalive NOPs come
// every 101 ms: it is frozen or gone*); the same NOP on stream 0 is the
// tick it was taken for, and its silence a KEEPALIVE.
func TestNOPOnStreamIsNoKeepalive(t *testing.T) {
	for _, tc := range []struct {
		sid       uint32
		keepalive bool
	}{{7, false}, {0, true}} {
		up := startUpstream(t, "", func(c net.Conn) {
			srv, err := smux.Server(c, smux.DefaultConfig())
			if err != nil {
				return
			}
			defer srv.Close()
			st, err := srv.AcceptStream()
			if err != nil {
				return
			}
			io.Copy(io.Discard, st)
		})
		reg := live.New(live.Config{})
		p := startProxy(t, ProxyConfig{Upstream: up.addr(), Registry: reg})
		c := dialProxy(t, p)
		syn := decoder.MakeHeader(1, decoder.SYN, 0, 3)
		psh := decoder.MakeHeader(1, decoder.PSH, 3, 3)
		if _, err := c.Write(append(append(syn[:], psh[:]...), "one"...)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		nop := decoder.MakeHeader(1, decoder.NOP, 0, tc.sid)
		if _, err := c.Write(nop[:]); err != nil {
			t.Fatal(err)
		}
		smuxtest.Eventually(t, "the NOP", func() bool {
			snap := reg.Snapshot()
			return len(snap.Sessions) == 1 && snap.Sessions[0].Counts.Frames[live.ClientToServer][decoder.NOP] == 1
		})
		reg.Evaluate(time.Now().Add(2*time.Second), live.FindingsConfig{Churn: -1})
		var got *live.Finding
		for _, f := range reg.Snapshot().Findings {
			if f.Code == live.CodeKeepalive {
				got = f
			}
		}
		if (got != nil) != tc.keepalive {
			text := "none"
			if got != nil {
				text = got.Severity.String() + ": " + got.Text
			}
			t.Errorf("a NOP on stream %d, then 2 s of silence: KEEPALIVE %s; want one: %v", tc.sid, text, tc.keepalive)
		}
	}
}
