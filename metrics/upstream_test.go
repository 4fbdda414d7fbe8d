package metrics_test

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/metrics"
	"github.com/muxtop/muxtop/tap"
)

// refusedAddr returns a loopback address nothing listens on: a port just
// bound and closed.
func refusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// startProxy starts a tapping proxy to upstream recording into a new
// registry, closed at the test's end.
func startProxy(t *testing.T, upstream string) (*tap.Proxy, *live.Registry) {
	t.Helper()
	reg := live.New(live.Config{})
	p := tap.NewProxy(tap.ProxyConfig{Listen: "127.0.0.1:0", Upstream: upstream, Registry: reg, DialTimeout: 2 * time.Second})
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, reg
}

// TestUpstreamSeries: behind a proxy whose upstream refuses, every
// client's dial counts in muxtop_upstream_dials_total and, as refused, in
// muxtop_upstream_dial_failures_total, labelled with the upstream's
// address; a healthy upstream (a real smux server) counts its dials and
// no failure; a Collector without Options.Upstream has no such series.
func TestUpstreamSeries(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	t.Run("refused", func(t *testing.T) {
		up := refusedAddr(t)
		p, reg := startProxy(t, up)
		const clients = 4
		for range clients {
			c, err := net.Dial("tcp", p.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			cli, err := smux.Client(c, smuxtest.Config(2))
			if err != nil {
				t.Fatal(err)
			}
			cli.OpenStream() // the proxy closes the client: this may fail
			cli.Close()
		}
		smuxtest.Eventually(t, "every dial counted", func() bool { return p.Upstream().Dials == clients })
		got := scrape(t, metrics.NewCollector(reg, metrics.Options{Upstream: p.Upstream}))
		want := map[string]float64{
			"muxtop_upstream_dials_total{upstream=" + up + "}":                        clients,
			"muxtop_upstream_dial_failures_total{reason=refused,upstream=" + up + "}": clients,
			"muxtop_upstream_dial_failures_total{reason=timeout,upstream=" + up + "}": 0,
			"muxtop_upstream_dial_failures_total{reason=other,upstream=" + up + "}":   0,
		}
		for k, v := range want {
			if g, ok := got[k]; !ok || g != v {
				t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
			}
		}
	})
	t.Run("healthy", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { defer close(done); smuxtest.ServeEcho(ln, smuxtest.Config(2)) }()
		t.Cleanup(func() { ln.Close(); <-done })
		up := ln.Addr().String()
		p, reg := startProxy(t, up)
		const clients = 3
		for range clients {
			c, err := net.Dial("tcp", p.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			cli, err := smux.Client(c, smuxtest.Config(2))
			if err != nil {
				t.Fatal(err)
			}
			st, err := cli.OpenStream()
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 4)
			if _, err := st.Write([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(st, buf); err != nil || string(buf) != "ping" {
				t.Fatalf("echo %q, %v", buf, err)
			}
			st.Close()
			cli.Close()
		}
		smuxtest.Eventually(t, "every dial counted", func() bool { return p.Upstream().Dials == clients })
		got := scrape(t, metrics.NewCollector(reg, metrics.Options{Upstream: p.Upstream}))
		if g := got["muxtop_upstream_dials_total{upstream="+up+"}"]; g != clients {
			t.Errorf("dials %v, want %d", g, clients)
		}
		for _, r := range []string{"refused", "timeout", "other"} {
			k := "muxtop_upstream_dial_failures_total{reason=" + r + ",upstream=" + up + "}"
			if g, ok := got[k]; !ok || g != 0 {
				t.Errorf("%s = %v (present %v), want 0", k, g, ok)
			}
		}
	})
	t.Run("no upstream", func(t *testing.T) {
		for _, o := range []metrics.Options{{}, {Upstream: func() live.Upstream { return live.Upstream{} }}} {
			for k := range scrape(t, metrics.NewCollector(live.New(live.Config{}), o)) {
				if len(k) >= len("muxtop_upstream") && k[:len("muxtop_upstream")] == "muxtop_upstream" {
					t.Errorf("series %s without an upstream", k)
				}
			}
		}
	})
}
