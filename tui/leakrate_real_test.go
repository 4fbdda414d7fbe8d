package tui

import (
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// TestLeakGrowthRateRealSmux: a real xtaci/smux server, tapped, answers
// each stream and never closes it, nor does its client, which opens 20
// streams a second: after 11 s the screen, reading the registry as a live
// one does, says the leak grows at about 20 a second in the header and in
// the LEAK's detail. The rate is the screen's only: the engine is as it
// was.
func TestLeakGrowthRateRealSmux(t *testing.T) {
	if testing.Short() {
		t.Skip("12 s of a real leak")
	}
	t.Parallel()
	reg := live.New(live.Config{})
	scfg := smuxtest.Config(1)
	scfg.KeepAliveInterval, scfg.KeepAliveTimeout = 200*time.Millisecond, time.Hour
	cli, srv := smuxtest.Pair(t, scfg, nil, func(c net.Conn) net.Conn { return tap.Wrap(c, live.Server, reg, "leak") })
	go func() { // ends when the session closes
		for {
			st, err := srv.AcceptStream()
			if err != nil {
				return
			}
			go func() {
				var req [4]byte
				io.ReadFull(st, req[:])
				st.Write([]byte("answer!!")) // and forgets Close
			}()
		}
	}()
	stop := make(chan struct{})
	opened := make(chan int, 1)
	go func() {
		n := 0
		tick := time.NewTicker(50 * time.Millisecond)
		defer func() { tick.Stop(); opened <- n }()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			st, err := cli.OpenStream()
			if err != nil {
				return
			}
			st.Write([]byte("RAND"))
			n++
		}
	}()
	cfg := live.FindingsConfig{LeakAfter: 300 * time.Millisecond, UnansweredAfter: time.Hour, Churn: -1}
	m := resize(newModel(reg, Options{NoColor: true, LeakAfter: cfg.LeakAfter}, reg.SnapshotWith, time.UTC, 0), 160, 45)
	start := time.Now()
	// 12.5 s: the streams of the session's first second are setup streams,
	// which LEAK does not count, so the finding opens a second in, and its
	// rate shows once it has 10 s of counts.
	for time.Since(start) < 12500*time.Millisecond {
		time.Sleep(100 * time.Millisecond)
		reg.Evaluate(time.Now(), cfg)
		m = send(m, tickMsg{})
	}
	close(stop)
	n := <-opened
	perSecond := float64(n) / time.Since(start).Seconds()
	near := func(s string) bool {
		v, err := strconv.ParseFloat(s, 64)
		return err == nil && v > 0.75*perSecond && v < 1.25*perSecond
	}
	head := strings.SplitN(screenOf(m), "\n", 2)[0]
	if got := regexp.MustCompile(`(?:leak\?|suspected leaks,) \+([0-9.]+)/s`).FindStringSubmatch(head); got == nil || !near(got[1]) {
		t.Errorf("the header's leak rate is %q, want about %.1f/s (%d streams opened):\n%s", got, perSecond, n, head)
	}
	m = press(m, "!")
	detail := regexp.MustCompile(`growing: \+[0-9]+ streams in the last 1[01]s, \+([0-9.]+)/s`).FindStringSubmatch(screenOf(m))
	if detail == nil || !near(detail[1]) {
		t.Errorf("the LEAK's detail says %q, want growing about %.1f/s:\n%s", detail, perSecond, screenOf(m))
	}
}
