package tap

import (
	"context"
	"net"
	"strings"
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
	// Silent 2 s after its dial went through, the server is KEEPALIVE's,
	// on the client's own cadence: not the time from the accept to the
	// first NOP the proxy read (before: "the client's NOPs come every
	// 3.0 s").
	time.Sleep(time.Until(at.Add(2500 * time.Millisecond)))
	reg.Evaluate(time.Now(), live.FindingsConfig{SilentAfter: 2 * time.Second, Churn: -1})
	recs, _ = reg.Frames(live.Query{From: 0}, nil)
	var text string
	for _, r := range recs {
		if r.Kind == live.FindingOpened && r.Finding.Code == live.CodeKeepalive && r.Finding.Dir == live.ServerToClient {
			text = r.Finding.Text
		}
	}
	if text == "" {
		t.Fatal("no KEEPALIVE of the server silent 2.5 s after its dial went through")
	}
	if !strings.Contains(text, "the client's NOPs come every ") || strings.Contains(text, "every 3.") {
		t.Errorf("KEEPALIVE %q: want the client's NOPs every 200 ms or so", text)
	}
}
