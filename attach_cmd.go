package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/muxtop/muxtop/internal/hostport"
	"github.com/muxtop/muxtop/tap"
)

// nextPort returns 127.0.0.1 on the port after addr's.
func nextPort(addr string) (string, error) {
	_, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	if p == 0 || p == 65535 {
		return "", fmt.Errorf("no default listen address for upstream %s: give one with --listen", addr)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(p+1)), nil
}

func newAttachCmd() *cobra.Command {
	var (
		watch       watchFlags
		write       writeFlags
		listen      string
		dialTimeout time.Duration
		protocol    string
		skip        int
		prefix      string
	)
	cmd := &cobra.Command{
		Use:   "attach UPSTREAM",
		Short: "Run a tapping TCP proxy in front of an smux or yamux server and watch the sessions passing through",
		Long: "attach listens for clients, connects each to UPSTREAM (an smux or yamux server), forwards every\n" +
			"byte untouched both ways and shows the sessions passing through. Point the clients at the listen\n" +
			"address: by default 127.0.0.1 on the upstream's port + 1. A bare :PORT means 127.0.0.1:PORT;\n" +
			"to listen on another interface, spell it out (--listen 0.0.0.0:9001).\n" +
			"Each connection's protocol is detected from its first byte (0: yamux; 1 or 2: smux) unless\n" +
			"--protocol forces one; --skip N skips N bytes the client sends before the mux; --prefix HEX\n" +
			"decodes only the connections whose client sends those bytes first (Consul: 04), and forwards\n" +
			"the rest undecoded, with a notice.",
		Example: "  muxtop attach :9000                  # clients connect to 127.0.0.1:9001\n" +
			"  muxtop attach 10.0.0.5:9000 --listen :7000\n" +
			"  muxtop attach :9000 --output json --duration 1m > capture.ndjson\n" +
			"  muxtop attach :8300 --prefix 04   # a Consul server's RPC port: its yamux",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Errorf("attach takes one upstream address, such as :9000 (got %d arguments)", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			if err := watch.validate(cmd.OutOrStdout()); err != nil {
				return err
			}
			upstream, err := hostport.Loopback(args[0])
			if err != nil {
				return usageError{fmt.Errorf("attach: upstream %w", err)}
			}
			if _, port, _ := net.SplitHostPort(upstream); port == "0" {
				return usageError{fmt.Errorf("attach: upstream %s: port 0 is no server's; give the port the smux or yamux server listens on", args[0])}
			}
			flag := "--listen"
			if listen == "" {
				if listen, err = nextPort(upstream); err != nil {
					return usageError{fmt.Errorf("attach: %w", err)}
				}
				flag = "--listen; the default is the upstream's port + 1"
			} else if listen, err = hostport.Loopback(listen); err != nil {
				return usageError{fmt.Errorf("attach: --listen %w", err)}
			}
			if sameListener(listen, watch.metrics.addr) {
				return usageError{fmt.Errorf("attach: --metrics %s: attach's own --listen %s is there: give --metrics another port", watch.metrics.addr, listen)}
			}
			ups, rerr := resolveUpstream(cmd.Context(), upstream)
			if err := selfUpstreamOf(cmd.Context(), listen, upstream, ups); err != nil {
				return usageError{fmt.Errorf("attach: %w", err)}
			}
			if dialTimeout <= 0 {
				return usageError{fmt.Errorf("attach: --dial-timeout %v: use a positive duration such as 5s", dialTimeout)}
			}
			proto, err := tap.ParseProtocol(protocol)
			if err != nil {
				return usageError{fmt.Errorf("attach: %w", err)}
			}
			if skip < 0 || skip > maxSkip {
				return usageError{fmt.Errorf("attach: --skip %d: give the number of bytes before the mux, 0 to %d", skip, maxSkip)}
			}
			want, err := parsePrefix("attach", prefix, skip)
			if err != nil {
				return err
			}
			reg := watch.registry()
			_, rec, err := write.open(cmd.Context(), reg, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer func() {
				if cerr := write.close(cmd.Context(), cmd.ErrOrStderr()); err == nil {
					err = cerr
				}
			}()
			p := tap.NewProxy(tap.ProxyConfig{
				Listen: listen, Upstream: upstream, Registry: reg, DialTimeout: dialTimeout, Protocol: proto, Skip: skip, Prefix: want,
				OnError:  func(err error) { reg.Notice(time.Now(), err.Error()) },
				Recorder: rec,
			})
			if err := p.Start(); err != nil {
				return startErr(err, flag)
			}
			addr := p.Addr().String()
			warn := joinLines(everyInterface("attach", listener{"--listen", listen, addr}),
				upstreamWarning(upstream, ups, rerr, listeningTCP))
			return watch.watch(cmd.Context(), cmd, session{
				reg:      reg,
				sys:      p,
				title:    fmt.Sprintf("attach %s → %s", addr, upstream),
				where:    fmt.Sprintf("attach: clients connect to %s, forwarded to %s", addr, upstream),
				warn:     warn,
				upstream: p.Upstream,
			})
		},
	}
	watch.register(cmd)
	write.register(cmd)
	cmd.Flags().StringVar(&listen, "listen", "", "address clients connect to (default 127.0.0.1 on the upstream's port + 1)")
	cmd.Flags().DurationVar(&dialTimeout, "dial-timeout", tap.DefaultDialTimeout, "how long to wait for the upstream to accept each client")
	cmd.Flags().StringVar(&protocol, "protocol", "auto", "what the connections speak: auto (detected per connection), smux or yamux")
	cmd.Flags().IntVar(&skip, "skip", 0, "bytes each client sends before the mux starts, forwarded but not decoded")
	cmd.Flags().StringVar(&prefix, "prefix", "", "the exact bytes, in hex, each client sends before the mux; a connection whose client sends others is another protocol, forwarded undecoded with a notice (Consul's RPC port: 04)")
	return cmd
}

// maxSkip bounds --skip: a prefix is a few bytes of a protocol's own
// handshake, not a stream to wade through.
const maxSkip = 1 << 16

// resolveTimeout bounds the name lookups of selfUpstream.
const resolveTimeout = 2 * time.Second

// resolveUpstream resolves upstream once, at attach's start, within
// resolveTimeout: its addresses, or the lookup's error.
func resolveUpstream(ctx context.Context, upstream string) ([]netip.AddrPort, error) {
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	return resolveErr(ctx, upstream)
}

// upstreamWarning returns the line attach says at its start when the
// upstream, resolved to ups (or not, with rerr), cannot take clients
// now: its name does not resolve, or it is on this machine and nothing
// listens there (listening says, without connecting: a test dial would
// be a connection the upstream sees, from a client that says nothing,
// which a server may log or count). It is a warning, not an error: a
// name can come to resolve and a server can start while attach runs,
// and each client is dialed afresh; meanwhile each is closed, and the
// notices, the summary, the CHURN finding and
// muxtop_upstream_dial_failures_total say why. "" if neither applies,
// or nothing can tell.
func upstreamWarning(upstream string, ups []netip.AddrPort, rerr error, listening func(netip.AddrPort) (bool, bool)) string {
	if rerr != nil {
		why, ok := lookupWhy(rerr, resolveTimeout)
		if !ok {
			why = rerr.Error()
		}
		return fmt.Sprintf("attach: upstream %s does not resolve (%s): every client will be closed until it does", upstream, why)
	}
	if len(ups) == 0 {
		return ""
	}
	v4 := true
	for _, ap := range ups {
		if !ap.Addr().Unmap().IsLoopback() {
			return "" // another machine's: only a dial would tell
		}
		if up, known := listening(ap); up || !known {
			return ""
		}
		v4 = v4 && ap.Addr().Unmap().Is4()
	}
	// A server on [::1] alone, with the upstream given as :P or
	// 127.0.0.1:P: the same check, on IPv6 loopback's port, says so.
	if v6 := netip.AddrPortFrom(netip.IPv6Loopback(), ups[0].Port()); v4 {
		if up, known := listening(v6); up && known {
			return fmt.Sprintf("attach: nothing listens on upstream %s now, but %s does: give attach that address as its upstream (every client to %s will be refused)", upstream, v6, upstream)
		}
	}
	return fmt.Sprintf("attach: nothing listens on upstream %s now: every client will be refused until its server starts", upstream)
}

// joinLines joins the non-empty lines with newlines.
func joinLines(lines ...string) string {
	return strings.Join(slices.DeleteFunc(lines, func(l string) bool { return l == "" }), "\n")
}

// selfUpstream returns an error if a connection to upstream would reach a proxy listening on listen: the proxy would then
// forward each client to itself, which forwards it to itself, until file
// descriptors run out. A name that does not resolve is let through, for
// the dial to report.
func selfUpstream(ctx context.Context, listen, upstream string) error {
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	return selfUpstreamOf(ctx, listen, upstream, resolve(ctx, upstream))
}

// selfUpstreamOf is selfUpstream of an upstream already resolved to ups.
func selfUpstreamOf(ctx context.Context, listen, upstream string, ups []netip.AddrPort) error {
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	for _, l := range resolve(ctx, listen) {
		for _, u := range ups {
			if tap.LoopsBack(l, u) {
				return fmt.Errorf("upstream %s is the --listen address %s: the proxy would connect to itself; listen on another port", upstream, listen)
			}
		}
	}
	return nil
}

// resolve returns the addresses hostport names: itself if the host is an
// IP, else what the host resolves to, or none.
func resolve(ctx context.Context, hostport string) []netip.AddrPort {
	aps, _ := resolveErr(ctx, hostport)
	return aps
}

// resolveErr is resolve, with the lookup's error; an address it cannot
// split is none, with no error (the flag's own check says what is wrong).
func resolveErr(ctx context.Context, hostport string) ([]netip.AddrPort, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, nil
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return nil, nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.AddrPort{netip.AddrPortFrom(ip, uint16(p))}, nil
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	aps := make([]netip.AddrPort, len(ips))
	for i, ip := range ips {
		aps[i] = netip.AddrPortFrom(ip, uint16(p))
	}
	return aps, nil
}
