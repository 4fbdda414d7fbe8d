package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/muxtop/muxtop/tap"
)

// muxFlags are the --protocol and --skip flags of read and sniff, which
// say what the captured connections speak as attach's do.
type muxFlags struct {
	protocol string
	skip     int
}

func (m *muxFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&m.protocol, "protocol", "auto", "what the connections speak: auto (detected per connection), smux or yamux")
	cmd.Flags().IntVar(&m.skip, "skip", 0, "bytes each client sends before the mux starts, not decoded (Consul's RPC port: 1)")
}

// parse returns the protocol and prefix the flags give; cmd names the
// command in errors.
func (m *muxFlags) parse(cmd string) (tap.Protocol, int, error) {
	proto, err := tap.ParseProtocol(m.protocol)
	if err != nil {
		return 0, 0, usageError{fmt.Errorf("%s: %w", cmd, err)}
	}
	if m.skip < 0 || m.skip > maxSkip {
		return 0, 0, usageError{fmt.Errorf("%s: --skip %d: give the number of bytes before the mux, 0 to %d", cmd, m.skip, maxSkip)}
	}
	return proto, m.skip, nil
}

// portExpr returns the filter expression of read's and sniff's --port
// and FILTER: "port N" for a --port given (set), which must be a port
// (1 to 65535: 0 is no port a server listens on, not "every port", which
// is what leaving --port out means), or expr as it is. cmd names the
// command in errors.
func portExpr(cmd string, port int, set bool, expr string) (string, error) {
	if !set {
		return expr, nil
	}
	if port < 1 || port > 65535 {
		return "", usageError{fmt.Errorf("%s: --port %d: give the port the server listens on, 1 to 65535 (leave --port out for every port)", cmd, port)}
	}
	if expr != "" {
		return "", usageError{fmt.Errorf("%s: give --port or a filter, not both", cmd)}
	}
	return fmt.Sprintf("port %d", port), nil
}
