package live_test

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/livecaptest"
	"github.com/muxtop/muxtop/live"
)

// kaPair starts name's session over loopback TCP, its client's conn
// tapped into reg; ka 0 keeps keepalive off on both ends, else it is on
// with interval ka (and a minute before either gives up).
func kaPair(t *testing.T, name string, reg *live.Registry, ka time.Duration) livecaptest.Pair {
	t.Helper()
	return livecaptest.RealPair(t, name, reg, livecaptest.PairConfig{Keepalive: ka, GiveUp: time.Minute})
}

// evalFor evaluates reg every 50 ms for d.
func evalFor(reg *live.Registry, cfg live.FindingsConfig, d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); {
		reg.Evaluate(time.Now(), cfg)
		time.Sleep(50 * time.Millisecond)
	}
}

// acceptRead accepts n streams on m's server and reads each one's request.
func acceptRead(t *testing.T, m livecaptest.Pair, n int) []net.Conn {
	t.Helper()
	var out []net.Conn
	for range n {
		st, err := m.Srv.AcceptStream()
		if err != nil {
			t.Error(err)
			return out
		}
		io.ReadFull(st, make([]byte, len("REQ 0\n")))
		out = append(out, st)
	}
	return out
}

// silentRecords returns reg's FindingOpened and FindingResolved records
// of code with Evidence.Silent.
func silentRecords(reg *live.Registry, code live.FindingCode) (opened, resolved []live.Record) {
	for _, r := range allRecords(reg) {
		if r.Finding == nil || r.Finding.Code != code || !r.Finding.Evidence.Silent {
			continue
		}
		switch r.Kind {
		case live.FindingOpened:
			opened = append(opened, r)
		case live.FindingResolved:
			resolved = append(resolved, r)
		}
	}
	return
}

var silentFixCfg = live.FindingsConfig{LeakAfter: time.Second, UnansweredAfter: 300 * time.Millisecond, Churn: -1}

// TestSilentResolvedSpokeFirst: on real smux v1, v2 and yamux sessions,
// keepalive off, UNANSWERED of a silent side opens for the client's 2
// requests; then, before the next evaluation, the server answers both,
// the client reads the answers, closes its streams and CloseWrites its
// conn. The finding resolves saying the server sent something, not that
// whether the client still waits is not known with the server silent.
// (yamux's server ends the session at the client's EOF, which says so.)
func TestSilentResolvedSpokeFirst(t *testing.T) {
	for _, name := range []string{"smux-v1", "smux-v2"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			reg := live.New(live.Config{})
			m := kaPair(t, name, reg, 0)
			clients := requests(t, m, 2)
			time.Sleep(1600 * time.Millisecond)
			reg.Evaluate(time.Now(), silentFixCfg)
			if o, _ := silentRecords(reg, live.CodeUnanswered); len(o) != 1 {
				t.Fatalf("want one UNANSWERED of a silent side open, got %d:%s", len(o), silentFindings(reg))
			}
			for _, st := range acceptRead(t, m, 2) {
				io.WriteString(st, "OK\n")
				st.Close()
			}
			for _, st := range clients {
				io.ReadFull(st, make([]byte, 3))
				st.Close()
			}
			time.Sleep(100 * time.Millisecond)
			m.Tapped.CloseWrite()
			time.Sleep(100 * time.Millisecond)
			reg.Evaluate(time.Now(), silentFixCfg)
			_, r := silentRecords(reg, live.CodeUnanswered)
			if len(r) != 1 {
				t.Fatalf("want it resolved, got %d resolutions:%s", len(r), silentFindings(reg))
			}
			if d := r[0].Detail; !strings.Contains(d, "the server sent something") || strings.Contains(d, "not known") || strings.Contains(d, "silent, holds") {
				t.Errorf("resolution %q: want the server sent something, nothing of a silent server holding the session", d)
			}
		})
	}
}

