package tui

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
)

// TestResolvedCountBeyondTheList: 300 findings resolved in the last 5
// minutes (a client that redials a broken service: ~270 in 5 minutes in
// the audit), where the snapshot lists the latest 256: the header and the
// findings pane's title count 300, and the title says the list shows the
// latest 256. Before: "256 resolved", in both, for 20 minutes.
func TestResolvedCountBeyondTheList(t *testing.T) {
	c := newCapture(live.Config{History: 1000})
	cfg := live.FindingsConfig{Churn: -1}
	k := 0
	for _, batch := range []struct {
		ago time.Duration
		n   int
	}{{7 * time.Minute, 40}, {4 * time.Minute, 150}, {time.Minute, 150}} {
		at := base.Add(-batch.ago)
		var ss []*live.Session
		for range batch.n {
			k++
			s := c.open("127.0.0.1:"+strconv.Itoa(10000+k), "127.0.0.1:9000", at.Add(-2*time.Second))
			s.Violation(live.ClientToServer, at.Add(-2*time.Second), &decoder.Violation{Code: decoder.BadVersion, Header: decoder.Header([]byte("GET / HT"))})
			ss = append(ss, s)
		}
		c.reg.Evaluate(at.Add(-time.Second), cfg)
		for _, s := range ss {
			s.End(at.Add(-time.Millisecond), live.Reset, errors.New("read: connection reset by peer"))
		}
		c.reg.Evaluate(at, cfg)
	}
	for _, w := range []int{80, 160} {
		m := c.model(t, w, 45)
		screen := screenOf(m)
		if !strings.Contains(strings.Split(screen, "\n")[0]+strings.Split(screen, "\n")[1], "300 resolved") {
			t.Errorf("%d: the header does not count 300 resolved:\n%s", w, strings.Join(strings.Split(screen, "\n")[:3], "\n"))
		}
		m = press(m, "!")
		title := ""
		for _, l := range strings.Split(screenOf(m), "\n") {
			if strings.Contains(l, "Findings ·") {
				title = strings.TrimSpace(l)
			}
		}
		if !strings.Contains(title, "Findings · 0 open · 300 resolved, the latest 256 listed") {
			t.Errorf("%d: the findings title %q does not count 300 resolved, the latest 256 listed", w, title)
		}
		checkFits(t, m, w, 45)
	}
}
