// Package monoclock is the one cheap clock the taps and their recorders
// stamp bytes with.
package monoclock

import "time"

// Rebase is how long a Clock adds monotonic time to one wall reading
// before it reads the wall clock again.
const Rebase = time.Second

// Clock stamps reading only the monotonic clock, half the cost of
// time.Now, which reads the wall clock too: it adds the monotonic time
// elapsed since a time.Now taken at most Rebase ago. A stamp's monotonic
// reading is exact, so Sub between stamps is; its wall time may differ
// from a wall clock that is stepped or slewed meanwhile by as much as
// that clock moves in Rebase. The zero Clock is ready; one Clock is for
// one goroutine at a time.
type Clock struct{ base time.Time }

// Now returns the time now.
func (c *Clock) Now() time.Time {
	if d := time.Since(c.base); d >= 0 && d < Rebase {
		return c.base.Add(d)
	}
	c.base = time.Now()
	return c.base
}