// TestSilentV1RewriteHolds: on a real smux v1 session, keepalive off, the
// server accepts the client's 2 streams and reads them, never writing
// (a v1 reader sends nothing); --leak-after 2 s. The client writes again
// on its oldest stream every 0.6 s after UNANSWERED of a silent side
// opened, which in v1 restarts that stream's wait. The server stays
// silent throughout: the finding opens once and holds, on the other
// stream, which has waited --unanswered-after and more, though not
// --leak-after (that is for opening). Before, it resolved and reopened.
func TestSilentV1RewriteHolds(t *testing.T) {
	t.Parallel() // real time on sessions of its own
	reg := live.New(live.Config{})
	cfg := live.FindingsConfig{LeakAfter: 2 * time.Second, UnansweredAfter: 300 * time.Millisecond, Churn: -1}
	m := kaPair(t, "smux-v1", reg, 0)
	a := requests(t, m, 1)[0]
	t0 := time.Now()
	go func() {
		for range 2 {
			st, err := m.Srv.AcceptStream()
			if err != nil {
				return
			}
			go io.Copy(io.Discard, st) // reads, never writes
		}
	}()
	time.Sleep(1200 * time.Millisecond)
	requests(t, m, 1)
	for _, at := range []time.Duration{2200, 2800, 3400} {
		for time.Since(t0) < at*time.Millisecond {
			reg.Evaluate(time.Now(), cfg)
			time.Sleep(50 * time.Millisecond)
		}
		io.WriteString(a, "more\n")
	}
	evalFor(reg, cfg, 1500*time.Millisecond)
	o, r := silentRecords(reg, live.CodeUnanswered)
	if len(o) != 1 || len(r) != 0 {
		for _, x := range append(o, r...) {
			t.Logf("%v %s: %s", x.Kind, x.Finding.Text, x.Detail)
		}
		t.Fatalf("UNANSWERED of a silent side opened %d times and resolved %d times with the server silent throughout; want it opened once and held", len(o), len(r))
	}
}

// TestSilentKeepaliveNotSeenYetReal: on real smux v1, v2 and yamux
// sessions with keepalive ON every 4 s, longer than --leak-after (1 s),
// a healthy slow handler answers the client's request 2.5 s late. Before
// the first NOP or ping muxtop cannot tell keepalive on: UNANSWERED of a
// silent side may open, but as a warning (a guess between stuck and
// slow), saying muxtop has seen no keepalive (yet), never that there is
// none on the session. Before, it was critical and said "no keepalive on
// the session shows whether it is alive".
func TestSilentKeepaliveNotSeenYetReal(t *testing.T) {
	t.Parallel() // real time on sessions of its own
	for _, name := range []string{"smux-v1", "smux-v2", "yamux"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			reg := live.New(live.Config{})
			m := kaPair(t, name, reg, 4*time.Second)
			time.Sleep(1200 * time.Millisecond) // past NOPLateness
			clients := requests(t, m, 1)
			go func() {
				time.Sleep(2500 * time.Millisecond)
				for _, st := range acceptRead(t, m, 1) {
					io.WriteString(st, "OK\n")
					st.Close()
				}
			}()
			evalFor(reg, silentFixCfg, 3*time.Second)
			io.ReadFull(clients[0], make([]byte, 3))
			clients[0].Close()
			evalFor(reg, silentFixCfg, 500*time.Millisecond)
			o, _ := silentRecords(reg, live.CodeUnanswered)
			for _, r := range o {
				f := r.Finding
				if f.Severity != live.Warning || !strings.Contains(f.Text, "muxtop has seen no keepalive") || !strings.Contains(f.Text, "(yet)") {
					t.Errorf("%v %s: want a warning saying muxtop has seen no keepalive (yet)", f.Severity, f.Text)
				}
				if !strings.Contains(f.Text, "unless the protocol holds an answer back by design (a long poll)") ||
					name != "yamux" && !strings.Contains(f.Text, "or it does not accept them (AcceptStream)") {
					t.Errorf("%s: want the long poll's caveat, and in smux a server that does not accept them", f.Text)
				}
			}
			if len(o) == 0 {
				t.Logf("no UNANSWERED of a silent side opened")
			}
		})
	}
}

