package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/muxtop/muxtop/demo"
	"github.com/muxtop/muxtop/internal/hostport"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// demoFlags are the demo's own flags.
type demoFlags struct {
	watch    watchFlags
	protocol string
	version  int
	pool     int
	rate     int
	requests uint64
	leak     bool
	fault    string
	keep     time.Duration
	service  string
	http     string
	// serviceFlag names the flag that sets service: --listen or --connect.
	serviceFlag string
	write       writeFlags
}

// muxName names what the demo's sessions speak, for its header: "smux
// v1", "yamux".
func (f *demoFlags) muxName() string {
	if f.protocol == "yamux" {
		return "yamux"
	}
	return fmt.Sprintf("smux v%d", f.version)
}

func (f *demoFlags) config(reg *live.Registry) (demo.Config, error) {
	proto, err := demo.ParseProtocol(f.protocol)
	if err != nil {
		return demo.Config{}, usageError{fmt.Errorf("--protocol %q: use smux or yamux", f.protocol)}
	}
	if f.version != 1 && f.version != 2 {
		return demo.Config{}, usageError{fmt.Errorf("--smux-version %d: use 1 or 2", f.version)}
	}
	if f.pool < 1 {
		return demo.Config{}, usageError{fmt.Errorf("--pool %d: use 1 or more", f.pool)}
	}
	if f.rate < 0 {
		return demo.Config{}, usageError{fmt.Errorf("--rate %d: use 0 (no load) or more", f.rate)}
	}
	for _, a := range []struct {
		flag string
		addr *string
	}{{f.serviceFlag, &f.service}, {"--http", &f.http}} {
		if *a.addr == "" {
			continue
		}
		addr, err := hostport.Loopback(*a.addr)
		if err != nil {
			return demo.Config{}, usageError{fmt.Errorf("%s %w", a.flag, err)}
		}
		*a.addr = addr
	}
	if f.keep < 0 {
		return demo.Config{}, usageError{fmt.Errorf("--keepalive %v: use 0 (smux's 10 s) or a positive duration", f.keep)}
	}
	return demo.Config{
		// --rate counts exactly: 0 runs no load (see live.Config's rule).
		Protocol: proto, Version: f.version, Pool: f.pool, Rate: live.Exactly(f.rate), Requests: f.requests, Leak: f.leak, Fault: f.fault, KeepAlive: f.keep,
		ServiceAddr: f.service, HTTPAddr: f.http,
		Logger: slog.New(live.NoticeHandler(reg)),
	}, nil
}

// loadStatus returns the load generator's figures, for every front end.
func loadStatus(d *demo.Demo) func() live.Status {
	return func() live.Status { return demoStatus(d.LoadStats()) }
}

// demoStatus is the status of the demo whose load generator's figures are s.
func demoStatus(s demo.LoadStats) live.Status {
	st := live.Status{
		{Key: "rate", Label: "load", Value: s.Rate, Unit: "/s"},
		{Key: "ok", Label: "ok", Value: s.OK},
		{Key: "errors", Label: "err", Value: s.Errors},
		{Key: "skipped", Label: "skipped", Value: s.Skipped},
		{Key: "p50_seconds", Label: "p50", Value: s.P50},
		{Key: "p99_seconds", Label: "p99", Value: s.P99},
	}
	if s.LastError != "" {
		st = append(st, live.StatusField{Key: "last_error", Label: "last error:", Value: s.LastError})
	}
	return st
}

// demoMode is one way to run the demo: which parts, tapped where.
type demoMode struct {
	start func(context.Context, demo.Config) (*demo.Demo, error)
	// tap makes cfg record the demo's sessions into reg, tapped with opts.
	tap func(reg *live.Registry, cfg *demo.Config, opts []tap.Option)
	// portFlags names the flags that choose the ports, for a port in use.
	portFlags string
	// describe returns the UI header and the stderr line of a running demo.
	describe func(d *demo.Demo, version int) (title, where string)
	// listens returns the addresses the demo listens on, each with its flag.
	listens func(d *demo.Demo) []listener
	load    bool   // the mode runs the load generator
	side    string // the side of the faults it can inject: "server", "client", or "" for both
}

