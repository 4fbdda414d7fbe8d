package live_test

import (
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/livecaptest"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// A side that sends nothing at all while streams wait for it, with
// keepalive off: UNANSWERED (or NO_REPLY) of a silent side, once the
// oldest request has waited --leak-after (conditions.go). Before, a
// stream whose other side had sent nothing since its request was
// excused from LEAK (a slow handler, a stuck process and a forgotten
// Close look alike) and UNANSWERED and NO_REPLY wanted that side to have
// sent something since: a server that stopped with keepalive off left
// its clients' requests waiting with no finding at all.

// stopConn is a conn whose reads, and writes, wait once stopped until
// free is called: a server process stopped, or one whose session reader
// stopped.
type stopConn struct {
	net.Conn
	reads, writes atomic.Bool
	release       chan struct{}
	once          sync.Once
}

func (c *stopConn) Read(p []byte) (int, error) {
	if c.reads.Load() {
		<-c.release
	}
	return c.Conn.Read(p)
}

func (c *stopConn) Write(p []byte) (int, error) {
	if c.writes.Load() {
		<-c.release
	}
	return c.Conn.Write(p)
}

func (c *stopConn) free() { c.once.Do(func() { close(c.release) }) }

// quietPair starts name's session ("smux-v1", "smux-v2", "yamux") over
// loopback TCP, its client's conn tapped into reg, its server's conn a
// stopConn whose reads are stopped from the start if stopReads. With ka,
// both ends keep keepalive on every 100 ms (and wait a minute before
// they give up on the other); else it is off.
func quietPair(t *testing.T, name string, reg *live.Registry, ka, stopReads bool) (livecaptest.Pair, *stopConn) {
	t.Helper()
	var sc *stopConn
	cfg := livecaptest.PairConfig{GiveUp: time.Minute, WrapServer: func(raw net.Conn) net.Conn {
		sc = &stopConn{Conn: raw, release: make(chan struct{})}
		sc.reads.Store(stopReads)
		return sc
	}}
	if ka {
		cfg.Keepalive = 100 * time.Millisecond
	}
	m := livecaptest.RealPair(t, name, reg, cfg)
	t.Cleanup(sc.free) // first: a stopped read or write lets go before the sessions close
	return m, sc
}

// requests opens n streams on m's client and writes a request on each.
func requests(t *testing.T, m livecaptest.Pair, n int) []net.Conn {
	t.Helper()
	var sts []net.Conn
	for i := range n {
		st, err := m.Cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fmt.Fprintf(st, "REQ %d\n", i); err != nil {
			t.Fatal(err)
		}
		sts = append(sts, st)
	}
	return sts
}

// asked waits until reg holds name's n streams, each with its request,
// and returns when the oldest was asked (smux: its request's frame, the
// stream's latest; yamux: its SYN, whose acceptor ACKs) and when the
// session started. With silent, it fails t where the server sent anything.
func asked(t *testing.T, reg *live.Registry, name string, n int, silent bool) (since, start time.Time) {
	t.Helper()
	smuxtest.Eventually(t, "the requests recorded", func() bool {
		ss := reg.Snapshot().Sessions
		if len(ss) != 1 || len(ss[0].Streams) != n {
			return false
		}
		since = time.Time{}
		for _, st := range ss[0].Streams {
			if st.Bytes[live.ClientToServer] != uint64(len("REQ 0\n")) {
				return false
			}
			at := st.Last
			if name == "yamux" {
				at = st.First
			}
			if since.IsZero() || at.Before(since) {
				since = at
			}
		}
		start = ss[0].Start
		return true
	})
	if got := reg.Snapshot().Sessions[0].Counts.FramesDir(live.ServerToClient); silent && got != 0 {
		t.Fatalf("the server sent %d frames; the fault wants none", got)
	}
	return since, start
}

// silentDue is when UNANSWERED of a silent side is due for a request at
// since: --leak-after after it (here longer than --unanswered-after), and
// in yamux before any ping, for a request within NOPLateness of the
// session's start, NOPLateness later (the first ping would show keepalive
// on).
func silentDue(name string, since, start time.Time, cfg live.FindingsConfig) time.Time {
	due := since.Add(cfg.LeakAfter)
	if name == "yamux" && since.Sub(start) < live.NOPLateness {
		due = due.Add(live.NOPLateness)
	}
	return due
}

// silentFindings lists the open findings for a failure message.
func silentFindings(reg *live.Registry) string {
	var b strings.Builder
	for _, f := range reg.Snapshot().Findings {
		fmt.Fprintf(&b, "\n  %s dir %v stream %d count %d since %v: %s — %s", f.Code, f.Dir, f.Stream, f.Evidence.Count, f.Since, f.Text, f.Advice)
	}
	return b.String()
}

// TestSilentServerUnansweredReal: on real smux v1, v2 and hashicorp/yamux
// sessions, keepalive off, the client's conn tapped, the client sends 3
// requests, each on a stream of its own, and the server sends nothing at
// all: its handlers are stuck (smux v1: it accepts each stream and reads
// its request, which sends nothing in v1; v2: it accepts them and never
// reads, which would send a UPD; yamux: its accept loop is stuck, no ACK)
// or its conn's reads stop from the start. Nothing opens before the
// oldest request has waited --leak-after (1 s here, --unanswered-after
// 0.5 s); at it, one UNANSWERED of the client's 3 streams since that
// request, saying the server has sent nothing at all since and advising
// a goroutine dump, and no LEAK beside it, however long after. Where the
// handlers go on and answer, it resolves saying the server sent
// something. Before, no finding at all opened.
func TestSilentServerUnansweredReal(t *testing.T) {
	const n = 3
	cfg := live.FindingsConfig{LeakAfter: time.Second, UnansweredAfter: 500 * time.Millisecond, Churn: -1}
	for _, name := range []string{"smux-v1", "smux-v2", "yamux"} {
		for _, fault := range []string{"handlers", "reads"} {
			t.Run(name+"/"+fault, func(t *testing.T) {
				reg := live.New(live.Config{})
				m, _ := quietPair(t, name, reg, false, fault == "reads")
				clients := requests(t, m, n)
				var served []net.Conn
				switch {
				case fault == "reads":
				case name == "yamux":
					smuxtest.Eventually(t, "the server's session read the SYNs", func() bool { return m.Streams() == n })
				default:
					for range n {
						st, err := m.Srv.AcceptStream()
						if err != nil {
							t.Fatal(err)
						}
						if name == "smux-v1" {
							if _, err := io.ReadFull(st, make([]byte, len("REQ 0\n"))); err != nil {
								t.Fatal(err)
							}
						}
						served = append(served, st)
					}
				}
				since, start := asked(t, reg, name, n, true)
				due := silentDue(name, since, start, cfg)
				for at := since.Add(100 * time.Millisecond); at.Before(due); at = at.Add(100 * time.Millisecond) {
					reg.Evaluate(at, cfg)
					if fs := reg.Snapshot().Findings; len(fs) != 0 {
						t.Fatalf("%v after the oldest request, before --leak-after:%s", at.Sub(since), silentFindings(reg))
					}
				}
				reg.Evaluate(due.Add(-time.Millisecond), cfg)
				if fs := reg.Snapshot().Findings; len(fs) != 0 {
					t.Fatalf("a millisecond before it is due:%s", silentFindings(reg))
				}
				for _, at := range []time.Time{due.Add(time.Millisecond), due.Add(5 * cfg.LeakAfter)} {
					reg.Evaluate(at, cfg)
					fs := reg.Snapshot().Findings
					if len(fs) != 1 || fs[0].Code != live.CodeUnanswered || !fs[0].HasDir || fs[0].Dir != live.ClientToServer ||
						fs[0].Evidence.Count != n || !fs[0].Since.Equal(since) || fs[0].Severity != live.Warning ||
						!strings.Contains(fs[0].Text, "; the server has sent nothing at all since that") ||
						!strings.Contains(fs[0].Text, "muxtop has seen no keepalive") || strings.Contains(fs[0].Text, "not accepting") ||
						!strings.HasPrefix(fs[0].Advice, "take a goroutine dump of the server (SIGQUIT") {
						t.Fatalf("%v after the oldest request, the server silent since, keepalive off: findings%s\nwant one UNANSWERED of the client's %d streams since %v, the server silent",
							at.Sub(since), silentFindings(reg), n, since)
					}
				}
				if fault == "reads" {
					return
				}
				// The handlers go on: the server answers each request and
				// closes, the client reads the answer and closes.
				if name == "yamux" {
					for range n {
						st, err := m.Srv.AcceptStream()
						if err != nil {
							t.Fatal(err)
						}
						served = append(served, st)
					}
				}
				for i, st := range served {
					fmt.Fprintf(st, "OK %d\n", i)
					st.Close()
				}
				for _, st := range clients {
					if _, err := io.ReadFull(st, make([]byte, len("OK 0\n"))); err != nil {
						t.Fatal(err)
					}
					st.Close()
				}
				smuxtest.Eventually(t, "the answers and closes recorded", func() bool {
					ss := reg.Snapshot().Sessions
					return len(ss) == 1 && ss[0].Open == 0
				})
				reg.Evaluate(due.Add(6*cfg.LeakAfter), cfg)
				recs := findingRecords(reg)
				if len(recs) != 2 || recs[0].Finding.Code != live.CodeUnanswered || recs[1].Kind != live.FindingResolved ||
					recs[1].Detail != "the server sent something on the session: it is not stopped; the streams got an answer, or closed" {
					t.Fatalf("records:%s\nresolved %q", describeRecords(recs), recs[len(recs)-1].Detail)
				}
			})
		}
	}
}

// TestSilentServerSlowHandlerHealthyReal: the healthy twin of
// TestSilentServerUnansweredReal, on the same sessions, keepalive off:
// the server's handlers are slow and answer, and close, within
// --leak-after of the requests, having sent nothing until then.
// Evaluated while they wait, up to a millisecond before --leak-after, and
// after, long after: no finding at all.
func TestSilentServerSlowHandlerHealthyReal(t *testing.T) {
	const n = 3
	cfg := live.FindingsConfig{LeakAfter: time.Second, UnansweredAfter: 500 * time.Millisecond, Churn: -1}
	for _, name := range []string{"smux-v1", "smux-v2", "yamux"} {
		t.Run(name, func(t *testing.T) {
			reg := live.New(live.Config{})
			m, _ := quietPair(t, name, reg, false, false)
			clients := requests(t, m, n)
			if name == "yamux" {
				smuxtest.Eventually(t, "the server's session read the SYNs", func() bool { return m.Streams() == n })
			}
			since, start := asked(t, reg, name, n, true)
			due := silentDue(name, since, start, cfg)
			for at := since.Add(100 * time.Millisecond); at.Before(due); at = at.Add(100 * time.Millisecond) {
				reg.Evaluate(at, cfg)
			}
			reg.Evaluate(due.Add(-time.Millisecond), cfg)
			for range n {
				st, err := m.Srv.AcceptStream()
				if err != nil {
					t.Fatal(err)
				}
				if _, err := io.ReadFull(st, make([]byte, len("REQ 0\n"))); err != nil {
					t.Fatal(err)
				}
				io.WriteString(st, "OK\n")
				st.Close()
			}
			for _, st := range clients {
				if _, err := io.ReadFull(st, make([]byte, len("OK\n"))); err != nil {
					t.Fatal(err)
				}
				st.Close()
			}
			smuxtest.Eventually(t, "the answers and closes recorded", func() bool {
				ss := reg.Snapshot().Sessions
				return len(ss) == 1 && ss[0].Open == 0
			})
			for at := due; at.Before(due.Add(10 * cfg.LeakAfter)); at = at.Add(100 * time.Millisecond) {
				reg.Evaluate(at, cfg)
			}
			if recs := findingRecords(reg); len(recs) != 0 {
				t.Fatalf("a slow handler that answered within --leak-after:%s", describeRecords(recs))
			}
		})
	}
}

// TestSilentServerKeepaliveOnReal: where keepalive is on, a server that
// stops (its conn's reads and writes stop, as a SIGSTOPped process's)
// while its client's requests wait is KEEPALIVE's, as before, and only
// KEEPALIVE's: no UNANSWERED of a silent side beside it for the same
// silence, nor LEAK. On real smux v1, v2 and hashicorp/yamux sessions,
// keepalive every 100 ms at both ends until the server stops, evaluated
// at the machine's clock.
func TestSilentServerKeepaliveOnReal(t *testing.T) {
	t.Parallel() // real time on sessions of its own
	const n = 3
	cfg := live.FindingsConfig{LeakAfter: time.Second, UnansweredAfter: 500 * time.Millisecond, Churn: -1}
	for _, name := range []string{"smux-v1", "smux-v2", "yamux"} {
		t.Run(name, func(t *testing.T) {
			reg := live.New(live.Config{})
			m, sc := quietPair(t, name, reg, true, false)
			smuxtest.Eventually(t, "the server's keepalive seen", func() bool {
				ss := reg.Snapshot().Sessions
				return len(ss) == 1 && ss[0].Counts.FramesDir(live.ServerToClient) >= 3
			})
			sc.writes.Store(true)
			sc.reads.Store(true)
			time.Sleep(300 * time.Millisecond) // what was on its way is recorded
			requests(t, m, n)
			since, _ := asked(t, reg, name, n, false)
			// At the machine's clock, as a front end evaluates: the
			// client's keepalive goes on in real time. KEEPALIVE is due
			// 1.1 s after the server's last NOP in smux, 5 s after the
			// client's ping it has not answered in yamux; UNANSWERED of
			// a silent side would be 1 s after the requests.
			wait := 3 * time.Second
			if name == "yamux" {
				wait = 6 * time.Second
			}
			for time.Since(since) < wait {
				reg.Evaluate(time.Now(), cfg)
				time.Sleep(100 * time.Millisecond)
			}
			recs := findingRecords(reg)
			keepalive := false
			for _, r := range recs {
				f := r.Finding
				if f.Code != live.CodeKeepalive || f.Dir != live.ServerToClient {
					t.Errorf("%s %s: %s", r.Kind, f.Code, f.Text)
				}
				keepalive = keepalive || r.Kind == live.FindingOpened
			}
			if !keepalive {
				t.Errorf("no KEEPALIVE of the stopped server:%s", describeRecords(recs))
			}
		})
	}
}

// TestSilentAcceptorNoReplyReal: the dispensed plugin's stream of a
// go-plugin host (pluginHost, keepalive off), on real smux v1, v2 and
// yamux sessions, carries three calls answered at once; the fourth, at
// 2 s, gets no answer for 18 s, and the plugin sends nothing at all
// meanwhile (no log line: its process stopped, or every handler waits).
// One NO_REPLY of a silent side, of that stream, opened at the first
// evaluation --leak-after (10 s) after the request, saying the plugin has
// sent nothing at all since; resolved as the answer comes, saying how
// late; no LEAK. Before, nothing opened: NO_REPLY wanted the plugin to
// send something on the session since the request.
func TestSilentAcceptorNoReplyReal(t *testing.T) {
	t.Parallel() // a virtual clock, but quiet() waits in real time
	for _, m := range realMuxes() {
		t.Run(m.name, func(t *testing.T) {
			h := newReplyHost(t, m.mux)
			h.cfg.LeakAfter = 10 * time.Second
			h.at(2)
			send(t, h.plugin[0], h.plugin[1], "Plugin.Get k9")
			h.at(20)
			send(t, h.plugin[1], h.plugin[0], "v9")
			h.at(21)
			recs := findingRecords(h.reg)
			if len(recs) != 2 || recs[0].Finding.Code != live.CodeNoReply || recs[1].Kind != live.FindingResolved {
				t.Fatalf("want NO_REPLY opened and resolved:%s", describeRecords(recs))
			}
			f := recs[0].Finding
			sid := streamID(h.plugin[0])
			opens := sec(12)
			if f.Since.After(sec(2)) {
				opens = sec(12.5)
			}
			want := fmt.Sprintf("stream %d: the client's request, sent %s ago, has no answer; the server answered the 3 earlier ones on this stream within", sid, live.FormatAge(opens.Sub(f.Since)))
			if f.Stream != sid || f.Dir != live.ClientToServer || !recs[0].At.Equal(opens) || f.Evidence.Limit != 10*time.Second ||
				!strings.HasPrefix(f.Text, want) || !strings.Contains(f.Text, "and has sent nothing at all on the session since the request") ||
				!strings.Contains(f.Advice, "goroutine dump of the server") {
				t.Errorf("NO_REPLY of stream %d dir %v opened at %v, limit %v: %q — %q\nwant stream %d, c2s, at %v, limit 10 s, the text to begin %q",
					f.Stream, f.Dir, recs[0].At, f.Evidence.Limit, f.Text, f.Advice, sid, opens, want)
			}
			if r := recs[1]; !r.At.Equal(sec(20.5)) || !strings.HasPrefix(r.Detail, "the server answered, 18 s after the request") {
				t.Errorf("resolved at %v: %q; want at 20.5 s, \"the server answered, 18 s after the request …\"", r.At, r.Detail)
			}
		})
	}
}
