package tui

import (
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// TestLeakGrowthWordsRealGrowThenShrink: a go-plugin-like host on a real
// smux v2 session, tapped, leaks its requests' streams, 5 every 10 s of
// the registry's clock, then the test closes them, both ends, in steps,
// then leaves the count still; at each step, with the findings evaluated
// and the screen read, the header's count is the streams the test holds
// open, and the LEAK's detail and the header's rate say how that count
// went since the first sample of the last minute, as the test kept it:
// growing by so many, shrinking by so many, or no net change, with its
// sign in the header; or, where the count has held for a step (10 s)
// and as long as it changed before, unchanged since, after so many, with
// no rate in the header. Before: "steady: no new streams in the last
// minute" where the test had opened 13 streams in that minute (and
// closed 13).
func TestLeakGrowthWordsRealGrowThenShrink(t *testing.T) {
	var offset atomic.Int64 // the registry's clock runs ahead of the tap's stamps, 10 s a step
	reg := live.New(live.Config{Clock: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }})
	cfg := smuxtest.Config(2)
	cfg.KeepAliveDisabled = true
	h := smuxtest.NewPluginHost(t, smuxtest.Mux{Smux: cfg}, func(c net.Conn) net.Conn { return tap.Wrap(c, live.Server, reg, "plugin") })
	h.Requests(1, false) // the setup ends: what leaks after is LEAK's
	fcfg := live.FindingsConfig{LeakAfter: 5 * time.Second, UnansweredAfter: time.Hour, SilentAfter: time.Hour, Churn: -1}
	m := resize(newModel(reg, Options{NoColor: true, LeakAfter: fcfg.LeakAfter}, reg.SnapshotWith, time.UTC, 0), 160, 45)
	var held [][2]net.Conn // the leaked streams the test holds open, oldest first
	var counts []int       // the count at each step, 10 s apart
	rateRe := regexp.MustCompile(`suspected leaks?, ([+-])[0-9.]+/(?:s|min) over (the last minute|the last [0-9]+s)`)
	for step, change := range []int{+5, +5, +5, -5, -6, -2, +3, 0, 0, 0, 0, 0} {
		switch {
		case change > 0:
			held = append(held, h.Requests(change, true)...)
		case change < 0:
			for _, st := range held[:-change] {
				st[0].Close()
				st[1].Close()
			}
			held = held[-change:]
		}
		smuxtest.Eventually(t, "the tap to record the step", func() bool { return reg.Snapshot().Sessions[0].Open == 4+len(held) })
		offset.Add(int64(10 * time.Second))
		reg.Evaluate(reg.Now(), fcfg)
		m = send(m, tickMsg{})
		counts = append(counts, len(held))
		// The first sample of the window: the latest at or before a
		// minute ago, or the first.
		first := max(0, step-6)
		from, to, span := counts[first], counts[step], (step-first)*10
		over := fmt.Sprintf("the last %ds", span)
		if span >= 60 {
			over = "the last minute"
		}
		streams := func(n int) string { return plural(uint64(n), "stream") }
		still := 0 // how long the count has held, in the window
		for i := step - 1; i >= first && counts[i] == to; i-- {
			still += 10
		}
		var want string
		switch d := to - from; {
		case span < 10 || to == 0:
		case d != 0 && still >= 10 && still >= span-still: // held as long as it changed: no rate, when it stopped
			sign := map[bool]string{true: "+", false: "-"}[d > 0]
			want = fmt.Sprintf("steady: unchanged for the last %ds, after %s%s in the %ds before", still, sign, streams(max(d, -d)), span-still)
		case d > 0:
			want = "growing: +" + streams(d) + " in " + over + ", +"
		case d < 0:
			want = "shrinking: -" + streams(-d) + " in " + over + ", -"
		default:
			want = "steady: no net change in " + over
		}
		head := strings.SplitN(screenOf(m), "\n", 2)[0]
		if to > 0 && !strings.Contains(head, plural(uint64(to), "suspected leak")) {
			t.Errorf("step %d: %d streams held open; the header says %q", step, to, head)
		}
		r := rateRe.FindStringSubmatch(head)
		switch {
		case want == "" || from == to || still >= 10 && still >= span-still:
			if r != nil {
				t.Errorf("step %d: %d → %d streams over %ds: the header gives a rate: %q", step, from, to, span, head)
			}
		case r == nil || r[1] != map[bool]string{true: "+", false: "-"}[to > from] || r[2] != over:
			t.Errorf("step %d: %d → %d streams over %ds: the header's rate %q", step, from, to, span, head)
		}
		detail := screenOf(press(m, "!"))
		if want != "" && !strings.Contains(detail, want) {
			t.Errorf("step %d: %d → %d streams over %ds: the LEAK's detail does not say %q:\n%s", step, from, to, span, want, detail)
		}
	}
}