// run starts the demo in mode m and watches it until the user or the
// duration ends it.
func (f *demoFlags) run(cmd *cobra.Command, m demoMode) (err error) {
	if f.fault == "list" {
		writeFaults(cmd.OutOrStdout())
		return nil
	}
	if err := f.checkFault(cmd, m.side); err != nil {
		return err
	}
	if err := f.watch.validate(cmd.OutOrStdout()); err != nil {
		return err
	}
	if f.protocol == "yamux" && f.fault != "mismatch" && cmd.Flags().Changed("smux-version") {
		// Over yamux, only the mismatch fault's smux slot has a version.
		return usageError{fmt.Errorf("--smux-version %d is smux's: over --protocol yamux only --fault mismatch uses it; drop it, or use --protocol smux", f.version)}
	}
	reg := f.watch.registry()
	cfg, err := f.config(reg)
	if err != nil {
		return err
	}
	opts, _, err := f.write.open(cmd.Context(), reg, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.write.close(cmd.Context(), cmd.ErrOrStderr()); err == nil {
			err = cerr
		}
	}()
	m.tap(reg, &cfg, append(opts, f.tapOptions()...))
	if cfg.Fault != "" && cfg.Dial != nil {
		// The --write file records the fault's sessions too: they are
		// what the fault is about (they were left out).
		cfg.FaultDial = tap.Dialer(reg, demo.FaultLabel, slices.Concat(opts, f.tapOptions())...)
	}
	d, err := m.start(cmd.Context(), cfg)
	if err != nil {
		return startErr(err, m.portFlags)
	}
	s := session{reg: reg, sys: d}
	s.title, s.where = m.describe(d, f.version)
	s.warn = everyInterface(strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" "), m.listens(d)...)
	if m.load {
		s.status = loadStatus(d)
	}
	return f.watch.watch(cmd.Context(), cmd, s)
}

// serviceListener is the service's listen address, set by --listen.
func (f *demoFlags) serviceListener(d *demo.Demo) listener {
	return listener{"--listen", f.service, d.ServiceAddr()}
}

// gatewayListener is the gateway's HTTP address, set by --http. Its URL
// names loopback when the gateway listens on every interface, but it has
// the port.
func (f *demoFlags) gatewayListener(d *demo.Demo) listener {
	bound := strings.TrimPrefix(d.GatewayURL(), "http://")
	bound, _, _ = strings.Cut(bound, "/")
	return listener{"--http", f.http, bound}
}

// tapClient taps the gateway's sessions at the conns it dials.
func tapClient(label string) func(*live.Registry, *demo.Config, []tap.Option) {
	return func(reg *live.Registry, cfg *demo.Config, opts []tap.Option) {
		cfg.Dial = tap.Dialer(reg, label, opts...)
	}
}

// tapOptions are the demo's tap options: a yamux demo's taps decode yamux
// whatever a connection's first byte, as attach --protocol yamux does, so
// that what reaches its yamux port (smux, HTTP) is named as not yamux.
func (f *demoFlags) tapOptions() []tap.Option {
	if f.protocol == "yamux" {
		return []tap.Option{tap.WithProtocol(tap.Yamux)}
	}
	return nil
}

func newDemoCmd() *cobra.Command {
	f := demoFlags{serviceFlag: "--listen"}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a random-number service, an HTTP gateway and load in one process, and watch their smux or yamux sessions",
		Long: "demo runs the classic smux example in one process: a random-number service (RAND → 8-byte\n" +
			"big-endian uint64), an HTTP gateway whose GET /rand reaches it over a pool of smux sessions, and\n" +
			"a load generator. muxtop taps the sessions between gateway and service and shows them.\n" +
			"The header (or stderr, for plain and json output) says the gateway URL, so curl works beside it.",
		Example: "  muxtop demo\n  muxtop demo --rate 1000 --pool 4 --smux-version 2\n  muxtop demo --protocol yamux\n  muxtop demo --fault hol\n  muxtop demo --protocol yamux --fault goaway\n  muxtop demo --fault list",

		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.run(cmd, demoMode{
				start: demo.Start, tap: tapClient("demo"), portFlags: "--listen or --http", load: true,
				listens: func(d *demo.Demo) []listener { return []listener{f.serviceListener(d), f.gatewayListener(d)} },
				describe: func(d *demo.Demo, v int) (string, string) {
					return fmt.Sprintf("demo · gateway %s · service %s · %s", d.GatewayURL(), d.ServiceAddr(), f.muxName()),
						fmt.Sprintf("demo gateway at %s (curl it), service at %s", d.GatewayURL(), d.ServiceAddr())
				},
			})
		},
	}
	f.watch.register(cmd)
	f.write.register(cmd)
	fs := cmd.Flags()
	fs.StringVar(&f.protocol, "protocol", "smux", "what the sessions speak: smux or yamux (hashicorp/yamux)")
	fs.IntVar(&f.version, "smux-version", 1, "smux protocol version of both sides: 1 or 2")
	fs.IntVar(&f.pool, "pool", demo.DefaultPool, "smux sessions in the gateway's pool")
	fs.IntVar(&f.rate, "rate", demo.DefaultRate, "load generator requests per second (0: no load; curl the gateway yourself)")
	fs.Uint64Var(&f.requests, "requests", 0, "stop the load after this many requests (0: no end); with --duration, the traffic has a known end")
	fs.BoolVar(&f.leak, "leak", false, "the service never closes its side of a stream, as the original article's did: --fault leak")
	f.registerFault(cmd)
	fs.StringVar(&f.service, "listen", "127.0.0.1:0", "service address")
	fs.StringVar(&f.http, "http", "127.0.0.1:0", "gateway HTTP address")
	cmd.AddCommand(newDemoServerCmd(), newDemoClientCmd())
	return cmd
}

