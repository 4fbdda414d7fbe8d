package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/muxtop/muxtop/internal/hostport"
)

// Config configures a demo started by Start, StartServer or StartClient.
// The zero value runs everything on loopback, on ephemeral ports, with the
// defaults of each part.
type Config struct {
	// Protocol is what every session speaks: Smux (the zero value) or
	// Yamux. A fault with no meaning for it (see Fault.For) is refused.
	Protocol Protocol

	// Version is the smux protocol version of both sides, 1 or 2; 0 means 1.
	Version int

	// Pool is the gateway's number of smux sessions; 0 means DefaultPool.
	Pool int

	// Rate is the load generator's requests per second; 0 means
	// DefaultRate, and a negative rate runs no load generator, by
	// live.Config's rule for 0 and negative numbers (the gateway
	// still answers, to curl for one).
	Rate int

	// Requests, if above 0, stops the load generator after that many
	// requests: the traffic then has a known end, which a capture can be
	// compared with.
	Requests uint64

	// Leak makes the service leave every answered stream half-closed; see
	// ServiceConfig.Leak. It is the fault "leak".
	Leak bool

	// Fault names a fault to inject (see Faults): a server-side fault
	// needs the service (Start, StartServer), a client-side one the
	// gateway's side (Start, StartClient), where it runs an extra session
	// beside the pool, dialled with FaultDial; but "mismatch" is the
	// pool's first slot speaking the other smux version, or smux in a yamux
	// demo (GatewayConfig.Mismatched), with KeepAlive MismatchKeepAlive if 0
	// in an smux demo.
	Fault string

	// FaultDial, if set, dials the sessions of a client-side fault: where
	// muxtop taps them, under a label of their own; nil means Dial.
	FaultDial func(ctx context.Context, network, addr string) (net.Conn, error)

	// KeepAlive is smux's KeepAliveInterval on both sides, with a
	// KeepAliveTimeout three times as long; 0 means smux's defaults,
	// 10 s and 30 s.
	KeepAlive time.Duration

	// Timeout bounds every step of a request, in the gateway and in the
	// service (see DefaultTimeout); 0 means DefaultTimeout.
	Timeout time.Duration

	// ServiceAddr is, for Start and StartServer, where the service listens
	// (default "127.0.0.1:0"); for StartClient, the service to connect to
	// (required). A missing host means 127.0.0.1, so ":9000" and "9000"
	// stay on loopback; ask for "0.0.0.0:9000" to listen on every interface.
	ServiceAddr string

	// HTTPAddr is where the gateway listens for HTTP (default
	// "127.0.0.1:0"), read like ServiceAddr. Unused by StartServer.
	HTTPAddr string

	// WrapListener, if set, wraps the service's listener before the first
	// Accept: muxtop's tap on the server side.
	WrapListener func(net.Listener) net.Listener

	// Dial, if set, opens the connections of the gateway's sessions:
	// muxtop's tap on the client side. See GatewayConfig.Dial.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)

	// Logger receives the warnings and events of every part; nil discards
	// them. Nothing is ever written to stdout or stderr.
	Logger *slog.Logger
}

// Demo is a running demo: the service, the gateway with its load
// generator, or both.
type Demo struct {
	serviceAddr string
	gatewayURL  string
	load        *Load        // nil without a load generator
	fault       *faultRunner // nil without a client-side fault

	cancel context.CancelFunc
	done   chan struct{} // closed when every part has stopped

	// The parts, stopped in this order by shutdown; nil if not running.
	gateway    *Gateway
	http       *http.Server
	stopServer context.CancelFunc
	timeout    time.Duration
	stopOnce   sync.Once

	wg      sync.WaitGroup // the goroutines serving the service and HTTP
	errOnce sync.Once
	err     error // the first failure, which stopped the demo
}

// Start runs the whole demo in one process: the service, the gateway
// connected to it, and the load generator against the gateway.
//
// Listeners are bound before Start returns, so a port in use is reported
// here, as an error wrapping the *net.OpError. The demo runs until ctx is
// done, Close is called, or a part fails (see Wait).
func Start(ctx context.Context, cfg Config) (*Demo, error) {
	return start(ctx, cfg, true, true)
}

// StartServer runs the service alone, listening on cfg.ServiceAddr.
func StartServer(ctx context.Context, cfg Config) (*Demo, error) {
	return start(ctx, cfg, true, false)
}

// StartClient runs the gateway, connected to the service at
// cfg.ServiceAddr, and its load generator. The service need not be up yet:
// until it is, the gateway answers 502 and keeps redialling.
func StartClient(ctx context.Context, cfg Config) (*Demo, error) {
	return start(ctx, cfg, false, true)
}

