package live_test

import (
	"io"
	"slices"
	"testing"
	"time"

	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// realPair returns a real smux client and server whose configs differ,
// the client's end tapped into reg; both close when the test ends.
func realPair(t *testing.T, reg *live.Registry, ccfg, scfg *smux.Config) (cli, srv *smux.Session) {
	t.Helper()
	cc, sc := smuxtest.Conns(t)
	var err error
	if cli, err = smux.Client(tap.Wrap(cc, live.Client, reg, "test"), ccfg); err != nil {
		t.Fatal(err)
	}
	if srv, err = smux.Server(sc, scfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close(); srv.Close() })
	return cli, srv
}

// keepalive returns smux's config of version with keepalive every every.
func keepalive(version int, every time.Duration) *smux.Config {
	cfg := smuxtest.Config(version)
	cfg.KeepAliveInterval, cfg.KeepAliveTimeout = every, 10*time.Second
	return cfg
}

// evaluateFor evaluates reg every 50 ms for d, as the front ends do, and
// returns the codes of the findings it opened.
func evaluateFor(reg *live.Registry, d time.Duration, cfg live.FindingsConfig) []string {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		reg.Evaluate(time.Now(), cfg)
	}
	recs, _ := reg.Frames(live.Query{From: 1}, nil)
	var codes []string
	for _, r := range recs {
		if r.Kind == live.FindingOpened {
			codes = append(codes, r.Finding.Code.String())
		}
	}
	return codes
}

// TestHealthyRealSessions drives real smux pairs doing what healthy
// programs do, which muxtop once took for faults, and evaluates them in
// real time as the front ends do: no finding may open, or only the one
// the case names. Each failed on the engine before its fix.
func TestHealthyRealSessions(t *testing.T) {
	t.Parallel() // real time on a pair of its own; -parallel still bounds how many at once
	t.Run("slower keepalive on the server", func(t *testing.T) {
		// A client's NOP every 200 ms, the server's every 2 s: until its
		// first, the server is allowed smux's default interval, not the
		// client's (KEEPALIVE at 1.2 s before).
		reg := live.New(live.Config{})
		realPair(t, reg, keepalive(1, 200*time.Millisecond), keepalive(1, 2*time.Second))
		if codes := evaluateFor(reg, 2500*time.Millisecond, live.FindingsConfig{Churn: -1}); len(codes) > 0 {
			t.Errorf("findings %v on a healthy idle session", codes)
		}
	})
	t.Run("v1 push stream", func(t *testing.T) {
		// The client writes a stream the server reads and never answers:
		// smux v1 sends nothing when it reads (UNANSWERED at 1 s before).
		reg := live.New(live.Config{})
		cli, srv := realPair(t, reg, keepalive(1, 100*time.Millisecond), keepalive(1, 100*time.Millisecond))
		go func() {
			if st, err := srv.AcceptStream(); err == nil {
				io.Copy(io.Discard, st)
			}
		}()
		st, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		go func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(30 * time.Millisecond):
					st.Write([]byte("a log line\n"))
				}
			}
		}()
		codes := evaluateFor(reg, 2500*time.Millisecond, live.FindingsConfig{UnansweredAfter: time.Second, Churn: -1})
		close(stop)
		if len(codes) > 0 {
			t.Errorf("findings %v on a healthy push stream", codes)
		}
	})
	t.Run("v2 stream accepted and not read", func(t *testing.T) {
		// Not healthy, but one fault: WINDOW_STALL names it, and the
		// server, which accepted the stream, is no UNANSWERED (it was,
		// beside it, before).
		reg := live.New(live.Config{})
		cfg := keepalive(2, 100*time.Millisecond)
		cfg.MaxStreamBuffer = 65536
		cli, srv := realPair(t, reg, cfg, cfg)
		go srv.AcceptStream() // and never read
		st, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		go st.Write(make([]byte, 1<<20)) // held at the window until the session closes
		codes := evaluateFor(reg, 2500*time.Millisecond, live.FindingsConfig{UnansweredAfter: time.Second, StallAfter: 200 * time.Millisecond, Churn: -1})
		if !slices.Equal(codes, []string{"WINDOW_STALL"}) {
			t.Errorf("findings %v, want WINDOW_STALL alone", codes)
		}
	})
}
