package tap

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/xtaci/smux"
)

// findingRecords returns reg's FindingOpened and FindingResolved records,
// in order.
func findingRecords(reg *live.Registry) []live.Record {
	var recs []live.Record
	for next := uint64(0); ; {
		rs, n := reg.Frames(live.Query{From: next}, nil)
		for _, r := range rs {
			if r.Kind == live.FindingOpened || r.Kind == live.FindingResolved {
				recs = append(recs, r)
			}
		}
		if n == next {
			return recs
		}
		next = n
	}
}

// recordsSay lists records as "+CODE session" and "-CODE session".
func recordsSay(recs []live.Record) string {
	var b strings.Builder
	for _, r := range recs {
		sign := "+"
		if r.Kind == live.FindingResolved {
			sign = "-"
		}
		b.WriteString(" " + sign + r.Finding.Code.String())
	}
	return strings.TrimSpace(b.String())
}

// waitEnded waits until reg has n sessions, all ended.
func waitEnded(t *testing.T, reg *live.Registry, n int) {
	t.Helper()
	smuxtest.Eventually(t, "the sessions to end", func() bool {
		snap := reg.Snapshot()
		if len(snap.Sessions) != n {
			return false
		}
		for _, ss := range snap.Sessions {
			if !ss.Ended {
				return false
			}
		}
		return true
	})
}

// TestResolveEndedSeesUnevaluatedEnds: a client speaks HTTP to a real
// smux server through the attach proxy; smux says "invalid protocol" and
// the server closes, and the session ends on its own before muxtop's
// stop, with no evaluation after its end (the run stopped inside the
// 100 ms between two, or before the first). Beside it a healthy twin: a
// real smux client that pings and closes. At the stop, ResolveEnded gives
// the HTTP session what the next evaluation would have: its PROTOCOL
// finding, opened and resolved with the session's end, counted in the
// snapshot; the twin has none. Before, ResolveEnded resolved only
// findings already open: the run's summary and metrics said 0 findings,
// the violation in its frames.
func TestResolveEndedSeesUnevaluatedEnds(t *testing.T) {
	for _, evaluated := range []bool{false, true} {
		name := "no evaluation"
		if evaluated {
			name = "evaluated before"
		}
		t.Run(name, func(t *testing.T) {
			up := startUpstream(t, "", serveSmux(1, func(st *smux.Stream) { io.Copy(st, st) }))
			reg := live.New(live.Config{})
			if evaluated {
				reg.Evaluate(time.Now(), live.FindingsConfig{Churn: -1}) // the run's evaluations came before the sessions
			}
			p := startProxy(t, ProxyConfig{Upstream: up.addr(), Registry: reg})

			c := dialProxy(t, p)
			cli, err := smux.Client(c, smuxConfig(1))
			if err != nil {
				t.Fatal(err)
			}
			pingStream(t, cli).Close()
			cli.Close()
			waitEnded(t, reg, 1)

			h := dialProxy(t, p)
			if _, err := h.Write([]byte("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")); err != nil {
				t.Fatal(err)
			}
			h.CloseWrite()
			io.ReadAll(h) // to the server's close: smux refused it
			h.Close()
			waitEnded(t, reg, 2)
			httpID := reg.Snapshot().Sessions[1].ID

			stop := time.Now()
			p.Close()
			reg.ResolveEnded(time.Now(), stop)

			recs := findingRecords(reg)
			if got := recordsSay(recs); got != "+PROTOCOL -PROTOCOL" {
				t.Fatalf("finding records %q, want \"+PROTOCOL -PROTOCOL\": the HTTP session's violation, opened and resolved with its end", got)
			}
			for _, r := range recs {
				if f := r.Finding; f.Session != httpID || f.Dir != live.ClientToServer {
					t.Errorf("%v of session %d dir %v, want the HTTP session %d's client", r.Kind, f.Session, f.Dir, httpID)
				}
			}
			if f := recs[1].Finding; !strings.HasPrefix(f.Why, "the session ended (") || f.Unwatched {
				t.Errorf("resolved %q, unwatched %v; want the session's end: it ended on its own, before the stop", f.Why, f.Unwatched)
			}
			snap := reg.Snapshot()
			if snap.FindingsOpened != 1 || len(snap.Findings) != 0 || len(snap.Unwatched) != 0 ||
				snap.FindingsOpenedBy[live.CodeProtocol][live.Critical]+snap.FindingsOpenedBy[live.CodeProtocol][live.Warning] != 1 {
				t.Errorf("snapshot: %d opened (PROTOCOL %v), %d open, %d unwatched; want one PROTOCOL opened, none open or unwatched",
					snap.FindingsOpened, snap.FindingsOpenedBy[live.CodeProtocol], len(snap.Findings), len(snap.Unwatched))
			}
			// An evaluation after the stop opens and resolves nothing again.
			reg.Evaluate(time.Now().Add(time.Second), live.FindingsConfig{Churn: -1})
			if n := len(findingRecords(reg)); n != 2 {
				t.Errorf("%d finding records after a later evaluation, want 2", n)
			}
		})
	}
}

