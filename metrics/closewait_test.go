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

// TestCloseWaitSeries: a real smux server, tapped, keepalive off, that
// never closes its session after its client left: once CLOSE_WAIT opens,
// muxtop_findings_open{code="CLOSE_WAIT",severity="warning"} is 1 and
// its opened counter 1; the server's Close resolves it, the gauge back to
// 0 and the resolved counter 1. The series are there, at 0, before.
func TestCloseWaitSeries(t *testing.T) {
	reg := live.New(live.Config{})
	col := metrics.NewCollector(reg, metrics.Options{})
	want := findingSeries(t, col, "CLOSE_WAIT")
	srv := smuxtest.ClientLeaves(t, func(c net.Conn) net.Conn { return tap.Wrap(c, live.Server, reg, "svc") }, false)
	var closed time.Time
	smuxtest.Eventually(t, "the client's EOF at the tap", func() bool {
		closed = reg.Snapshot().Sessions[0].DirEnded[live.ClientToServer]
		return !closed.IsZero()
	})
	at := closed.Add(live.DefaultCloseWaitAfter + time.Second)
	reg.Evaluate(at, live.FindingsConfig{})
	want("held", 1, 1, 0)
	srv.Close()
	reg.Evaluate(at.Add(time.Second), live.FindingsConfig{})
	want("closed", 0, 1, 1)
}
