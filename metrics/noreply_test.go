package metrics_test

import (
	"net"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/metrics"
	"github.com/muxtop/muxtop/tap"
)

// TestNoReplySeries: a real smux v2 client, tapped, whose server blocks
// on the fourth call on a stream the client reuses (smuxtest.HungCall):
// once NO_REPLY opens, muxtop_findings_open{code="NO_REPLY",
// severity="warning"} is 1 and its opened counter 1; the session's end
// resolves it, the gauge back to 0 and the resolved counter 1. The series
// are there, at 0, before.
func TestNoReplySeries(t *testing.T) {
	reg := live.New(live.Config{})
	col := metrics.NewCollector(reg, metrics.Options{})
	const open, opened, resolved = `muxtop_findings_open{code=NO_REPLY,severity=warning}`,
		`muxtop_findings_opened_total{code=NO_REPLY,severity=warning}`, `muxtop_findings_resolved_total{code=NO_REPLY,severity=warning}`
	if m := scrape(t, col); m[open] != 0 || m[opened] != 0 || m[resolved] != 0 {
		t.Fatalf("before: %v %v %v", m[open], m[opened], m[resolved])
	} else if _, ok := m[open]; !ok {
		t.Fatalf("no %s series before any finding", open)
	}
	cli, _, _ := smuxtest.HungCall(t, reg, func(c net.Conn) net.Conn { return tap.Wrap(c, live.Client, reg, "cli") })
	at := time.Now().Add(live.DefaultUnansweredAfter + time.Second)
	cfg := live.FindingsConfig{LeakAfter: time.Hour, Churn: -1}
	reg.Evaluate(at, cfg)
	if m := scrape(t, col); m[open] != 1 || m[opened] != 1 || m[resolved] != 0 {
		t.Errorf("hung: open %v, opened %v, resolved %v; want 1, 1, 0", m[open], m[opened], m[resolved])
	}
	cli.Close()
	smuxtest.Eventually(t, "the session's end", func() bool { return reg.Snapshot().Sessions[0].Ended })
	reg.Evaluate(at.Add(time.Second), cfg)
	if m := scrape(t, col); m[open] != 0 || m[opened] != 1 || m[resolved] != 1 {
		t.Errorf("ended: open %v, opened %v, resolved %v; want 0, 1, 1", m[open], m[opened], m[resolved])
	}
}
