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
	want := findingSeries(t, col, "NO_REPLY")
	cli, _, _, ahead := smuxtest.HungCall(t, reg, func(c net.Conn) net.Conn { return tap.Wrap(c, live.Client, reg, "cli") })
	at := time.Now().Add(ahead)
	cfg := live.FindingsConfig{LeakAfter: time.Hour, Churn: -1}
	reg.Evaluate(at, cfg)
	want("hung", 1, 1, 0)
	cli.Close()
	smuxtest.Eventually(t, "the session's end", func() bool { return reg.Snapshot().Sessions[0].Ended })
	reg.Evaluate(at.Add(time.Second), cfg)
	want("ended", 0, 1, 1)
}
