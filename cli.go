package main

import (
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// usageError marks a mistake in the command line: exit status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// exitCode maps an error from a command to the process exit status:
// 2 for a command-line mistake, 1 for anything else.
func exitCode(err error) int {
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

// noArgs is cobra.NoArgs as a usage error: an argument where none belongs
// is an unknown subcommand.
func noArgs(cmd *cobra.Command, args []string) error {
	if err := cobra.NoArgs(cmd, args); err != nil {
		return usageError{err}
	}
	return nil
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "muxtop",
		Short: "top for multiplexed connections: watch smux and yamux sessions",
		Long: "muxtop shows what happens inside github.com/xtaci/smux and github.com/hashicorp/yamux sessions:\n" +
			"sessions, streams, frame counts by command (smux) or type (yamux), flow-control windows,\n" +
			"hex-dumped payloads, and findings that say what is wrong and what to do about it. It watches\n" +
			"live, through a proxy (attach) or on a network interface (sniff), or reads a capture (read).",
		SilenceUsage:  true,
		SilenceErrors: true,
		// Runnable, so that an unknown subcommand reaches Args and comes
		// back as a usage error instead of cobra's untyped one.
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newVersionCmd(), newDemoCmd(), newAttachCmd(), newReadCmd(), newSniffCmd())
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print muxtop's version",
		Args:  noArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			v := "(devel)"
			if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
				v = bi.Main.Version
			}
			fmt.Fprintln(cmd.OutOrStdout(), "muxtop", v)
		},
	}
}
