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
	_, serr := headless.Finish(stdout, s.reg, o)
	return errors.Join(err, serr)
}
