// Command muxtop is top for multiplexed connections: an interactive
// inspector for github.com/xtaci/smux sessions.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/muxtop/muxtop/printable"
)

func main() {
	ctx, stop := notifyContext(stopSignals()...)
	// A reader of stdout that went away (| head -1) fails the next write
	// with EPIPE, which ends the watch as ctrl+c does (watch), rather than
	// SIGPIPE killing muxtop before its --write file is flushed.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// secondSignal is closed at a second stop signal: a plain or JSON run
// whose output is still finishing after the first gives up on it at once
// (headless.Options.Cut) and exits 1 by its usual path, the --write file
// and the rest closed whole. The waits that begin once the front end has
// ended (the UI's stop and summary, the --write file's close) heed the
// next signal after they began instead (nextSignal).
var secondSignal = make(chan struct{})

// notifyContext is signal.NotifyContext, but a second signal of sigs
// closes secondSignal, and every signal is told to the context's
// signalNews (nextSignal).
func notifyContext(sigs ...os.Signal) (context.Context, func()) {
	news := new(signalNews)
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), signalNewsKey{}, news))
	c := make(chan os.Signal, 2) // the second is not dropped while the first is taken
	signal.Notify(c, sigs...)
	go func() { // lives as long as the process: stop ends the notifications, not it
		<-c
		news.signalled()
		cancel()
		<-c
		news.signalled()
		close(secondSignal)
		for range c { // a third and later: told, for a wait that began after the second
			news.signalled()
		}
	}()
	return ctx, func() { signal.Stop(c); cancel() }
}

// signalNews tells of the stop signals as they come: Next's channel is
// closed by the first one after the call. A wait that begins once muxtop
// is stopping (the UI gone, the --write file closing) takes it as the
// user's word to stop waiting, whichever signal it is: after q the first,
// after a signal the second.
type signalNews struct {
	mu   sync.Mutex
	next chan struct{} // closed at the next signal; nil until asked for
}

// signalNewsKey is the context key of the command's signalNews.
type signalNewsKey struct{}

// Next returns a channel that the next stop signal closes. A nil
// signalNews's never closes.
func (s *signalNews) Next() <-chan struct{} {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next == nil {
		s.next = make(chan struct{})
	}
	return s.next
}

// signalled tells the waiters on Next of a signal.
func (s *signalNews) signalled() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next != nil {
		close(s.next)
		s.next = nil
	}
}

// nextSignal returns a channel closed by the next stop signal that ctx's
// command gets, after the call: never where ctx has no signals (a test's
// run, which has none but those it sends through withSignals).
func nextSignal(ctx context.Context) <-chan struct{} {
	news, _ := ctx.Value(signalNewsKey{}).(*signalNews)
	return news.Next()
}

// stopSignals are the signals that end a capture as q does: the watched
// system stops, the terminal is restored and the summary printed. SIGHUP
// is one of them, as it is tcpdump's, so that a hangup (a closed terminal
// or ssh session, kill -HUP) neither leaves the terminal in the UI's
// screen nor loses the summary of -o json > file, unless it is ignored
// (nohup), which Notify would undo.
func stopSignals() []os.Signal {
	sigs := []os.Signal{os.Interrupt, syscall.SIGTERM}
	if !signal.Ignored(syscall.SIGHUP) {
		sigs = append(sigs, syscall.SIGHUP)
	}
	return sigs
}

// run executes the command line args and returns the process exit status.
// Errors are one line on stderr, never a stack trace.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); errors.Is(err, errSaid) {
		return 1
	} else if err != nil {
		// An error may quote what the user gave, such as a file name,
		// whose control characters must not reach the terminal raw.
		fmt.Fprintln(stderr, "muxtop:", printable.Text(err.Error()))
		return exitCode(err)
	}
	return 0
}

// errSaid is the error of a command that has said on stderr already why
// it failed: run exits 1 and adds nothing.
var errSaid = errors.New("said")