// TestResolveEndedLateDataBeforeStop: a real smux v1 server answers a
// stream after the client's FIN (DATA_AFTER_CLOSE: smux discards it), and
// the client then closes its session, all before muxtop's stop, with no
// evaluation after the session's end. ResolveEnded counts the late data
// as the next evaluation would: DATA_AFTER_CLOSE opened and resolved.
func TestResolveEndedLateDataBeforeStop(t *testing.T) {
	reg, p, cli, reply := lateReply(t)
	close(reply)
	waitClosed(t, reg)
	cli.Close()
	waitEnded(t, reg, 1)
	stop := time.Now()
	p.Close()
	reg.ResolveEnded(time.Now(), stop)
	recs := findingRecords(reg)
	if got := recordsSay(recs); got != "+DATA_AFTER_CLOSE -DATA_AFTER_CLOSE" {
		t.Fatalf("finding records %q, want DATA_AFTER_CLOSE opened and resolved", got)
	}
	if f := recs[1].Finding; f.Dir != live.ServerToClient || f.Evidence.Count != 1 || f.Unwatched || !strings.HasPrefix(f.Why, "the session ended (") {
		t.Errorf("resolved %v count %d because %q (unwatched %v); want the server's one late frame, resolved with the session's end", f.Dir, f.Evidence.Count, f.Why, f.Unwatched)
	}
}

