package demo

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
)

// TestStart runs the whole demo in one process and stops it with Close.
func TestStart(t *testing.T) {
	versions(t, func(t *testing.T, version int) {
		smuxtest.NoGoroutinesLeft(t)
		d, err := Start(context.Background(), Config{Version: version, Pool: 3, Rate: 100})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		if !strings.HasPrefix(d.ServiceAddr(), "127.0.0.1:") {
			t.Errorf("ServiceAddr: got %q, want 127.0.0.1:PORT", d.ServiceAddr())
		}
		if u := d.GatewayURL(); !strings.HasPrefix(u, "http://127.0.0.1:") || !strings.HasSuffix(u, "/rand") {
			t.Errorf("GatewayURL: got %q, want http://127.0.0.1:PORT/rand", u)
		}
		if status, body := get(t, d.GatewayURL()); status != http.StatusOK {
			t.Errorf("GET %s: got %d %q, want 200", d.GatewayURL(), status, body)
		}
		smuxtest.Eventually(t, "20 answers to the load", func() bool { return d.LoadStats().OK >= 20 })

		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := d.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if err := d.Wait(); err != nil {
			t.Errorf("Wait: %v", err)
		}
		s := d.LoadStats()
		sumUp(t, s)
		if s.Errors != 0 {
			t.Errorf("load errors: got %d (last %q), want none", s.Errors, s.LastError)
		}
	})
}

// TestStartStopsWithContext checks that cancelling the context stops the
// demo and that Wait returns nil after it.
func TestStartStopsWithContext(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, err := Start(ctx, Config{Leak: true, Rate: 50})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	smuxtest.Eventually(t, "an answer to the load", func() bool { return d.LoadStats().OK >= 1 })
	cancel()
	done := make(chan error, 1)
	go func() { done <- d.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Wait: got %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return within 5s of the context being cancelled")
	}
}

// TestStartAddressInUse checks that a port in use is reported by Start,
// as one line wrapping the net error, and that nothing is left running.
func TestStartAddressInUse(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    func(busy string) Config
		prefix string
	}{
		{"service", func(busy string) Config { return Config{ServiceAddr: busy} }, "demo: start service: listen tcp "},
		{"gateway", func(busy string) Config { return Config{HTTPAddr: busy} }, "demo: start gateway: listen tcp "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			smuxtest.NoGoroutinesLeft(t)
			busy := listen(t)
			defer busy.Close()
			d, err := Start(context.Background(), tc.cfg(busy.Addr().String()))
			if err == nil {
				d.Close()
				t.Fatal("Start on a port in use: got no error")
			}
			if !errors.Is(err, syscall.EADDRINUSE) {
				t.Errorf("got %v, want it to wrap EADDRINUSE", err)
			}
			var op *net.OpError
			if !errors.As(err, &op) {
				t.Errorf("got %v, want it to wrap a *net.OpError", err)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, tc.prefix) || strings.Contains(msg, "\n") {
				t.Errorf("got %q, want one line starting %q", msg, tc.prefix)
			}
		})
	}
}

