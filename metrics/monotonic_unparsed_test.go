package metrics_test

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/metrics"
	"github.com/muxtop/muxtop/tap"
)

// heldConn holds a Write until release, then says only sent bytes went
// out: a peer that stopped reading, then reset the connection.
type heldConn struct {
	net.Conn
	release chan struct{}
	sent    int
}

func (c *heldConn) Write(p []byte) (int, error) {
	<-c.release
	return min(c.sent, len(p)), errors.New("connection reset by peer")
}

// TestUnparsedCounterNeverGoesDown: a tapped end writes an smux frame and
// then bytes that break smux's framing (BAD_VERSION), in one Write that a
// peer which stopped reading fails after some bytes. While the Write
// waits, the bytes after the violation count as unparsed; once it fails,
// only those that went out do (Session.Unparsed set lower). A scrape in
// between must not see muxtop_unparsed_bytes_total go down: Prometheus
// reads a counter that goes down as a restart. The frame counters are
// held monotonic for Retract (Collector.monotonic); the unparsed one must
// be too.
func TestUnparsedCounterNeverGoesDown(t *testing.T) {
	reg := live.New(live.Config{})
	c := metrics.NewCollector(reg, metrics.Options{})
	cc, _ := smuxtest.Conns(t)
	hc := &heldConn{Conn: cc, release: make(chan struct{}), sent: 50}
	tc := tap.Wrap(hc, live.Client, reg, "test")
	p := []byte{1, 0, 0, 0, 1, 0, 0, 0} // smux v1 SYN of stream 1
	bad := make([]byte, 100)
	bad[0] = 9 // no smux version
	p = append(p, bad...)
	done := make(chan struct{})
	go func() { defer close(done); tc.Write(p) }()
	smuxtest.Eventually(t, "the violation", func() bool {
		ss := reg.Snapshot().Sessions
		return len(ss) == 1 && ss[0].Unparsed[live.ClientToServer] > 0
	})
	before := scrape(t, c)["muxtop_unparsed_bytes_total{direction=c2s}"]
	close(hc.release)
	<-done
	time.Sleep(10 * time.Millisecond)
	after := scrape(t, c)["muxtop_unparsed_bytes_total{direction=c2s}"]
	t.Logf("unparsed c2s: %v while the write waited, %v after it failed", before, after)
	if after < before {
		t.Errorf("muxtop_unparsed_bytes_total{direction=c2s} went down from %v to %v", before, after)
	}
}
