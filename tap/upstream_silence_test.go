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
	up := startUpstream(t, "", acceptAndClose) // keepalive at smux's 10 s: no NOP for a while
	reg, p, dialed := heldDialProxy(t, up, 3*time.Second)
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

// heldDialProxy starts a proxy to up, into a registry of its own, whose
// dials of up are held for hold first (as SYN retries at a full backlog
// hold them); dialed tells when each went through.
func heldDialProxy(t *testing.T, up *upstream, hold time.Duration) (*live.Registry, *Proxy, <-chan time.Time) {
	t.Helper()
	reg := live.New(live.Config{})
	p := NewProxy(ProxyConfig{Listen: "127.0.0.1:0", Upstream: up.addr(), Registry: reg})
	var d net.Dialer
	dialed := make(chan time.Time, 1)
	p.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		select {
		case <-time.After(hold):
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
	return reg, p, dialed
}

// A real smux client, its keepalive every 3 s from its connect, through a
// proxy whose dial of a real smux server is held 2.5 s: its first NOP is
// sent 3 s after its connect and read 0.5 s after the dial, its second 3 s
// later. Evaluated 2 s after the first, the client is healthy. A first cut
// of Session.audibleFrom took its first interval from the dial (0.5 s),
// and KEEPALIVE called it frozen: "the client has sent nothing, not even
// a keepalive NOP, for 2.0 s; keepalive NOPs come every 500 ms" (the
// code before that did the same: found by a review).
func TestProxyClientFirstNOPFromConnect(t *testing.T) {
	up := startUpstream(t, "", acceptAndClose)
	reg, p, dialed := heldDialProxy(t, up, 2500*time.Millisecond)
	c := dialProxy(t, p)
	cfg := smuxtest.Config(1)
	cfg.KeepAliveInterval = 3 * time.Second
	sess, err := smux.Client(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	<-dialed
	var first time.Time
	smuxtest.Eventually(t, "the client's first NOP", func() bool {
		recs, _ := reg.Frames(live.Query{From: 0}, nil)
		for _, r := range recs {
			if r.Kind == live.FrameRecord && r.Dir == live.ClientToServer {
				first = r.At
				return true
			}
		}
		return false
	})
	reg.Evaluate(first.Add(2*time.Second), live.FindingsConfig{Churn: -1})
	recs, _ := reg.Frames(live.Query{From: 0}, nil)
	for _, r := range recs {
		if r.Kind == live.FindingOpened {
			t.Errorf("%s opened of a client whose NOPs come every 3 s, 2 s after its first: %s", r.Finding.Code, r.Finding.Text)
		}
	}
}

// A client that connects and sends nothing, through a proxy whose dial of
// a real smux server (NOPs every second) is held 2.5 s: what the client
// sent before the dial would wait in the socket and be read as the dial
// goes through, so 1.9 s after the dial it has sent nothing for 4.4 s,
// past SilentAfter (2 s), and KEEPALIVE says so. A first cut of
// Session.audibleFrom counted its silence from the dial: no KEEPALIVE.
func TestProxyUnheardClientSilentFromConnect(t *testing.T) {
	up := startUpstream(t, "", func(c net.Conn) {
		cfg := smuxtest.Config(1)
		cfg.KeepAliveInterval = time.Second
		sess, err := smux.Server(c, cfg)
		if err != nil {
			return
		}
		defer sess.Close()
		sess.AcceptStream()
	})
	reg, p, dialed := heldDialProxy(t, up, 2500*time.Millisecond)
	connected := time.Now()
	c := dialProxy(t, p)
	defer c.Close()
	at := <-dialed
	smuxtest.Eventually(t, "the server's first NOP", func() bool {
		recs, _ := reg.Frames(live.Query{From: 0}, nil)
		for _, r := range recs {
			if r.Kind == live.FrameRecord && r.Dir == live.ServerToClient {
				return true
			}
		}
		return false
	})
	now := at.Add(1900 * time.Millisecond)
	reg.Evaluate(now, live.FindingsConfig{SilentAfter: 2 * time.Second, Churn: -1})
	recs, _ := reg.Frames(live.Query{From: 0}, nil)
	var ka *live.Finding
	for _, r := range recs {
		if r.Kind == live.FindingOpened && r.Finding.Code == live.CodeKeepalive && r.Finding.Dir == live.ClientToServer {
			ka = r.Finding
		}
	}
	if ka == nil {
		t.Fatalf("no KEEPALIVE of a client that has sent nothing for %s since its connect (SilentAfter 2 s)", now.Sub(connected).Round(100*time.Millisecond))
	}
	if !strings.Contains(ka.Text, "has sent nothing") {
		t.Errorf("KEEPALIVE of the unheard client: %s", ka.Text)
	}
}

// acceptAndClose serves c as an smux v1 server at smux's defaults (its
// first keepalive NOP 10 s in) that closes every stream it accepts.
func acceptAndClose(c net.Conn) {
	sess, err := smux.Server(c, smuxtest.Config(1))
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
}
