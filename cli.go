package main

import (
	"errors"
	"fmt"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
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
		if cmd.SuggestionsMinimumDistance <= 0 {
			cmd.SuggestionsMinimumDistance = 2 // cobra's own, set where it suggests
		}
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			err = fmt.Errorf("%w: did you mean %s %s?", err, cmd.CommandPath(), strings.Join(s, " or "))
		} else {
			err = fmt.Errorf("%w: see %s --help", err, cmd.CommandPath())
		}
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
		// --version, as version: what a user tries first.
		Version: version(),
	}
	root.SetVersionTemplate("muxtop {{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newVersionCmd(), newDemoCmd(), newAttachCmd(), newReadCmd(), newSniffCmd())
	// cobra adds completion at Execute, where its unknown shell is help and
	// exit 0: made here, and runnable, so that its Args says what is wrong.
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" && !c.Runnable() {
			c.Args = func(cmd *cobra.Command, args []string) error {
				if len(args) == 0 {
					return nil
				}
				var shells []string
				for _, sh := range cmd.Commands() {
					if sh.IsAvailableCommand() {
						shells = append(shells, sh.Name())
					}
				}
				return usageError{fmt.Errorf("completion %q: no such shell; use %s", args[0], strings.Join(shells, ", "))}
			}
			c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
		}
	}
	wrapFlagErrors(root)
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print muxtop's version",
		Args:  noArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "muxtop", version())
		},
	}
}

// wrapFlagErrors gives every command in the tree under c the flag error
// function clearFlagError, over the one it had (read's, which knows a
// file's name that begins with -).
func wrapFlagErrors(c *cobra.Command) {
	prev := c.FlagErrorFunc()
	c.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return clearFlagError(cmd, err, prev) })
	for _, sub := range c.Commands() {
		wrapFlagErrors(sub)
	}
}

// clearFlagError turns pflag's error err on cmd's command line into one
// usage line that says what to give instead: pflag's own words are a Go
// error chain ("strconv.ParseInt: parsing ..."). What prev says is kept
// where it says more than err.
func clearFlagError(cmd *cobra.Command, err error, prev func(*cobra.Command, error) error) error {
	if prev != nil {
		if p := prev(cmd, err); p != nil && p.Error() != err.Error() {
			return p
		}
	}
	return usageError{errors.New(flagErrorLine(cmd, err))}
}

// plainNumber is a decimal number, such as 5 or 2.5: a duration whose
// unit was left out.
var plainNumber = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)

// flagErrorLine is clearFlagError's line for err.
func flagErrorLine(cmd *cobra.Command, err error) string {
	help := fmt.Sprintf("see %s --help", cmd.CommandPath())
	var inv *pflag.InvalidValueError
	var nx *pflag.NotExistError
	var req *pflag.ValueRequiredError
	switch {
	case errors.As(err, &inv):
		f, v := inv.GetFlag(), inv.GetValue()
		what := ""
		switch t := f.Value.Type(); {
		case t == "duration":
			what = "give a duration, such as 5s, 2m or 1h30m"
			if plainNumber.MatchString(v) { // not inf, 1e3 or 0x10: 1e3s is no duration
				what = fmt.Sprintf("give a unit, such as %ss or %sm", v, v)
			}
		case t == "bool":
			what = "give true or false"
		case strings.HasPrefix(t, "uint"):
			what = "give a whole number, 0 or more"
		case strings.HasPrefix(t, "int"):
			what = "give a whole number"
		case strings.HasPrefix(t, "float"):
			what = "give a number"
		default:
			what = inv.Unwrap().Error()
		}
		if errors.Is(err, strconv.ErrRange) {
			what = "the number is out of range"
		}
		return fmt.Sprintf("--%s %s: %s", f.Name, v, what)
	case errors.As(err, &req):
		name := "--" + req.GetSpecifiedName()
		if req.GetSpecifiedShortnames() != "" {
			name = "-" + req.GetSpecifiedName()
		}
		return fmt.Sprintf("%s needs a value: %s VALUE (%s)", name, name, help)
	case errors.As(err, &nx):
		name := "--" + nx.GetSpecifiedName()
		if nx.GetSpecifiedShortnames() != "" {
			name = "-" + nx.GetSpecifiedName()[:1]
		}
		if owners := flagOwners(cmd.Root(), cmd, nx.GetSpecifiedName(), nx.GetSpecifiedShortnames() != ""); len(owners) > 0 {
			return fmt.Sprintf("%s: %s is a flag of %s, not of %s", err, name, commandList(cmd.Root(), owners), cmd.CommandPath())
		}
		return fmt.Sprintf("%s: %s", err, help)
	}
	return fmt.Sprintf("%s: %s", err, help)
}

// flagOwners returns the commands under c, other than not, that take the
// flag name (a shorthand's letter where short), in the order of the tree.
func flagOwners(c, not *cobra.Command, name string, short bool) []*cobra.Command {
	var owners []*cobra.Command
	if c != not && name != "help" && name != "h" {
		var f *pflag.Flag
		if short {
			f = c.Flags().ShorthandLookup(name[:1])
		} else {
			f = c.Flags().Lookup(name)
		}
		if f != nil {
			owners = append(owners, c)
		}
	}
	for _, sub := range c.Commands() {
		owners = append(owners, flagOwners(sub, not, name, short)...)
	}
	return owners
}

// commandList names the commands cs, each a command under root: "muxtop
// attach, demo and sniff", root's name said once.
func commandList(root *cobra.Command, cs []*cobra.Command) string {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = strings.TrimPrefix(c.CommandPath(), root.Name()+" ")
	}
	list := names[len(names)-1]
	if len(names) > 1 {
		list = strings.Join(names[:len(names)-1], ", ") + " and " + list
	}
	return root.Name() + " " + list
}

// version is muxtop's module version, from the build information, or
// (devel) where the binary was not built from a tagged module.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
