package headless

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// TestSummaryAfterCountRealSmux: the JSON summary's after_count, on a
// real smux v2 pair, the client tapped, evaluated at the instants the
// test picks, as muxtop's stop could find them. The client opens two
// streams, each with a request the server answers, and closes them; the server never closes
// either: two half-closed streams, idle since the client's FINs. The
// last evaluation before the stop, 100 ms after them, finds no LEAK with
// a 300 ms --leak-after; the summary's leaks line counts none. Then, as
// muxtop stops (Options.Stop), an evaluation 400 ms after the FINs (the
// front end's evaluation tick, racing the stop) opens the LEAK, and the
// pair closes: the summary lists it with "after_count":true, and the
// plain one says "opened as muxtop stopped, after the leaks line's
// count", beside "leaks 0 suspected". The twin whose evaluation at 400 ms
// came before the stop lists the LEAK counted: no after_count, and the
// leaks line counts its 2 streams.
func TestSummaryAfterCountRealSmux(t *testing.T) {
	cfg := live.FindingsConfig{LeakAfter: 300 * time.Millisecond, Churn: -1, BlockedAfter: time.Hour}
	for _, inStop := range []bool{true, false} {
		for _, format := range []Format{Plain, JSON} {
			reg := live.New(live.Config{})
			cli, srv := leakStreams(t, reg, 2, 2)
			var fins time.Time
			smuxtest.Eventually(t, "the client's FINs", func() bool {
				snap := reg.SnapshotWith(live.SnapshotOptions{Streams: func(uint64) bool { return true }})
				if len(snap.Sessions) != 1 || len(snap.Sessions[0].Streams) != 2 {
					return false
				}
				for _, st := range snap.Sessions[0].Streams {
					if st.State != live.HalfClosedByClient {
						return false
					}
					fins = later(fins, st.Last)
				}
				return true
			})
			// at returns the instant d after the FINs, once it has come.
			at := func(d time.Duration) time.Time {
				tm := fins.Add(d)
				time.Sleep(time.Until(tm))
				return tm
			}
			reg.Evaluate(fins.Add(100*time.Millisecond), cfg)
			if !inStop {
				reg.Evaluate(at(400*time.Millisecond), cfg)
			}
			var out bytes.Buffer
			_, err := Finish(&out, reg, Options{Format: format, LeakAfter: cfg.LeakAfter, Stop: func() {
				// As the front end stops: its evaluation tick, then the
				// pair closed, then the findings of the ended session
				// resolved as of the stop.
				if inStop {
					reg.Evaluate(at(400*time.Millisecond), cfg)
				}
				stopAt := reg.Now()
				cli.Close()
				srv.Close()
				smuxtest.Eventually(t, "the session's end", func() bool { return reg.Snapshot().Sessions[0].Ended })
				reg.ResolveEnded(reg.Now(), stopAt)
			}})
			if err != nil {
				t.Fatal(err)
			}
			if format == Plain {
				want := []string{"#1 LEAK warning, session 1, open at the end (muxtop stopped watching): the server never closes its streams: 2 half-closed by the client", "  leaks     2 suspected"}
				if inStop {
					want = []string{"#1 LEAK warning, session 1, opened as muxtop stopped, after the leaks line's count, open at the end (muxtop stopped watching): the server never closes its streams: 2 half-closed by the client", "  leaks     0 suspected"}
				}
				plainSummaryHas(t, out.String(), want...)
				continue
			}
			j := leaksJSON(t, out.Bytes())
			if len(j.Findings) != 1 {
				t.Fatalf("in stop %v: JSON findings %v; want the LEAK", inStop, j.Findings)
			}
			f := j.Findings[0]
			after, _ := f["after_count"].(bool)
			leaks := 2.0
			if inStop {
				leaks = 0
			}
			if f["code"] != "LEAK" || f["count"] != 2.0 || after != inStop || j.Leaks["count"] != leaks {
				t.Errorf("in stop %v: JSON finding %v, leaks %v; want the LEAK of 2 streams, after_count %v, leaks count %v", inStop, f, j.Leaks, inStop, leaks)
			}
		}
	}
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// leakStreams starts a real smux pair of version, keepalive off, its
// client tapped into reg, whose server answers each stream once and never
// closes it, and has the client ask on n streams and close each after
// its answer: n streams the server leaks.
func leakStreams(t *testing.T, reg *live.Registry, version, n int) (cli, srv *smux.Session) {
	t.Helper()
	scfg := smuxtest.Config(version)
	scfg.KeepAliveDisabled = true
	cli, srv = smuxtest.Pair(t, scfg, func(c net.Conn) net.Conn { return tap.Wrap(c, live.Client, reg, "test") }, nil)
	go func() { // the server: answers each stream once, never closes it
		for {
			st, err := srv.AcceptStream()
			if err != nil {
				return
			}
			if _, err := io.ReadFull(st, make([]byte, 4)); err == nil {
				st.Write([]byte("answer!!"))
			}
		}
	}()
	for range n {
		st, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Write([]byte("RAND")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(st, make([]byte, 8)); err != nil {
			t.Fatal(err)
		}
		st.Close() // the client's FIN; the server sends none
	}
	return cli, srv
}
