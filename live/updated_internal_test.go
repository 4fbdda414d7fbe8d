package live

import (
	"testing"
	"time"
)

// TestToldAgain: a count is told again only when it differs from the
// one told, UpdateEvery or more after that telling; a count back to what
// was told is not told.
func TestToldAgain(t *testing.T) {
	sec := int64(time.Second)
	tl := told{count: 1, at: 10 * sec}
	for _, c := range []struct {
		count uint64
		at    int64
		want  bool
	}{
		{1, 100 * sec, false},        // unchanged, however late
		{5, 10*sec + sec - 1, false}, // changed, too soon
		{1, 11 * sec, false},         // back to what was told
		{5, 11 * sec, true},          // changed, a second on
		{6, 11*sec + sec/2, false},   // too soon after that
		{6, 12 * sec, true},
	} {
		if got := tl.again(c.count, c.at); got != c.want {
			t.Errorf("again(%d, %v) = %v, want %v", c.count, time.Duration(c.at), got, c.want)
		}
	}
	if tl != (told{6, 12 * sec}) {
		t.Errorf("told %+v, want 6 at 12 s", tl)
	}
}