// TestSilentOneFindingPerDirectionReal: on real smux v1, v2 and yamux
// sessions, keepalive off, the client reuses 3 streams for calls the
// server answers, then the server stops: a last call on each hangs, and
// 2 new streams' requests wait. One stopped server is one finding: an
// UNANSWERED of a silent side, the reused streams' silent NO_REPLYs
// folded into it. Before, 4 opened (UNANSWERED and 3 NO_REPLYs).
func TestSilentOneFindingPerDirectionReal(t *testing.T) {
	t.Parallel() // real time on sessions of its own
	for _, name := range []string{"smux-v1", "smux-v2", "yamux"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			reg := live.New(live.Config{})
			m := kaPair(t, name, reg, 0)
			var rs [3][2]net.Conn
			for i := range rs {
				c, err := m.Cli.OpenStream()
				if err != nil {
					t.Fatal(err)
				}
				io.WriteString(c, "H")
				s, err := m.Srv.AcceptStream()
				if err != nil {
					t.Fatal(err)
				}
				io.ReadFull(s, make([]byte, 1))
				rs[i] = [2]net.Conn{c, s}
			}
			// The client thinks 60 ms between its rounds of calls, and
			// 100 ms before its hung call, or 3 times the slowest call so
			// far if longer: NO_REPLY takes a
			// stream's opener for the requester only where its pause is
			// more than ThinkFactor times its slowest answer, and a
			// loaded machine's answer over 30 ms made the reused streams
			// no candidates, and the test pass with nothing to fold.
			var slowest time.Duration
			for range 3 {
				time.Sleep(max(60*time.Millisecond, 3*slowest))
				for i := range rs {
					start := time.Now()
					send(t, rs[i][0], rs[i][1], "call")
					send(t, rs[i][1], rs[i][0], "ans")
					slowest = max(slowest, time.Since(start))
				}
			}
			time.Sleep(max(100*time.Millisecond, 3*slowest)) // the pause that lists the hung call
			for i := range rs {
				io.WriteString(rs[i][0], "hung call")
			}
			requests(t, m, 2)
			evalFor(reg, silentFixCfg, 2500*time.Millisecond)
			var open []string
			for _, f := range reg.Snapshot().Findings {
				open = append(open, f.Code.String()+": "+f.Text)
			}
			if len(open) != 1 || !strings.HasPrefix(open[0], "UNANSWERED") {
				t.Fatalf("%d open for one stopped server, want its UNANSWERED alone:\n%s", len(open), strings.Join(open, "\n"))
			}
		})
	}
}

// TestSilentYamuxManualPingReal: on a real yamux session, keepalive off,
// the application's one Session.Ping() is no keepalive. before: a ping
// answered, then the server stops (its conn's reads and writes): the
// client's requests still get UNANSWERED of a silent side. after: a ping
// while that finding is open leaves it to the ping's own wait, and
// nothing says keepalive is on or pings come at a cadence. Before, the
// ping turned the rule off: nothing opened at all, or the finding
// resolved saying "keepalive is on" and KEEPALIVE said "pings came every".
func TestSilentYamuxManualPingReal(t *testing.T) {
	t.Parallel() // real time on sessions of its own
	for _, when := range []string{"before", "after"} {
		t.Run(when, func(t *testing.T) {
			t.Parallel()
			reg := live.New(live.Config{})
			m, sc := quietPair(t, "yamux", reg, false, false)
			cli := m.YamuxCli
			time.Sleep(1200 * time.Millisecond)
			if when == "before" {
				if _, err := cli.Ping(); err != nil {
					t.Fatal(err)
				}
			}
			sc.reads.Store(true)
			sc.writes.Store(true)
			requests(t, m, 2)
			evalFor(reg, silentFixCfg, 2000*time.Millisecond)
			if o, _ := silentRecords(reg, live.CodeUnanswered); len(o) != 1 {
				t.Fatalf("UNANSWERED of a silent side opened %d times, want once:%s", len(o), silentFindings(reg))
			}
			if when == "after" {
				go cli.Ping()
				evalFor(reg, silentFixCfg, 7000*time.Millisecond)
			}
			for _, r := range allRecords(reg) {
				if r.Finding == nil {
					continue
				}
				if strings.Contains(r.Detail, "keepalive is on") || strings.Contains(r.Finding.Text, "pings came every") {
					t.Errorf("%v %s: %s — %s; keepalive is off", r.Kind, r.Finding.Code, r.Finding.Text, r.Detail)
				}
			}
		})
	}
}