// TestStartServerAndClient runs the two halves apart, as `muxtop demo
// server` and `muxtop demo client` do, with both tapping hooks in place.
func TestStartServerAndClient(t *testing.T) {
	versions(t, func(t *testing.T, version int) {
		smuxtest.NoGoroutinesLeft(t)
		var accepted, dialled atomic.Int32
		server, err := StartServer(context.Background(), Config{
			Version: version,
			WrapListener: func(ln net.Listener) net.Listener {
				return countingListener{ln, &accepted}
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer server.Close()
		if server.GatewayURL() != "" {
			t.Errorf("server GatewayURL: got %q, want none", server.GatewayURL())
		}
		if s := server.LoadStats(); s != (LoadStats{}) {
			t.Errorf("server LoadStats: got %+v, want zero", s)
		}

		client, err := StartClient(context.Background(), Config{
			Version:     version,
			ServiceAddr: server.ServiceAddr(),
			Pool:        2,
			Rate:        -1, // no load: only our requests
			Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
				dialled.Add(1)
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		if client.ServiceAddr() != server.ServiceAddr() {
			t.Errorf("client ServiceAddr: got %q, want %q", client.ServiceAddr(), server.ServiceAddr())
		}
		for range 4 {
			if status, body := get(t, client.GatewayURL()); status != http.StatusOK {
				t.Fatalf("GET: got %d %q, want 200", status, body)
			}
		}
		if s := client.LoadStats(); s != (LoadStats{}) {
			t.Errorf("LoadStats without load: got %+v, want zero", s)
		}
		if got := dialled.Load(); got != 2 {
			t.Errorf("dialled: got %d, want 2 (the pool)", got)
		}
		smuxtest.Eventually(t, "2 accepted connections", func() bool { return accepted.Load() == 2 })
	})
}

type countingListener struct {
	net.Listener
	n *atomic.Int32
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// TestDemoFailsWithItsListener checks that a part's failure stops the
// whole demo and comes out of Wait.
func TestDemoFailsWithItsListener(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	var ln net.Listener
	d, err := Start(context.Background(), Config{
		Rate:         -1,
		WrapListener: func(l net.Listener) net.Listener { ln = l; return l },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	ln.Close() // the service's listener breaks under it
	done := make(chan error, 1)
	go func() { done <- d.Wait() }()
	select {
	case err := <-done:
		if err == nil || !strings.HasPrefix(err.Error(), "demo: service on ") {
			t.Errorf("Wait: got %v, want the service's failure", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return after the service failed")
	}
}

func TestStartErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start func(context.Context, Config) (*Demo, error)
		cfg   Config
		want  string
	}{
		{"bad version", Start, Config{Version: 3}, "demo: smux version 3 is not supported (use 1 or 2)"},
		{"bad pool", Start, Config{Pool: -2}, "demo: pool size -2 is negative (use 1 or more)"},
		{"client without service", StartClient, Config{}, "demo: no service address to connect to (give its host:port)"},
		{"bad address", StartServer, Config{ServiceAddr: "localhost"}, `demo: "localhost" is not an address: use host:port or :port, such as :9000`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			smuxtest.NoGoroutinesLeft(t)
			d, err := tc.start(context.Background(), tc.cfg)
			if err == nil {
				d.Close()
			}
			if err == nil || err.Error() != tc.want {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestHostPort(t *testing.T) {
	for _, tc := range []struct {
		in, def, want string
	}{
		{"", "127.0.0.1:0", "127.0.0.1:0"},
		{":9000", "", "127.0.0.1:9000"},
		{"9000", "", "127.0.0.1:9000"},
		{"0.0.0.0:9000", "", "0.0.0.0:9000"},
		{"localhost:80", "", "localhost:80"},
		{"[::1]:9000", "", "[::1]:9000"},
	} {
		if got, err := hostPort(tc.in, tc.def); err != nil || got != tc.want {
			t.Errorf("hostPort(%q, %q): got %q, %v; want %q", tc.in, tc.def, got, err, tc.want)
		}
	}
}

func TestDialable(t *testing.T) {
	for _, tc := range []struct {
		in   *net.TCPAddr
		want string
	}{
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80}, "127.0.0.1:80"},
		{&net.TCPAddr{IP: net.IPv4zero, Port: 80}, "127.0.0.1:80"},
		{&net.TCPAddr{IP: net.IPv6unspecified, Port: 80}, "[::1]:80"},
		{&net.TCPAddr{Port: 80}, "127.0.0.1:80"},
	} {
		if got := dialable(tc.in); got != tc.want {
			t.Errorf("dialable(%v): got %q, want %q", tc.in, got, tc.want)
		}
	}
}

// heldConn is a gateway's connection to the service whose reads wait,
// once hold is set, until release is closed: the service's answers to the
// requests then in flight arrive only after the demo has begun to stop.
type heldConn struct {
	net.Conn
	hold    *atomic.Bool
	release <-chan struct{}
}

func (c heldConn) Read(p []byte) (int, error) {
	if c.hold.Load() {
		select {
		case <-c.release:
		case <-time.After(5 * time.Second):
		}
	}
	return c.Conn.Read(p)
}

// TestShutdownDrainsThroughGateway stops the demo while requests are in
// flight whose answers the service sends only after the stop: they are
// answered, through a gateway that stays open until the load has
// drained, not cut by a gateway closed with the demo's context (which
// failed them with 502 and made the service's streams end under answers
// on their way: DATA_AFTER_CLOSE on a healthy demo).
func TestShutdownDrainsThroughGateway(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	var hold atomic.Bool
	release := make(chan struct{})
	var dialer net.Dialer
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return heldConn{Conn: c, hold: &hold, release: release}, nil
	}
	d, err := Start(context.Background(), Config{Pool: 1, Rate: 200, Dial: dial})
	if err != nil {
		t.Fatal(err)
	}
	smuxtest.Eventually(t, "answers to the load", func() bool { return d.LoadStats().OK >= 5 })
	hold.Store(true)
	smuxtest.Eventually(t, "requests in flight, their answers held", func() bool { return d.LoadStats().InFlight >= 1 })
	closed := make(chan error, 1)
	go func() { closed <- d.Close() }()
	smuxtest.Eventually(t, "the load to stop", func() bool { return d.load.ctx.Err() != nil })
	time.Sleep(50 * time.Millisecond) // the shutdown goes on meanwhile: a gateway closed now cuts the requests
	close(release)                    // the answers come after the stop, within drainGrace
	if err := <-closed; err != nil {
		t.Errorf("Close: %v", err)
	}
	if s := d.LoadStats(); s.InFlight != 0 || s.Canceled != 0 || s.Errors != 0 {
		t.Errorf("requests in flight at the stop, answered after it: %+v; want every one OK, none canceled or failed", s)
	}
}
