package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/muxtop/muxtop/demo"
)

// registerFault adds --fault and --keepalive to a demo command.
func (f *demoFlags) registerFault(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.fault, "fault", "", "inject a problem that muxtop should diagnose: "+demo.FaultNames()+" (list: what each does and shows)")
	fs.DurationVar(&f.keep, "keepalive", 0, "keepalive interval of the demo's sessions: smux's KeepAliveInterval, KeepAliveTimeout three times it (0: smux's 10 s and 30 s), or yamux's KeepAliveInterval (0: 30 s)")
}

// checkFault settles --fault: --leak is an alias of --fault leak, the
// fault must mean something over --protocol and live on a side this
// command runs, and a fault that needs an smux version gets it unless
// --smux-version says otherwise.
func (f *demoFlags) checkFault(cmd *cobra.Command, side string) error {
	if f.leak {
		if f.fault != "" && f.fault != "leak" {
			return usageError{fmt.Errorf("--leak is --fault leak: it cannot go with --fault %s", f.fault)}
		}
		f.fault = "leak"
	}
	if f.fault == "" {
		return nil
	}
	ft, ok := demo.LookupFault(f.fault)
	proto, err := demo.ParseProtocol(f.protocol)
	if err != nil {
		return usageError{fmt.Errorf("--protocol %q: use smux or yamux", f.protocol)}
	}
	_, _, whyNot := ft.For(proto)
	switch {
	case !ok:
		return usageError{fmt.Errorf("--fault %q: use one of %s, or list", f.fault, demo.FaultNames())}
	case whyNot != "":
		return usageError{fmt.Errorf("--fault %s has no meaning over %s: %s", ft.Name, proto, whyNot)}
	case side != "" && ft.Side != side:
		where := map[string]string{"server": "muxtop demo server", "client": "muxtop demo client"}[ft.Side]
		return usageError{fmt.Errorf("--fault %s lives on the %s's side: give it to %s (or to muxtop demo)", ft.Name, ft.Side, where)}
	case ft.Version != 0 && proto == demo.Smux && ft.Version != f.version:
		if cmd.Flags().Changed("smux-version") {
			return usageError{fmt.Errorf("--fault %s needs --smux-version %d", ft.Name, ft.Version)}
		}
		f.version = ft.Version
	}
	return nil
}

// writeFaults writes --fault list: for each fault, where it lives, what
// it does and what muxtop should show, over smux and over yamux, or why
// it has no meaning over one of them.
func writeFaults(w io.Writer) {
	for _, f := range demo.Faults {
		side := f.Side + " side"
		if f.Version != 0 {
			side += fmt.Sprintf(", smux v%d", f.Version)
		}
		fmt.Fprintf(w, "%s (%s)\n", f.Name, side)
		if does, shows, whyNot := f.For(demo.Smux); whyNot != "" {
			fmt.Fprintf(w, "    smux:  none: %s\n", whyNot)
		} else {
			fmt.Fprintf(w, "    does:  %s\n    shows: %s\n", does, shows)
		}
		switch does, shows, whyNot := f.For(demo.Yamux); {
		case whyNot != "":
			fmt.Fprintf(w, "    yamux: none (refused with --protocol yamux): %s\n", whyNot)
		case f.YamuxDoes != "" || f.Shows == "":
			fmt.Fprintf(w, "    yamux does:  %s\n    yamux shows: %s\n", does, shows)
		default:
			fmt.Fprintf(w, "    yamux shows: %s\n", shows)
		}
	}
	fmt.Fprintln(w, "\nmuxtop demo takes every fault; muxtop demo server the server's, muxtop demo client the client's; --protocol yamux those with a yamux meaning.")
	fmt.Fprintln(w, "--keepalive 1s makes the keepalive-paced faults (keepalive, backlog, protocol) show within seconds; mismatch sets it unless given (smux).")
}
