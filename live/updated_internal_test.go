package live

import (
	"testing"
	"time"
)

// TestToldAgain: a count is told again only when it differs from the
// one told, UpdateEvery or more after that telling; a count back to what
// was told is not told. A severity that differs from the one told is
// told at once, with the one it replaces, and its telling tells the count
// too: the next count waits UpdateEvery from it.
func TestToldAgain(t *testing.T) {
	sec := int64(time.Second)
	tl := told{count: 1, sev: Critical, at: 10 * sec}
	for _, c := range []struct {
		count uint64
		sev   Severity
		at    int64
		want  bool
		was   Severity
	}{
		{1, Critical, 100 * sec, false, 0},        // unchanged, however late
		{5, Critical, 10*sec + sec - 1, false, 0}, // changed, too soon
		{1, Critical, 11 * sec, false, 0},         // back to what was told
		{5, Critical, 11 * sec, true, 0},          // changed, a second on
		{6, Critical, 11*sec + sec/2, false, 0},   // too soon after that
		{6, Warning, 11*sec + sec/2, true, Critical},
		{7, Warning, 12 * sec, false, 0}, // the severity's telling told 6
		{7, Warning, 12*sec + sec/2, true, 0},
	} {
		if got, was := tl.again(c.count, 0, c.sev, 0, c.at); got != c.want || was != c.was {
			t.Errorf("again(%d, %v, %v) = %v, %v; want %v, %v", c.count, c.sev, time.Duration(c.at), got, was, c.want, c.was)
		}
	}
	if tl != (told{7, Warning, 12*sec + sec/2, 0, 0}) {
		t.Errorf("told %+v, want 7, warning, at 12.5 s", tl)
	}
}

// TestToldSlowAtOnce: a WINDOW_STALL's reader found to read again after
// a pause, or slowly (Evidence.slowLevel 1 where the latest record told
// 0), and then found to read slowly (2), is told at once each time,
// however soon, with no severity change; slow as told is not told again.
func TestToldSlowAtOnce(t *testing.T) {
	sec := int64(time.Second)
	tl := told{sev: Warning, at: 10 * sec}
	if got, was := tl.again(0, 0, Warning, 1, 10*sec+1); !got || was != 0 {
		t.Errorf("slow found: told %v, was %v; want told, no severity", got, was)
	}
	if got, _ := tl.again(0, 0, Warning, 1, 100*sec); got {
		t.Error("slow as told: told again")
	}
	if got, was := tl.again(0, 0, Warning, 2, 100*sec+1); !got || was != 0 {
		t.Errorf("a second slow report: told %v, was %v; want told, no severity", got, was)
	}
	if got, _ := tl.again(0, 0, Warning, 2, 100*sec+2); got {
		t.Error("slow as told: told again")
	}
	if got, _ := tl.again(0, 0, Warning, 0, 100*sec+3); !got {
		t.Error("slow no more: not told")
	}
}

// TestToldNewStream: an open finding whose stream changes at the same
// count (a LEAK's oldest stream closed, another as old in its place) is
// told again, UpdateEvery or more after the telling before, as a count
// is; the stream as told is not.
func TestToldNewStream(t *testing.T) {
	sec := int64(time.Second)
	tl := told{count: 2, sev: Warning, at: 10 * sec, stream: 3}
	if got, _ := tl.again(2, 5, Warning, 0, 10*sec+sec/2); got {
		t.Error("a new stream told within UpdateEvery")
	}
	if got, _ := tl.again(2, 5, Warning, 0, 11*sec); !got {
		t.Error("a new stream at the same count not told")
	}
	if got, _ := tl.again(2, 5, Warning, 0, 100*sec); got {
		t.Error("the stream as told, told again")
	}
}
