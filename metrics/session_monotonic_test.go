package metrics_test

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/metrics"
	"github.com/muxtop/muxtop/tap"
)

// TestSessionCountersNeverGoDown: a real smux client over tap.Wrap sends
// a SYN its peer reads, then a PSH its peer never reads; the write of
// the PSH fails (its deadline expires), and the tap takes the frame back
// (live.Session.Retract) while the session stays up. The capture-wide
// counters hold still for it (TestUnparsedCounterNeverGoesDown, and
// Collector.monotonic); the selected session's own counters must too:
// Prometheus reads a counter that goes down as a restart, and rate()
// over it spikes. Before, muxtop_session_frames_total{direction="c2s"}
// went 2 -> 1 and muxtop_session_frame_bytes_total 116 -> 8.
func TestSessionCountersNeverGoDown(t *testing.T) {
	reg := live.New(live.Config{})
	c := metrics.NewCollector(reg, metrics.Options{Sessions: 5})
	c1, c2 := net.Pipe()
	defer c2.Close()
	tc := tap.Wrap(c1, live.Client, reg, "test")
	cfg := smux.DefaultConfig()
	cfg.KeepAliveDisabled = true
	sess, err := smux.Client(tc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	synRead := make(chan error, 1)
	go func() { _, err := io.ReadFull(c2, make([]byte, 8)); synRead <- err }() // the SYN, then nothing
	st, err := sess.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	if err := <-synRead; err != nil {
		t.Fatal(err)
	}
	wrote := make(chan error, 1)
	go func() { _, err := st.Write(make([]byte, 100)); wrote <- err }()

	const (
		frames = "muxtop_session_frames_total{direction=c2s,session=1}"
		bytes  = "muxtop_session_frame_bytes_total{direction=c2s,session=1}"
	)
	var before map[string]float64
	smuxtest.Eventually(t, "the PSH recorded while its write waits", func() bool {
		before = scrape(t, c)
		return before[frames] == 2
	})
	// The peer never reads: the PSH's write fails now, and is taken back.
	if err := tc.SetWriteDeadline(time.Now()); err != nil {
		t.Fatal(err)
	}
	smuxtest.Eventually(t, "the failed PSH taken back", func() bool {
		ss := reg.Snapshot().Sessions
		return len(ss) == 1 && ss[0].Counts.FramesDir(live.ClientToServer) == 1
	})
	after := scrape(t, c)
	if sum(after, "muxtop_session_info", "session=1") != 1 {
		t.Fatalf("session 1 has no series after the failed write: the session ended (%v)", reg.Snapshot().Sessions[0].Ended)
	}
	for _, k := range []string{frames, bytes} {
		t.Logf("%s: %v while the write waited, %v after it failed", k, before[k], after[k])
		if after[k] < before[k] {
			t.Errorf("%s went down %v -> %v while the session is live (a counter reset to Prometheus)", k, before[k], after[k])
		}
	}

	// The marks follow counts that grow: the peer's frames (s2c), none
	// taken back, are exported as counted. (The client's direction
	// decodes nothing after its failed write: its count stays below the
	// mark for the rest of the session.)
	nop := []byte{1, 3, 0, 0, 0, 0, 0, 0} // an smux v1 NOP
	for range 2 {
		if _, err := c2.Write(nop); err != nil {
			t.Fatal(err)
		}
	}
	smuxtest.Eventually(t, "the peer's two NOPs", func() bool {
		return reg.Snapshot().Sessions[0].Counts.FramesDir(live.ServerToClient) == 2
	})
	last := scrape(t, c)
	if got := last["muxtop_session_frames_total{direction=s2c,session=1}"]; got != 2 {
		t.Errorf("muxtop_session_frames_total{direction=s2c,session=1} = %v, want 2", got)
	}
	if got := last["muxtop_session_frame_bytes_total{direction=s2c,session=1}"]; got != 16 {
		t.Errorf("muxtop_session_frame_bytes_total{direction=s2c,session=1} = %v, want 16", got)
	}
}
