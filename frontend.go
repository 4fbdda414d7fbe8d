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

// Bounds on the history flags, so a typo cannot ask for all the memory there is.
const (
	maxHistory      = 10_000_000
	maxHistoryBytes = 4 << 30
)

// watchFlags are the flags every capturing command shares.
type watchFlags struct {
	output     string
	duration   time.Duration
	snaplen    int
	history    int
	leakAfter  time.Duration
	stallAfter time.Duration
	mouse      bool
}

func (f *watchFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVarP(&f.output, "output", "o", "", "front end: tui, plain or json (default tui on a terminal, plain otherwise)")
	fs.DurationVar(&f.duration, "duration", 0, "stop after this long, print the summary and exit 0 (0: run until q or ctrl+c)")
	fs.IntVar(&f.snaplen, "snaplen", live.DefaultSnaplen, "payload bytes kept per frame (0-65535)")
	fs.IntVar(&f.history, "history", live.DefaultHistory, "frames kept in history; older ones still count")
	fs.DurationVar(&f.leakAfter, "leak-after", 30*time.Second, "streams open longer than this count as suspected leaks")
	fs.DurationVar(&f.stallAfter, "stall-after", live.DefaultStallAfter, "a v2 writer held at a full window this long, with no UPD and no FIN of its own, is STALLED")
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
	if f.history < 0 || f.history > maxHistory {
		return usageError{fmt.Errorf("--history %d: use 0 to %d", f.history, maxHistory)}
	}
	if f.history == 0 && f.output != "tui" {
		return usageError{fmt.Errorf("--history 0 keeps no frames, and %s output prints from history: use 1 or more", f.output)}
	}
	if mem := int64(f.history) * int64(f.snaplen); mem > maxHistoryBytes {
		return usageError{fmt.Errorf("--history %d × --snaplen %d would keep %d MiB of payloads: keep it under %d MiB",
			f.history, f.snaplen, mem>>20, maxHistoryBytes>>20)}
	}
	if f.output == "tui" {
		file, ok := stdout.(*os.File)
		if !ok || !term.IsTerminal(file.Fd()) {
			return usageError{errors.New("--output tui needs a terminal: use --output plain or json")}
		}
	}
	if f.leakAfter <= 0 {
		return usageError{fmt.Errorf("--leak-after %v: use a positive duration such as 30s", f.leakAfter)}
	}
	if f.stallAfter <= 0 {
		return usageError{fmt.Errorf("--stall-after %v: use a positive duration such as 2s", f.stallAfter)}
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

// system is what a command runs and muxtop watches: a demo or a proxy. It
// runs until Close, or until it fails; Wait returns after it stopped, with
// the failure if there was one.
type system interface {
	Close() error
	Wait() error
}

// session is what a front end watches.
type session struct {
	reg    *live.Registry
	sys    system
	title  string        // mode and addresses, for the header
	where  string        // one line for stderr in plain and json mode: where to connect
	status func() string // optional extra status line
}

// watch runs the chosen front end on s until ctx is done, the duration is
// up, the user quits, or the watched system stops by itself. Then it stops
// the system before the front end's last read, so that the summary covers
// everything the system did, and returns the system's failure if any.
func (f *watchFlags) watch(ctx context.Context, cmd *cobra.Command, s session) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if f.duration > 0 {
		var c context.CancelFunc
		ctx, c = context.WithTimeout(ctx, f.duration)
		defer c()
	}
	var sysErr error
	stopped := make(chan struct{})
	go func() { // owned by watch: stop, called below in every case, waits for it
		sysErr = s.sys.Wait()
		close(stopped)
		cancel()
	}()
	stop := func() {
		s.sys.Close()
		<-stopped
	}
	defer stop()

	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	var err error
	switch f.output {
	case "tui":
		err = runTUI(ctx, s, f, stop, stdout)
	default:
		format := headless.Plain
		if f.output == "json" {
			format = headless.JSON
		}
		if s.where != "" {
			fmt.Fprintln(stderr, "muxtop:", s.where)
		}
		_, err = headless.Run(ctx, s.reg, stdout, headless.Options{Format: format, Stop: stop, Status: s.status})
	}
	if err != nil {
		return err
	}
	stop()
	if sysErr != nil && !errors.Is(sysErr, context.Canceled) {
		return sysErr
	}
	return nil
}