// MismatchKeepAlive is the keepalive interval the fault "mismatch" gives
// both sides when Config.KeepAlive is 0. The service's first frame to a
// session it refuses is its keepalive NOP; it must come before the
// gateway's request times out (Timeout, 2 s) and replaces the session, or
// the server's version is never on the wire.
const MismatchKeepAlive = time.Second

func start(ctx context.Context, cfg Config, server, client bool) (*Demo, error) {
	if _, err := newMuxConfig(cfg.Protocol, cfg.Version, cfg.KeepAlive); err != nil {
		return nil, err
	}
	if cfg.Pool < 0 {
		return nil, fmt.Errorf("demo: pool size %d is negative (use 1 or more)", cfg.Pool)
	}
	if !server && cfg.ServiceAddr == "" {
		return nil, errors.New("demo: no service address to connect to (give its host:port)")
	}
	if err := checkFault(cfg, server, client); err != nil {
		return nil, err
	}
	mismatched := 0
	if cfg.Fault == "mismatch" {
		mismatched = 1
		if cfg.KeepAlive == 0 && cfg.Protocol == Smux { // yamux ends a mismatched session at once
			cfg.KeepAlive = MismatchKeepAlive
		}
	}
	svcAddr, err := hostPort(cfg.ServiceAddr, "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	httpAddr, err := hostPort(cfg.HTTPAddr, "127.0.0.1:0")
	if err != nil {
		return nil, err
	}

	// Bind first, so that a port in use fails Start with nothing started.
	var svcLn, httpLn net.Listener
	if server {
		if svcLn, err = net.Listen("tcp", svcAddr); err != nil {
			return nil, fmt.Errorf("demo: start service: %w", err)
		}
		if cfg.WrapListener != nil {
			svcLn = cfg.WrapListener(svcLn)
		}
	}
	if client {
		if httpLn, err = net.Listen("tcp", httpAddr); err != nil {
			if svcLn != nil {
				svcLn.Close()
			}
			return nil, fmt.Errorf("demo: start gateway: %w", err)
		}
	}

	log := orDiscard(cfg.Logger)
	timeout := orDefault(cfg.Timeout, DefaultTimeout)
	d := &Demo{done: make(chan struct{}), timeout: timeout, serviceAddr: svcAddr}
	ctx, d.cancel = context.WithCancel(ctx)

	upstream := svcAddr
	if server {
		d.serviceAddr = svcLn.Addr().String()
		upstream = dialable(svcLn.Addr())
		// The service has a context of its own, cancelled last, so that
		// on shutdown the gateway's sessions end first, as a client's would.
		svcCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
		d.stopServer = stop
		svc := ServiceConfig{Protocol: cfg.Protocol, Version: cfg.Version, Leak: cfg.Leak || cfg.Fault == "leak", Timeout: timeout,
			KeepAlive: cfg.KeepAlive, Logger: log}
		d.wg.Go(func() {
			if err := Serve(svcCtx, svcLn, svc); err != nil {
				d.fail(err)
			}
		})
	}

	if client {
		// Cannot fail: the config was checked above.
		// Not closed by ctx itself: shutdown closes it after the load
		// has drained its requests in flight (Load.Close), so that they
		// end as a client's would.
		d.gateway, _ = NewGateway(context.WithoutCancel(ctx), GatewayConfig{
			Upstream:   upstream,
			Pool:       cfg.Pool,
			Protocol:   cfg.Protocol,
			Version:    cfg.Version,
			Dial:       cfg.Dial,
			Timeout:    timeout,
			KeepAlive:  cfg.KeepAlive,
			Logger:     log,
			Mismatched: mismatched,
		})
		d.http = &http.Server{
			Handler:           d.gateway,
			ReadHeaderTimeout: 5 * time.Second,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
		d.wg.Go(func() {
			if err := d.http.Serve(httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				d.fail(fmt.Errorf("demo: gateway HTTP server stopped: %w", err))
			}
		})
		d.gatewayURL = "http://" + dialable(httpLn.Addr()) + "/rand"

		if cfg.Rate >= 0 {
			// Cannot fail: the rate is not negative and the URL is ours.
			d.load, _ = StartLoad(ctx, d.gatewayURL, LoadConfig{Rate: cfg.Rate, Requests: cfg.Requests, Timeout: 2 * timeout})
		}
		dial := cfg.FaultDial
		if dial == nil {
			dial = cfg.Dial
		}
		d.fault = startFault(ctx, faultConfig{name: cfg.Fault, upstream: upstream, proto: cfg.Protocol, version: cfg.Version,
			keepAlive: cfg.KeepAlive, dial: dial, timeout: timeout, log: log})
	}

	go func() { // owned by d.done, which Wait and Close wait for
		<-ctx.Done()
		d.shutdown()
	}()
	return d, nil
}

// shutdown stops the parts in order and waits for them; it runs once.
// The client half goes first, load then gateway, so that the gateway's
// sessions end as a client's would; closing the gateway before the HTTP
// server fails the requests in flight at once, leaving Shutdown nothing
// to wait for.
func (d *Demo) shutdown() {
	d.stopOnce.Do(func() {
		if d.load != nil {
			d.load.Close()
		}
		d.fault.Close()
		if d.gateway != nil {
			d.gateway.Close()
		}
		if d.http != nil {
			shutdownHTTP(d.http, d.timeout)
		}
		if d.stopServer != nil {
			d.stopServer()
		}
		d.wg.Wait()
		close(d.done)
	})
}

// fail records the first failure of a part and stops the demo.
func (d *Demo) fail(err error) {
	d.errOnce.Do(func() { d.err = err })
	d.cancel()
}

// checkFault checks that cfg's fault exists, means something in the
// demo's protocol, and lives on a side the demo runs, with the version
// it needs.
func checkFault(cfg Config, server, client bool) error {
	if cfg.Fault == "" {
		return nil
	}
	f, ok := LookupFault(cfg.Fault)
	if !ok {
		return fmt.Errorf("demo: no fault %q (there are %s)", cfg.Fault, FaultNames())
	}
	if _, _, whyNot := f.For(cfg.Protocol); whyNot != "" {
		return fmt.Errorf("demo: fault %s has no meaning over %s: %s", f.Name, cfg.Protocol, whyNot)
	}
	switch {
	case f.Side == "server" && !server:
		return fmt.Errorf("demo: fault %s lives in the service: inject it with the server", f.Name)
	case f.Side == "client" && !client:
		return fmt.Errorf("demo: fault %s lives on the client's side: inject it with the client", f.Name)
	case f.Version != 0 && cfg.Protocol == Smux && f.Version != max(cfg.Version, 1):
		return fmt.Errorf("demo: fault %s needs smux version %d", f.Name, f.Version)
	}
	return nil
}

// shutdownHTTP stops srv, giving handlers in flight until timeout to end.
func shutdownHTTP(srv *http.Server, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if srv.Shutdown(ctx) != nil {
		srv.Close()
	}
}

// ServiceAddr returns the service's address: where it listens (Start,
// StartServer) or where the gateway connects (StartClient).
func (d *Demo) ServiceAddr() string { return d.serviceAddr }

// GatewayURL returns the URL of the gateway's random numbers, such as
// "http://127.0.0.1:41234/rand", for curl; "" for StartServer.
func (d *Demo) GatewayURL() string { return d.gatewayURL }

// LoadStats returns the load generator's counters; the zero LoadStats if
// there is none.
func (d *Demo) LoadStats() LoadStats {
	if d.load == nil {
		return LoadStats{}
	}
	return d.load.Stats()
}

// Wait returns once every part has stopped and every listener and session
// is closed: after ctx is done, Close, or a part's failure. It returns that
// failure (the service's listener or the HTTP server broke), or nil.
func (d *Demo) Wait() error {
	<-d.done
	return d.err
}

// Close stops the demo and waits for it, returning what Wait returns. It is
// safe to call more than once and from many goroutines. It means what
// tap.Proxy's Close means.
func (d *Demo) Close() error {
	d.cancel()
	return d.Wait()
}

// hostPort fills in an address given loosely on a command line: "" is
// def, and otherwise hostport.Loopback's rule holds: a missing host is
// 127.0.0.1, so that "9000" and ":9000" stay on loopback instead of
// listening on every interface.
func hostPort(addr, def string) (string, error) {
	if addr == "" {
		return def, nil
	}
	a, err := hostport.Loopback(addr)
	if err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	return a, nil
}

// dialable returns an address to reach a listener at a, choosing loopback
// when it listens on every interface.
func dialable(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	if tcp.IP == nil || tcp.IP.IsUnspecified() {
		ip := net.IPv4(127, 0, 0, 1)
		if tcp.IP != nil && tcp.IP.To4() == nil {
			ip = net.IPv6loopback
		}
		return (&net.TCPAddr{IP: ip, Port: tcp.Port}).String()
	}
	return tcp.String()
}