// TestResolveEndedByTheStopRealSmux: sessions that muxtop's stop ended
// (the attach proxy's shutdown: reason Shutdown) are not evaluated for
// what the shutdown did, but what their records show before the stop
// began is not lost. A reply sent after the client's FIN once the stop
// has begun, which the shutdown then cuts, opens no DATA_AFTER_CLOSE;
// the same reply before the stop opens it, resolved as muxtop stopped
// watching (still holding then). So does a client's HTTP to an upstream
// that reads it and waits, connected until the shutdown: the PROTOCOL
// violation came before the stop. The same HTTP sent after the stop
// began opens nothing.
func TestResolveEndedByTheStopRealSmux(t *testing.T) {
	t.Run("late reply after the stop", func(t *testing.T) {
		reg, p, _, reply := lateReply(t)
		stop := time.Now()
		close(reply)
		waitClosed(t, reg)
		p.Close()
		endedByTheStop(t, reg)
		reg.ResolveEnded(time.Now(), stop)
		if got := recordsSay(findingRecords(reg)); got != "" {
			t.Errorf("finding records %q, want none: the late reply came as muxtop stopped", got)
		}
	})
	t.Run("late reply before the stop", func(t *testing.T) {
		reg, p, _, reply := lateReply(t)
		close(reply)
		waitClosed(t, reg)
		stop := time.Now()
		p.Close()
		endedByTheStop(t, reg)
		reg.ResolveEnded(time.Now(), stop)
		recs := findingRecords(reg)
		if got := recordsSay(recs); got != "+DATA_AFTER_CLOSE -DATA_AFTER_CLOSE" {
			t.Fatalf("finding records %q, want DATA_AFTER_CLOSE opened and resolved", got)
		}
		if f := recs[1].Finding; !f.Unwatched || !strings.HasPrefix(f.Why, "muxtop stopped watching (shutdown)") {
			t.Errorf("resolved because %q (unwatched %v); want muxtop's stop", f.Why, f.Unwatched)
		}
		if snap := reg.Snapshot(); len(snap.Unwatched) != 1 {
			t.Errorf("%d unwatched, want 1", len(snap.Unwatched))
		}
	})
	for _, after := range []bool{false, true} {
		name := "HTTP before the stop"
		if after {
			name = "HTTP after the stop"
		}
		t.Run(name, func(t *testing.T) {
			up := startUpstream(t, "", func(c net.Conn) { io.Copy(io.Discard, c) })
			reg := live.New(live.Config{})
			p := startProxy(t, ProxyConfig{Upstream: up.addr(), Registry: reg})
			h := dialProxy(t, p)
			smuxtest.Eventually(t, "the session", func() bool { return len(reg.Snapshot().Sessions) == 1 })
			var stop time.Time
			if after {
				stop = time.Now()
			}
			const req = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"
			if _, err := h.Write([]byte(req)); err != nil {
				t.Fatal(err)
			}
			smuxtest.Eventually(t, "the violation", func() bool { return len(reg.Snapshot().Sessions[0].Framing) == 1 })
			if !after {
				stop = time.Now()
			}
			p.Close()
			endedByTheStop(t, reg)
			reg.ResolveEnded(time.Now(), stop)
			recs := findingRecords(reg)
			want := "+PROTOCOL -PROTOCOL"
			if after {
				want = ""
			}
			if got := recordsSay(recs); got != want {
				t.Fatalf("finding records %q, want %q", got, want)
			}
			if after {
				return
			}
			if f := recs[1].Finding; !f.Unwatched || !strings.HasPrefix(f.Why, "muxtop stopped watching (shutdown)") {
				t.Errorf("resolved because %q (unwatched %v); want muxtop's stop", f.Why, f.Unwatched)
			}
		})
	}
}

// lateReply starts a real smux v1 server behind the attach proxy, whose
// handler reads a stream to the client's FIN and answers once reply is
// closed, and a real smux client that opens a stream, writes its request
// and closes it: it returns once the proxy has recorded the client's FIN.
func lateReply(t *testing.T) (*live.Registry, *Proxy, *smux.Session, chan struct{}) {
	t.Helper()
	reply := make(chan struct{})
	up := startUpstream(t, "", serveSmux(1, func(st *smux.Stream) {
		io.Copy(io.Discard, st)
		<-reply
		st.Write([]byte("the reply, after the client's FIN"))
	}))
	reg := live.New(live.Config{})
	p := startProxy(t, ProxyConfig{Upstream: up.addr(), Registry: reg})
	c := dialProxy(t, p)
	cli, err := smux.Client(c, smuxConfig(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	openStream(t, cli, "RAND").Close()
	smuxtest.Eventually(t, "the client's FIN", func() bool {
		return streamState(reg) == live.HalfClosedByClient
	})
	return reg, p, cli, reply
}

// waitClosed waits until reg's one stream is closed both ways: the late
// reply and the server's FIN recorded.
func waitClosed(t *testing.T, reg *live.Registry) {
	t.Helper()
	smuxtest.Eventually(t, "the reply and the server's FIN", func() bool { return streamState(reg) == live.Closed })
}

// streamState returns the state of reg's one session's one stream, or 0.
func streamState(reg *live.Registry) live.State {
	snap := reg.SnapshotWith(live.SnapshotOptions{Streams: func(uint64) bool { return true }})
	if len(snap.Sessions) != 1 || len(snap.Sessions[0].Streams) != 1 {
		return 0
	}
	return snap.Sessions[0].Streams[0].State
}

// endedByTheStop checks that reg's one session ended by the proxy's
// shutdown.
func endedByTheStop(t *testing.T, reg *live.Registry) {
	t.Helper()
	snap := reg.Snapshot()
	if len(snap.Sessions) != 1 || !snap.Sessions[0].Ended || snap.Sessions[0].Reason != live.Shutdown {
		t.Fatalf("sessions %d, want one ended by the shutdown", len(snap.Sessions))
	}
}
