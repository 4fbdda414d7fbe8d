package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/muxtop/muxtop/headless"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// writeFlags are the flags of the commands that can write what passed
// as a pcapng capture: --write and --write-limit.
type writeFlags struct {
	path  string
	limit int64 // MiB
	w     *pcapout.Writer
	// limitFlag is --write-limit's, which says whether it was given.
	limitFlag *pflag.Flag
}

func (f *writeFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.path, "write", "", "write what passes as a pcapng capture to this file (tcpdump -r, Wireshark, muxtop read open it)")
	fs.Int64Var(&f.limit, "write-limit", pcapout.DefaultLimit>>20, "MiB the --write file stops growing at; what comes after is counted, not written")
	f.limitFlag = fs.Lookup("write-limit")
}

// open creates the --write file, if asked, and returns the options that
// make a tap record into it. A write of the file that fails is a notice
// of reg at once (watch), as well as an error when it closes. A FIFO
// with no reader yet is waited for, said once on stderr, until ctx ends
// (a stop signal).
func (f *writeFlags) open(ctx context.Context, reg *live.Registry, stderr io.Writer) ([]tap.Option, tap.Recorder, error) {
	if f.limit <= 0 {
		return nil, nil, usageError{fmt.Errorf("--write-limit %d: use a positive number of MiB", f.limit)}
	}
	if f.path == "" {
		if f.limitFlag != nil && f.limitFlag.Changed {
			return nil, nil, usageError{fmt.Errorf("--write-limit needs --write FILE")}
		}
		return nil, nil, nil
	}
	w, err := pcapout.CreateWaiting(ctx, f.path, f.limit<<20, func() {
		fmt.Fprintln(stderr, noReaderYet(f.path))
	})
	if errors.Is(err, pcapout.ErrNoReader) {
		return nil, nil, fmt.Errorf("--write %s: stopped before the FIFO had a reader; nothing was written", f.path)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("--write: %w", err)
	}
	f.w = w
	f.watch(reg)
	return []tap.Option{tap.Record(w)}, w, nil
}

// watch makes the first failed write of the --write file a notice of reg,
// which every front end shows while the capture goes on: what passes
// from then on is not written. close still reports it on exit.
func (f *writeFlags) watch(reg *live.Registry) {
	f.w.OnError(func(err error) {
		reg.Notice(reg.Now(), fmt.Sprintf("--write %s: %v; what passes from now on is not written", f.path, err))
	})
	// Reaching --write-limit is said as it happens, as a failure is:
	// before, the file stopped growing in silence until the exit.
	f.w.OnFull(func() {
		reg.Notice(reg.Now(), fmt.Sprintf("--write %s reached --write-limit %d MiB: the file ends here; what passes from now on, later sessions included, is not in it", f.path, f.limit))
	})
}

// close finishes the --write file, once what it records has stopped, and
// says on stderr what it could not write. A file whose writes block (a
// FIFO whose reader stopped reading, a hung network mount) holds the
// close for as long as they do: a stop signal that comes meanwhile (ctx's,
// nextSignal) gives up on it once the file has taken nothing for
// closeGrace, and close returns with an error that says so, the writes
// left to end with the process. A close still making progress (a slow
// reader) is not cut: the signal says, once, on stderr that muxtop waits.
func (f *writeFlags) close(ctx context.Context, stderr io.Writer) error {
	if f.w == nil {
		return nil
	}
	cut := nextSignal(ctx)
	closed := make(chan error, 1)
	go func() { closed <- f.w.Close() }() // ends when the file's writes do, or with the process
	tick := time.NewTicker(closeGrace / 20)
	defer tick.Stop()
	said, signalled := false, false
	say := func() {
		if !said {
			said = true
			fmt.Fprintln(stderr, waitingForWrite(f.path, f.w.Queued(), closeGrace))
		}
	}
	last, lastAt := f.w.Written(), time.Now()
	var err error
wait:
	for {
		select {
		case err = <-closed:
			break wait
		case <-cut:
			cut, signalled = nil, true
			say()
		case <-tick.C:
		}
		if n := f.w.Written(); n != last {
			last, lastAt = n, time.Now()
		}
		if signalled && time.Since(lastAt) >= closeGrace {
			return fmt.Errorf("--write %s: a signal cut its close short: its writes took nothing for %v; the file ends where they stopped, perhaps inside a packet, without what was still queued for it nor its end", f.path, closeGrace)
		}
	}
	// What the queue could not take before the limit, with a packet of
	// its direction after it, is a loss a reader sees; what came after
	// the limit, or fell in a gap that the limit left with no packet
	// after it, is not in the file at all, which ends with the mark of
	// the cut (PastLimit). After a failed write the file simply ends.
	// Each is said apart, with its own count.
	if n := f.w.Dropped(); n > 0 {
		if err != nil {
			// After a failed write the writer drops everything: the
			// error, said next, is why.
			fmt.Fprintln(stderr, notWrittenFailed(f.path, n))
		} else {
			fmt.Fprintln(stderr, notWritten(f.path, n, "the writer fell behind"))
		}
	}
	if f.w.Full() {
		fmt.Fprintln(stderr, cutAtLimit(f.path, f.w.PastLimit(), f.limit))
	}
	if n := f.w.EndsLost(); n > 0 {
		fmt.Fprintln(stderr, endsNotWritten(f.path, n))
	}
	if err != nil {
		return fmt.Errorf("--write %s: %w", f.path, err)
	}
	return nil
}

