package main

import (
	"context"
	"io"

	"github.com/muxtop/muxtop/headless"
)

// runTUI runs the interactive UI. Until the UI lands it prints plain lines.
func runTUI(ctx context.Context, s session, f *watchFlags, stdout io.Writer) error {
	_, err := headless.Run(ctx, s.reg, stdout, headless.Plain, s.stop)
	return err
}
