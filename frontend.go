package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/headless"
	"github.com/muxtop/muxtop/live"
)

// watchFlags are the flags every capturing command shares.
type watchFlags struct {
	output    string
	duration  time.Duration
	snaplen   int
	history   int
	leakAfter time.Duration
	mouse     bool
}

func (f *watchFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVarP(&f.output, "output", "o", "", "front end: tui, plain or json (default tui on a terminal, plain otherwise)")
	fs.DurationVar(&f.duration, "duration", 0, "stop after this long, print the summary and exit 0 (0: run until q or ctrl+c)")
	fs.IntVar(&f.snaplen, "snaplen", live.DefaultSnaplen, "payload bytes kept per frame (0-65535)")
	fs.IntVar(&f.history, "history", live.DefaultHistory, "frames kept in history; older ones still count")
	fs.DurationVar(&f.leakAfter, "leak-after", 30*time.Second, "streams open longer than this count as suspected leaks")
	fs.BoolVar(&f.mouse, "mouse", false, "tui: wheel scrolling and click-to-select (turns off the terminal's own selection)")
}

// validate checks the flags and settles the output on what stdout is.
func (f *watchFlags) validate(stdout io.Writer) error {
	switch f.output {
	case "":
		f.output = "plain"
		if file, ok := stdout.(*os.File); ok && term.IsTerminal(file.Fd()) {
			f.output = "tui"
		}
	case "tui", "plain", "json":
	default:
		return usageError{fmt.Errorf("--output %q: use tui, plain or json", f.output)}
	}
	if f.snaplen < 0 || f.snaplen > decoder.MaxSnaplen {
		return usageError{fmt.Errorf("--snaplen %d: use 0 to %d", f.snaplen, decoder.MaxSnaplen)}
	}
	if f.history < 0 {
		return usageError{fmt.Errorf("--history %d: use 0 or more", f.history)}
	}
	if f.duration < 0 {
		return usageError{fmt.Errorf("--duration %v: use a positive duration such as 30s", f.duration)}
	}
	return nil
}

// registry returns the capture state the flags ask for.
func (f *watchFlags) registry() *live.Registry {
	history := f.history
	if history == 0 {
		history = -1 // live reads 0 as "default"
	}
	snaplen := f.snaplen
	if snaplen == 0 {
		snaplen = -1
	}
	return live.New(live.Config{History: history, Snaplen: snaplen})
}

// session is what a front end watches.
type session struct {
	reg    *live.Registry
	title  string        // mode and addresses, for the header
	where  string        // one line for stderr in plain and json mode: where to connect
	status func() string // optional extra status line
	done   <-chan struct{}
	// failed reports why the watched system stopped on its own, once done is closed.
	failed func() error
	// stop shuts the watched system down; the summary comes after it, so it
	// covers everything the system did.
	stop func()
}

// watch runs the chosen front end on s until ctx is done, the duration is
// up, the user quits, or the watched system stops; then prints the summary.
func (f *watchFlags) watch(ctx context.Context, cmd *cobra.Command, s session) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if f.duration > 0 {
		var c context.CancelFunc
		ctx, c = context.WithTimeout(ctx, f.duration)
		defer c()
	}
	go func() { // owned by watch: ends with ctx, which watch cancels on return
		select {
		case <-s.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	var err error
	switch f.output {
	case "tui":
		err = runTUI(ctx, s, f, stdout)
	default:
		format := headless.Plain
		if f.output == "json" {
			format = headless.JSON
		}
		if s.where != "" {
			fmt.Fprintln(stderr, "muxtop:", s.where)
		}
		_, err = headless.Run(ctx, s.reg, stdout, format, s.stop)
	}
	if err != nil {
		return err
	}
	select {
	case <-s.done:
		if ferr := s.failed(); ferr != nil && !errors.Is(ferr, context.Canceled) {
			return ferr
		}
	default:
	}
	return nil
}
