//go:build !linux && !darwin

package headless

import "io"

// readerGone is nil here: whether a reader went away is seen only where
// a write fails.
func readerGone(io.Writer) func() bool { return nil }

// writesWhole is false here: the printer's writes are cut to pipeBuf
// whatever the output.
func writesWhole(io.Writer) bool { return false }
