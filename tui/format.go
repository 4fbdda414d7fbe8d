package tui

import (
	"math"
	"strconv"
	"time"
)

// Numbers have two styles on the screen, each used everywhere: a count
// of things (frames, streams, sessions, records, matches) is count's,
// exact to 9999 and then 11.7k, 512k, 3.1M, decimal; an amount of bytes
// is size's, which always ends in B: 512B, 9.5KiB, 320KiB, 12MiB, binary
// as the findings word bytes and windows (64 KiB, 255.9 KiB), so that
// a window or the bytes in flight read in one unit across the screen.
// They take at most five and six cells, so a table column never cuts
// one. Ids, offsets and lengths are not counts: they show every digit.

// count formats a count of things in at most five cells: 9999, 12.4k,
// 512k, 3.1M, 7.0G.
func count(n uint64) string {
	if n < 10_000 {
		return strconv.FormatUint(n, 10)
	}
	return scaled(float64(n), "kMGTPE", "")
}

// size formats an amount of bytes in at most six cells, in binary
// units: 1023B, 1.0KiB, 9.5KiB, 256KiB, 1.0MiB. One decimal below 10,
// whole numbers below 1000, each rounded before it is compared.
func size(n uint64) string {
	if n < 1024 {
		return strconv.FormatUint(n, 10) + "B"
	}
	v := float64(n)
	const units = "KMGTPE"
	for i := range len(units) {
		v /= 1024
		u := units[i:i+1] + "iB"
		if math.Round(v*10) < 100 {
			return strconv.FormatFloat(v, 'f', 1, 64) + u
		}
		if math.Round(v) < 1000 || i == len(units)-1 {
			return strconv.FormatFloat(v, 'f', 0, 64) + u
		}
	}
	return "?"
}

// scaled formats v ≥ 1000 in the first decimal unit that keeps its digits
// within four cells: 99.9 with one decimal, then whole numbers below 1000,
// each rounded before it is compared so that 99.96 does not print as
// 100.0. suffix follows the unit.
func scaled(v float64, units, suffix string) string {
	for i := range len(units) {
		v /= 1000
		u := units[i:i+1] + suffix
		if math.Round(v*10) < 1000 {
			return strconv.FormatFloat(v, 'f', 1, 64) + u
		}
		if math.Round(v) < 1000 || i == len(units)-1 {
			return strconv.FormatFloat(v, 'f', 0, 64) + u
		}
	}
	return "?"
}

// rate formats a per-second rate in at most five cells, a count's style
// with a decimal below 10: 0, 7.5, 312, 12.4k.
func rate(r float64) string {
	switch {
	case r <= 0:
		return "0"
	case math.Round(r*10) < 100:
		return strconv.FormatFloat(r, 'f', 1, 64)
	case math.Round(r) < 10_000:
		return strconv.FormatFloat(r, 'f', 0, 64)
	}
	return scaled(r, "kMGTPE", "")
}

// durSeconds is the longest duration dur counts in whole seconds, the
// most that five cells hold: 2 h 46 min.
const durSeconds = 9999 * time.Second

// dur formats a duration for an age or latency column in at most five
// cells: 850µs, 400ms, 2.1s, 12s, 287s, 9999s, then 2h47m, 3d04h. Up to
// 9999 s it is in the units the findings' texts give (live.FormatAge:
// "oldest 287 s", "idle 400 ms"), without their space, so that a
// finding's "for" and a stream's age read as its text does on the same
// screen, not "4m47s" beside "287 s"; beyond, where seconds have too
// many digits to read at a glance, in hours and days.
func dur(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Millisecond:
		return strconv.FormatInt(d.Microseconds(), 10) + "µs"
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	case d < 10*time.Second:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	case d < durSeconds+time.Second:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	case d < 24*time.Hour:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h" + two(int64(d%time.Hour/time.Minute)) + "m"
	}
	return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d" + two(int64(d%(24*time.Hour)/time.Hour)) + "h"
}

// clock formats an uptime as hh:mm:ss (days are added as hours).
func clock(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	return two(s/3600) + ":" + two(s/60%60) + ":" + two(s%60)
}

func two(n int64) string {
	if n < 10 {
		return "0" + strconv.FormatInt(n, 10)
	}
	return strconv.FormatInt(n, 10)
}

// plural returns "1 session", "2 sessions" or "11.7k sessions".
func plural(n uint64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return count(n) + " " + word + "s"
}
