package tui

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// count formats n in at most five cells for a narrow column: 9999,
// 12.4k, 512k, 3.1M, 7.0G.
func count(n uint64) string {
	if n < 10_000 {
		return strconv.FormatUint(n, 10)
	}
	return scaled(float64(n), 1000, "kMGTPE")
}

// scaled formats v ≥ base in the first unit that keeps it within five
// cells: 99.9 with one decimal, then whole numbers below base (1023K for
// binary units), each rounded before it is compared so that 99.96 does not
// print as 100.0.
func scaled(v, base float64, units string) string {
	for i := range len(units) {
		v /= base
		u := units[i : i+1]
		if math.Round(v*10) < 1000 {
			return strconv.FormatFloat(v, 'f', 1, 64) + u
		}
		if math.Round(v) < base || i == len(units)-1 {
			return strconv.FormatFloat(v, 'f', 0, 64) + u
		}
	}
	return "?"
}

// grouped formats n with thin groups of three digits: 10 233.
func grouped(n uint64) string {
	s := strconv.FormatUint(n, 10)
	if len(s) <= 4 {
		return s
	}
	var b strings.Builder
	head := len(s) % 3
	if head > 0 {
		b.WriteString(s[:head])
	}
	for i := head; i < len(s); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s[i : i+3])
	}
	return b.String()
}

// rate formats a per-second rate in at most five cells: 0, 7.5, 312, 12.4k.
func rate(r float64) string {
	switch {
	case r <= 0:
		return "0"
	case math.Round(r*10) < 100:
		return strconv.FormatFloat(r, 'f', 1, 64)
	case math.Round(r) < 10_000:
		return strconv.FormatFloat(r, 'f', 0, 64)
	}
	return scaled(r, 1000, "kMGTPE")
}

// size formats a byte count with binary units in at most five cells: 512B,
// 4.0K, 12.3M, 1023K.
func size(n uint64) string {
	if n < 1024 {
		return strconv.FormatUint(n, 10) + "B"
	}
	return scaled(float64(n), 1024, "KMGTPE")
}

// dur formats a duration for an age or latency column: 850µs, 12ms, 0.4s,
// 12s, 3m04s, 2h05m, 3d04h.
func dur(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Millisecond:
		return strconv.FormatInt(d.Microseconds(), 10) + "µs"
	case d < 100*time.Millisecond:
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	case d < 10*time.Second:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	case d < time.Minute:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	case d < time.Hour:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m" + two(int64(d%time.Minute/time.Second)) + "s"
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

// plural returns "1 session" or "2 sessions".
func plural(n uint64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return grouped(n) + " " + word + "s"
}
