package headless

import (
	"strings"
	"testing"
	"time"
)

// TestSummarySaysWhen: the plain summary's first line gives the run's
// first and last moment with their date, by the clock its records are
// stamped with: the frame lines carry the time of day alone, as
// tcpdump's do, and a run that crosses midnight, or output read days
// later, was dated by nothing. The date is given once where both fall on
// one day; a summary with no end says only how long.
func TestSummarySaysWhen(t *testing.T) {
	utc := func(s string) time.Time {
		at, err := time.Parse(time.DateTime+".000", s)
		if err != nil {
			t.Fatal(err)
		}
		return at
	}
	for _, c := range []struct {
		at   time.Time
		d    time.Duration
		want string
	}{
		{utc("2026-12-07 08:00:50.604"), 2011 * time.Millisecond, "muxtop summary: 2.011s captured, 2026-12-07 08:00:48.593 to 08:00:50.604 UTC\n"},
		{utc("2026-12-08 00:00:01.500"), 3 * time.Second, "muxtop summary: 3s captured, 2026-12-07 23:59:58.500 to 2026-12-08 00:00:01.500 UTC\n"},
		{time.Time{}, time.Second, "muxtop summary: 1s captured\n"},
	} {
		var b strings.Builder
		WriteSummary(&b, Summary{At: c.at, Duration: c.d})
		if got, _, _ := strings.Cut(b.String(), "\n"); got+"\n" != c.want {
			t.Errorf("the summary begins\n  %q\nwant\n  %q", got+"\n", c.want)
		}
	}
}
