package tap

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// A real smux client through the proxy, its keepalive NOPs every 200 ms,
// the proxy's dial of its real smux server held 3 s (as SYN retries at a
// full backlog hold it): evaluated half a second after the dial went
// through, the server, which had sent nothing yet, is not silent (its
// first NOP is due 10 s into its session), though the client was
// accepted 3.5 s before. Before, its silence counted from the accept:
// "+KEEPALIVE" of the server at the 2 s limit.
func TestProxyServerSilenceFromDial(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	up := startUpstream(t, "", func(c net.Conn) {
		sess, err := smux.Server(c, smuxtest.Config(1)) // keepalive at smux's 10 s: no NOP for a while
		if err != nil {
			return
		}
		defer sess.Close()
		for {
			st, err := sess.AcceptStream()
			if err != nil {
				return
			}
			st.Close()
		}
	})
	reg := live.New(live.Config{})
	p := NewProxy(ProxyConfig{Listen: "127.0.0.1:0", Upstream: up.addr(), Registry: reg})
	var d net.Dialer
	dialed := make(chan time.Time, 1)
	p.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		select {
		case <-time.After(3 * time.Second):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		c, err := d.DialContext(ctx, network, addr)
		dialed <- time.Now()
		return c, err
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(); p.Wait() })
	c := dialProxy(t, p)
	cfg := smuxtest.Config(1)
	cfg.KeepAliveInterval = 200 * time.Millisecond
	sess, err := smux.Client(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	at := <-dialed
	// The proxy reads the client only once its upstream is there: the
	// NOPs queued meanwhile come at once, and the cadence shows in those
	// after them.
	smuxtest.Eventually(t, "the client's NOPs of half a second after the dial", func() bool {
		recs, _ := reg.Frames(live.Query{From: 0}, nil)
		for _, r := range recs {
			if r.Kind == live.FrameRecord && r.Dir == live.ClientToServer && r.At.Sub(at) >= 500*time.Millisecond {
				return true
			}
		}
		return false
	})
	reg.Evaluate(time.Now(), live.FindingsConfig{SilentAfter: 2 * time.Second, Churn: -1})
	recs, _ := reg.Frames(live.Query{From: 0}, nil)
	for _, r := range recs {
		if r.Kind == live.FindingOpened {
			t.Errorf("%s opened as the upstream was just connected: %s", r.Finding.Code, r.Finding.Text)
		}
	}
}
