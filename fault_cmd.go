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
	fs.DurationVar(&f.keep, "keepalive", 0, "smux KeepAliveInterval of the demo's sessions, KeepAliveTimeout three times it (0: smux's 10 s and 30 s)")
}

// checkFault settles --fault: --leak is an alias of --fault leak, the
// fault must live on a side this command runs, and a fault that needs a
// version gets it unless --smux-version says otherwise.
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
	switch {
	case !ok:
		return usageError{fmt.Errorf("--fault %q: use one of %s, or list", f.fault, demo.FaultNames())}
	case side != "" && ft.Side != side:
		where := map[string]string{"server": "muxtop demo server", "client": "muxtop demo client"}[ft.Side]
		return usageError{fmt.Errorf("--fault %s lives on the %s's side: give it to %s (or to muxtop demo)", ft.Name, ft.Side, where)}
	case ft.Version != 0 && ft.Version != f.version:
		if cmd.Flags().Changed("smux-version") {
			return usageError{fmt.Errorf("--fault %s needs --smux-version %d", ft.Name, ft.Version)}
		}
		f.version = ft.Version
	}
	return nil
}

// writeFaults writes --fault list: for each fault, where it lives, what
// it does and what muxtop should show.
func writeFaults(w io.Writer) {
	for _, f := range demo.Faults {
		side := f.Side + " side"
		if f.Version != 0 {
			side += fmt.Sprintf(", smux v%d", f.Version)
		}
		fmt.Fprintf(w, "%s (%s)\n    does:  %s\n    shows: %s\n", f.Name, side, f.Does, f.Shows)
	}
	fmt.Fprintln(w, "\nmuxtop demo takes every fault; muxtop demo server the server's, muxtop demo client the client's.")
	fmt.Fprintln(w, "--keepalive 1s makes the keepalive-paced faults (keepalive, backlog, protocol) show within seconds; mismatch sets it unless given.")
}
