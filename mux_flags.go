package main

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/muxtop/muxtop/tap"
)

// muxFlags are the --protocol and --skip flags of read and sniff, which
// say what the captured connections speak as attach's do.
type muxFlags struct {
	protocol string
	skip     int
	prefix   string
	// bytes is --prefix parsed (parse sets it): the exact bytes each client
	// sends before the mux.
	bytes []byte
}

func (m *muxFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&m.protocol, "protocol", "auto", "what the connections speak: auto (detected per connection), smux or yamux")
	cmd.Flags().IntVar(&m.skip, "skip", 0, "bytes each client sends before the mux starts, not decoded")
	cmd.Flags().StringVar(&m.prefix, "prefix", "", "the exact bytes, in hex, each client sends before the mux; a connection whose client sends others is another protocol, skipped with a notice (Consul's RPC port: 04)")
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
	if m.bytes, err = parsePrefix(cmd, m.prefix, m.skip); err != nil {
		return 0, 0, err
	}
	if len(m.bytes) > 0 {
		return proto, len(m.bytes), nil
	}
	return proto, m.skip, nil
}

// parsePrefix parses --prefix, hex digits with optional spaces ("04"),
// given beside --skip skip; cmd names the command in errors.
func parsePrefix(cmd, s string, skip int) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil || len(b) == 0 || len(b) > maxSkip {
		return nil, usageError{fmt.Errorf("%s: --prefix %q: give the bytes each client sends before the mux in hex, such as 04", cmd, s)}
	}
	if skip != 0 && skip != len(b) {
		return nil, usageError{fmt.Errorf("%s: --prefix %s is %s, --skip %d: give --prefix alone (it skips its own length)", cmd, s, tap.Bytes(len(b)), skip)}
	}
	return b, nil
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
