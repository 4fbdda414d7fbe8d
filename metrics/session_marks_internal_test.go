package metrics

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/muxtop/muxtop/live"
)

// collectAll runs one Collect of c, its metrics discarded.
func collectAll(c *Collector) {
	ch := make(chan prometheus.Metric)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range ch {
		}
	}()
	c.Collect(ch)
	close(ch)
	<-done
}

// TestSessionMarksFollowTheSeries: the per-session high-water marks
// (sessionsMonotonic) are kept for the sessions exported at the latest
// scrape only, so that a capture whose sessions come and go for ever
// does not grow them: at most Options.Sessions of them, none once every
// session ended.
func TestSessionMarksFollowTheSeries(t *testing.T) {
	reg := live.New(live.Config{})
	const selected = 5
	c := NewCollector(reg, Options{Sessions: selected})
	now := time.Now()
	var open []*live.Session
	for i := range 500 {
		s := reg.Open(live.SessionInfo{Client: fmt.Sprintf("127.0.0.1:%d", 1000+i), Server: "127.0.0.1:9000"}, now)
		open = append(open, s)
		if len(open) > 2*selected { // the oldest ends: a new one takes its place
			open[0].End(now, live.EOF, nil)
			open = open[1:]
		}
		collectAll(c)
		if n := len(c.hwSessions); n > selected {
			t.Fatalf("after %d sessions, %d marks kept, want at most %d", i+1, n, selected)
		}
	}
	for _, s := range open {
		s.End(now, live.EOF, nil)
	}
	collectAll(c)
	if n := len(c.hwSessions); n != 0 {
		t.Errorf("%d marks kept once every session ended, want 0", n)
	}
}
