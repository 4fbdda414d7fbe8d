package main

import (
	"context"
	"io"

	"github.com/muxtop/muxtop/headless"
	"github.com/muxtop/muxtop/tui"
)

// runTUI runs the interactive UI on the terminal until the user quits or
// ctx ends; then it stops the watched system and, with the terminal
// restored, prints the summary.
func runTUI(ctx context.Context, s session, f *watchFlags, stop func(), stdout io.Writer) error {
	_, err := tui.Run(ctx, s.reg, tui.Options{
		Title:      s.title,
		LeakAfter:  f.leakAfter,
		StallAfter: f.stallAfter,
		Mouse:      f.mouse,
		Status:     s.status,
	})
	stop()
	sum := headless.Summarize(s.reg.Snapshot(), 0)
	if s.status != nil {
		sum.Status = s.status()
	}
	headless.WriteSummary(stdout, sum)
	return err
}