func newDemoServerCmd() *cobra.Command {
	f := demoFlags{pool: 1, serviceFlag: "--listen"}
	cmd := &cobra.Command{
		Use:     "server",
		Short:   "Run the random-number service alone, tapping every session it accepts",
		Example: "  muxtop demo server --listen 127.0.0.1:9000",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.run(cmd, demoMode{
				start: demo.StartServer, portFlags: "--listen", side: "server",
				listens: func(d *demo.Demo) []listener { return []listener{f.serviceListener(d)} },
				tap: func(reg *live.Registry, cfg *demo.Config, opts []tap.Option) {
					cfg.WrapListener = func(l net.Listener) net.Listener { return tap.WrapListener(l, reg, "server", opts...) }
				},
				describe: func(d *demo.Demo, v int) (string, string) {
					return fmt.Sprintf("demo server · listening on %s · %s", d.ServiceAddr(), f.muxName()),
						fmt.Sprintf("demo server listening on %s", d.ServiceAddr())
				},
			})
		},
	}
	f.watch.register(cmd)
	f.write.register(cmd)
	fs := cmd.Flags()
	fs.StringVar(&f.protocol, "protocol", "smux", "what the sessions speak: smux or yamux (hashicorp/yamux)")
	fs.IntVar(&f.version, "smux-version", 1, "smux protocol version: 1 or 2")
	fs.BoolVar(&f.leak, "leak", false, "never close the service's side of a stream, as the original article did: --fault leak")
	f.registerFault(cmd)
	fs.StringVar(&f.service, "listen", "127.0.0.1:9000", "address to listen on (a bare :PORT stays on 127.0.0.1)")
	return cmd
}

func newDemoClientCmd() *cobra.Command {
	f := demoFlags{serviceFlag: "--connect"}
	cmd := &cobra.Command{
		Use:     "client",
		Short:   "Run the HTTP gateway and load generator alone, tapping its smux sessions to the service",
		Example: "  muxtop demo client --connect 127.0.0.1:9000 --http 127.0.0.1:8080 --pool 10 --rate 200",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.run(cmd, demoMode{
				start: demo.StartClient, tap: tapClient("client"), portFlags: "--http", load: true, side: "client",
				listens: func(d *demo.Demo) []listener { return []listener{f.gatewayListener(d)} },
				describe: func(d *demo.Demo, v int) (string, string) {
					return fmt.Sprintf("demo client · gateway %s → service %s · %s", d.GatewayURL(), d.ServiceAddr(), f.muxName()),
						fmt.Sprintf("demo gateway at %s, dialling the service at %s (a notice says if it cannot connect)", d.GatewayURL(), d.ServiceAddr())
				},
			})
		},
	}
	f.watch.register(cmd)
	f.write.register(cmd)
	fs := cmd.Flags()
	fs.StringVar(&f.protocol, "protocol", "smux", "what the sessions speak: smux or yamux (hashicorp/yamux)")
	fs.IntVar(&f.version, "smux-version", 1, "smux protocol version: 1 or 2")
	fs.IntVar(&f.pool, "pool", demo.DefaultPool, "smux sessions in the gateway's pool")
	fs.IntVar(&f.rate, "rate", demo.DefaultRate, "load generator requests per second (0: no load)")
	fs.Uint64Var(&f.requests, "requests", 0, "stop the load after this many requests (0: no end)")
	f.registerFault(cmd)
	fs.StringVar(&f.service, "connect", "127.0.0.1:9000", "service address to connect to")
	fs.StringVar(&f.http, "http", "127.0.0.1:8080", "gateway HTTP address")
	return cmd
}
