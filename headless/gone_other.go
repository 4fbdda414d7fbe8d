//go:build !linux && !darwin

package headless

import "io"

// readerGone is nil here: whether a reader went away is seen only where
// a write fails.
func readerGone(io.Writer) func() bool { return nil }