// endsNotWritten is the line that says n beginnings or ends of
// connections for the --write file at path found no room in the writer's
// queue (pcapout.Writer.EndsLost), which only a writer that fell behind
// leaves.
func endsNotWritten(path string, n int64) string {
	what, those := fmt.Sprintf("%d connection beginnings or ends (handshakes, FINs, RSTs, closes)", n), "those connections"
	if n == 1 {
		what, those = "1 connection beginning or end (a handshake, FIN, RST or close)", "that connection"
	}
	return fmt.Sprintf("muxtop: --write %s: %s not written (the writer fell behind); a reader may see %s still open at the capture's end, or begun mid-stream", path, what, those)
}

// cutAtLimit is the line that says the --write file at path ends where it
// reached --write-limit, limit MiB, and that the n payload bytes (and any
// session) that came after are not in it. The file holds no gap for
// them, no FIN or close of the sessions open then: its last packet's
// comment marks the cut, from which muxtop read reports those sessions
// cut there, neither ended nor whole; none of the later ones is in it.
func cutAtLimit(path string, n, limit int64) string {
	after := "what came after, any later sessions included,"
	if n > 0 {
		after = fmt.Sprintf("what came after, %s and any later sessions,", tap.Bytes(n))
	}
	return fmt.Sprintf("muxtop: --write %s: the file ends where it reached --write-limit %d MiB: %s is not in it; its last packet marks the cut, and muxtop read reports the sessions open then as cut there", path, limit, after)
}

// notWritten is the line that says n bytes for the --write file at path
// were not written, and why: the pronoun agrees with the count.
func notWritten(path string, n int64, why string) string {
	them := "them"
	if n == 1 {
		them = "it"
	}
	return fmt.Sprintf("muxtop: --write %s: %s not written (%s); a reader sees %s as lost", path, tap.Bytes(n), why, them)
}

// noReaderYet is the line that says muxtop waits for a reader of the
// --write FIFO at path before it begins.
func noReaderYet(path string) string {
	return fmt.Sprintf("muxtop: --write %s: waiting for a reader of the FIFO (tcpdump -r %s, muxtop read %s) before starting; a stop signal gives up", path, path, path)
}

// closeGrace is how long the --write file's close must have made no
// progress for a stop signal to cut it short: as headless.Grace is for
// stdout.
const closeGrace = headless.Grace

// waitingForWrite is the line that says muxtop waits for the --write file
// at path to take what is still queued for it, queued payload bytes and
// the writer's buffer, and that a signal gives up after grace with none.
func waitingForWrite(path string, queued int64, grace time.Duration) string {
	return fmt.Sprintf("muxtop: waiting for --write %s to take what is still queued for it (%s of payload, and the writer's buffer); a signal with no progress for %v gives up", path, tap.Bytes(queued), grace)
}

// notWrittenFailed is the line that says n bytes for the --write file at
// path were not written as writing the file had failed: no reader sees
// them, the file ends where it failed.
func notWrittenFailed(path string, n int64) string {
	return fmt.Sprintf("muxtop: --write %s: %s not written (writing the file failed): the file ends where it failed, without them", path, tap.Bytes(n))
}
