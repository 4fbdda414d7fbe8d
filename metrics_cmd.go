package main

import (
	"fmt"
	"net"

	"github.com/spf13/pflag"

	"github.com/muxtop/muxtop/internal/hostport"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/metrics"
)

// metricsFlags are the flags of the Prometheus endpoint, which every
// capturing command takes.
type metricsFlags struct {
	addr     string
	sessions int
}

func (f *metricsFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.addr, "metrics", "", "serve Prometheus metrics at http://ADDR/metrics (a bare :PORT stays on 127.0.0.1)")
	fs.IntVar(&f.sessions, "metrics-sessions", 0,
		fmt.Sprintf("add per-session series for this many live sessions, the oldest first (0-%d)", metrics.MaxSessions))
}

func (f *metricsFlags) validate() error {
	if f.sessions < 0 || f.sessions > metrics.MaxSessions {
		return usageError{fmt.Errorf("--metrics-sessions %d: use 0 to %d", f.sessions, metrics.MaxSessions)}
	}
	if f.sessions > 0 && f.addr == "" {
		return usageError{fmt.Errorf("--metrics-sessions needs --metrics ADDR")}
	}
	if f.addr == "" {
		return nil
	}
	addr, err := hostport.Loopback(f.addr)
	if err != nil {
		return usageError{fmt.Errorf("--metrics %w", err)}
	}
	f.addr = addr
	return nil
}

// sameListener says whether listening on a and on b, host:port both,
// would take the same port: the same port, not 0, with the same host or
// either host unspecified (0.0.0.0, [::]), which takes it on every one.
// Before, attach with --metrics on its own --listen address failed with a
// bare "address already in use".
func sameListener(a, b string) bool {
	ha, pa, err := net.SplitHostPort(a)
	if err != nil {
		return false
	}
	hb, pb, err := net.SplitHostPort(b)
	if err != nil || pa != pb || pa == "0" {
		return false
	}
	unspecified := func(h string) bool { ip := net.ParseIP(h); return ip != nil && ip.IsUnspecified() }
	return ha == hb || unspecified(ha) || unspecified(hb)
}

// serve starts the metrics endpoint of reg when --metrics asks for one,
// and returns its stop, which waits for the server to end, with the line
// that says where it is and the warning when it listens on every
// interface. Any command that captures calls it once (watch does); a port
// in use is the error, one line.
func (f *metricsFlags) serve(cmd string, reg *live.Registry, o metrics.Options) (stop func(), where, warn string, err error) {
	if f.addr == "" {
		return func() {}, "", "", nil
	}
	o.Sessions = f.sessions
	g, err := metrics.Gatherer(reg, o)
	if err != nil {
		return nil, "", "", err
	}
	srv, err := metrics.Serve(f.addr, metrics.Handler(g))
	if err != nil {
		return nil, "", "", startErr(err, "--metrics")
	}
	where = "metrics at " + srv.URL()
	warn = everyInterface(cmd, listener{"--metrics", f.addr, srv.Addr().String()})
	return func() { srv.Close() }, where, warn, nil
}
