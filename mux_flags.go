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
