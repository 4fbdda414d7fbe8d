package main

import (
	"context"
	"errors"
	"io"

	"github.com/muxtop/muxtop/headless"
	"github.com/muxtop/muxtop/tui"
)

// runTUI runs the interactive UI on the terminal until the user quits or
// ctx ends; then, with the terminal restored, it stops the watched system
// and prints the summary that plain output ends with, from the same code.
//
// The UI ends at the first stop: q or ctrl+c pressed, or a signal (ctx),
// which kills the Bubble Tea program at once, its terminal restored (a
// Program's context ending is Program.Kill: no final render, no wait for
// its input reader; its Update never blocks, reads run in commands). A
// stop signal that comes after the UI ended (ctrl+c at the restored
// terminal after q, a second SIGTERM) gives up on the rest (stopping,
// the summary): runTUI returns errStopCut at once.
func runTUI(ctx context.Context, s session, f *watchFlags, stop func(), stdout io.Writer) error {
	err := tui.Run(ctx, s.reg, tui.Options{
		Title:      s.title,
		LeakAfter:  f.leakAfter,
		StallAfter: f.stallAfter,
		Mouse:      f.mouse,
		Status:     s.status,
		Done:       s.done,
		Idle:       s.idle,
		Waiting:    s.waiting,
	})
	o := f.closing(headless.Plain, stop, s)
	o.GroupFindings = true // a line for the findings alike: a redialling client makes hundreds
	serr := unlessCut(nextSignal(ctx), func() error {
		_, err := headless.Finish(stdout, s.reg, o)
		return err
	})
	return errors.Join(err, serr)
}

// errStopCut is the error of a run whose stop a signal cut short, the
// front end gone: the watched system may not have stopped whole, and the
// summary was not printed (or not whole).
var errStopCut = errors.New("a signal cut the stop short: the summary not printed")

// unlessCut runs do and returns its error, unless cut closes first: then
// it returns errStopCut at once, do left to end with the process.
func unlessCut(cut <-chan struct{}, do func() error) error {
	done := make(chan error, 1)
	go func() { done <- do() }() // ends when do does, or with the process
	select {
	case err := <-done:
		return err
	case <-cut:
		return errStopCut
	}
}
