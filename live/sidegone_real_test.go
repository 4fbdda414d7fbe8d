package live_test

import (
	"bufio"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// A finding about a side that has gone: a side of a real smux session
// leaves (its raw conn closes, as its process's does when it is killed:
// no stream FIN, no session close) while WINDOW_STALL, UNANSWERED or
// NO_REPLY holds of it; the staying side is tapped, and its tap reads
// the EOF (DirectionEnded). The finding resolves saying that side closed
// its side of the connection, and nothing opens of what its leaving
// changed. Found by audit1 in captures of smux programs whose client was
// SIGKILLed: a WINDOW_STALL resolved "the window opened (a UPD)" with no
// UPD on the wire, a critical UNANSWERED opened as the writers it held
// went, and another stayed open for ever after the client had left. The
// healthy twins: the side stays, and the finding holds.

// goneConfig is the findings' config of these tests: each threshold
// well inside the fake clock's steps (Evaluate's explicit now).
var goneConfig = live.FindingsConfig{StallAfter: time.Second, UnansweredAfter: time.Second, LeakAfter: time.Hour, CloseWaitAfter: time.Hour, Churn: -1}

// gonePair returns a real smux pair of version, keepalive off (the
// evaluations' clock runs ahead of real time), over loopback TCP, the
// tapped side's conn tapped into reg; and the raw conn of each side, the
// leaver's to close.
func gonePair(t *testing.T, reg *live.Registry, version int, tapped live.Side) (cli, srv *smux.Session, raw map[live.Side]net.Conn) {
	t.Helper()
	return gonePairOn(t, reg, version, tapped, smuxtest.Conns)
}

// gonePairOn is gonePair over the conns conns makes (net.Pipe's, say).
func gonePairOn(t *testing.T, reg *live.Registry, version int, tapped live.Side, conns func(testing.TB) (net.Conn, net.Conn)) (cli, srv *smux.Session, raw map[live.Side]net.Conn) {
	t.Helper()
	cc, sc := conns(t)
	raw = map[live.Side]net.Conn{live.Client: cc, live.Server: sc}
	if tapped == live.Server {
		sc = tap.Wrap(sc, live.Server, reg, "srv")
	} else {
		cc = tap.Wrap(cc, live.Client, reg, "cli")
	}
	cfg := smuxtest.Config(version)
	cfg.KeepAliveDisabled = true
	var err error
	if srv, err = smux.Server(sc, cfg); err != nil {
		t.Fatal(err)
	}
	if cli, err = smux.Client(cc, cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close(); srv.Close() })
	return cli, srv, raw
}

// serverSpeaks has the server open a stream of its own and say hello on
// it, which the client reads and answers: the server still sends on the
// session (UNANSWERED's and NO_REPLY's "while the server still sends"),
// and its stream waits for nothing. It returns once reg has recorded the
// answer.
func serverSpeaks(t *testing.T, reg *live.Registry, cli, srv *smux.Session) {
	t.Helper()
	st, err := srv.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(st, "hello"); err != nil {
		t.Fatal(err)
	}
	got, err := cli.AcceptStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(got, make([]byte, 5)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(got, "ok"); err != nil {
		t.Fatal(err)
	}
	smuxtest.Eventually(t, "the client's answer to the server's hello recorded", func() bool {
		return streamSnap(reg, st.ID(), func(s live.StreamSnap) bool { return s.Bytes[live.ClientToServer] == 2 })
	})
}

// streamSnap says whether reg's one session has stream sid, and cond holds of it.
func streamSnap(reg *live.Registry, sid uint32, cond func(live.StreamSnap) bool) bool {
	ss := reg.Snapshot().Sessions
	if len(ss) != 1 {
		return false
	}
	for _, s := range ss[0].Streams {
		if s.ID == sid {
			return cond(s)
		}
	}
	return false
}

// leave closes leaver's raw conn, as its process's exit does, and waits
// until reg has recorded the end of its direction. The server only shuts
// its conn's write side: a tapped client whose server's socket closes
// with the client's frames unread in it reads a reset, which ends the
// session (the session ended (reset), as the finding then says). A
// net.Pipe's end, which has no half-close, closes.
func leave(t *testing.T, reg *live.Registry, raw map[live.Side]net.Conn, leaver live.Side) {
	t.Helper()
	if tc, ok := raw[leaver].(*net.TCPConn); ok && leaver == live.Server {
		tc.CloseWrite()
	} else {
		raw[leaver].Close()
	}
	dirEnded(t, reg, leaver)
}

// shutWrite shuts the write side of side's raw TCP conn, as an smux
// client that CloseWrites after its requests does (its session reads
// on: smux ends no session at EOF), and waits until reg has recorded the
// end of its direction.
func shutWrite(t *testing.T, reg *live.Registry, raw map[live.Side]net.Conn, side live.Side) {
	t.Helper()
	if err := raw[side].(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	dirEnded(t, reg, side)
}

// dirEnded waits until reg has recorded the end of leaver's direction.
func dirEnded(t *testing.T, reg *live.Registry, leaver live.Side) {
	t.Helper()
	d := live.ClientToServer
	if leaver == live.Server {
		d = live.ServerToClient
	}
	smuxtest.Eventually(t, "the leaver's direction ended", func() bool {
		ss := reg.Snapshot().Sessions
		return len(ss) == 1 && !ss[0].DirEnded[d].IsZero()
	})
}

// goneCheck evaluates reg at at and checks the finding of code: resolved
// with why (a prefix), or, where why is "", still open; and that no
// finding of another code opened.
func goneCheck(t *testing.T, reg *live.Registry, at time.Time, code live.FindingCode, why string) {
	t.Helper()
	reg.Evaluate(at, goneConfig)
	recs := findingRecords(reg)
	var opened, resolved int
	for _, r := range recs {
		switch {
		case r.Finding.Code != code:
			t.Errorf("%s %v: %s", r.Kind, r.Finding.Code, r.Finding.Text)
		case r.Kind == live.FindingOpened:
			opened++
		case why == "":
			t.Errorf("%v resolved: %s", code, r.Detail)
		case !strings.HasPrefix(r.Detail, why):
			t.Errorf("%v resolved: %s\nwant: %s…", code, r.Detail, why)
		default:
			resolved++
		}
	}
	if opened == 0 {
		t.Errorf("no %v opened:%s", code, describeRecords(recs))
	}
	if why != "" && resolved != opened {
		var open []string
		for _, f := range reg.Snapshot().Findings {
			open = append(open, f.Code.String()+": "+f.Text)
		}
		t.Errorf("%d %v opened, %d resolved as wanted; open: %q", opened, code, resolved, open)
	}
}

// TestStallWriterLeavesReal: a real smux v2 server, tapped, accepts a
// stream and never reads it; the client's writer is held at its full
// window (WINDOW_STALL), and the server still sends on the session. The
// client leaves: WINDOW_STALL resolves saying so, not "the window opened
// (a UPD)", and no UNANSWERED opens for the stream it left (before, its
// hold cleared by the client's leaving, the stream counted as one the
// server had not accepted: "UNANSWERED critical: 1 stream opened by the
// client got no answer … the server is not accepting them"). Twin: the
// client stays, and WINDOW_STALL holds.
func TestStallWriterLeavesReal(t *testing.T) {
	for _, gone := range []bool{true, false} {
		t.Run(map[bool]string{true: "client leaves", false: "healthy: client stays"}[gone], func(t *testing.T) {
			reg := live.New(live.Config{})
			cli, srv, raw := gonePair(t, reg, 2, live.Server)
			var wg sync.WaitGroup
			t.Cleanup(func() { cli.Close(); srv.Close(); wg.Wait() })
			accepted := make(chan *smux.Stream, 1)
			wg.Go(func() {
				if st, err := srv.AcceptStream(); err == nil {
					accepted <- st // never read
				}
			})
			st, err := cli.OpenStream()
			if err != nil {
				t.Fatal(err)
			}
			wg.Go(func() { st.Write(make([]byte, 1<<20)) }) // held at the window; fails as the client leaves or the test ends
			<-accepted
			smuxtest.Eventually(t, "the writer held at its window", func() bool {
				return streamSnap(reg, st.ID(), func(s live.StreamSnap) bool { return !s.Flow[live.ClientToServer].FullSince.IsZero() })
			})
			serverSpeaks(t, reg, cli, srv)
			base := time.Now()
			reg.Evaluate(base.Add(2*time.Second), goneConfig)
			why := ""
			if gone {
				leave(t, reg, raw, live.Client)
				why = "the writer, the client, closed its side of the connection: it writes no more; the writer had been held "
			}
			goneCheck(t, reg, base.Add(4*time.Second), live.CodeWindowStall, why)
		})
	}
}

// sideCase is a way a side of a real pair goes, or does not.
type sideCase struct {
	name   string
	tapped live.Side
	// how: "exits" closes the client's raw conn (its process killed: its
	// FIN, its RST for what comes after), "half" shuts the client's write
	// side after the request, "half late" after the finding opened (in
	// both it reads on, and gets the answer late), "server" shuts the
	// server's write side, "pipe server" closes the server's net.Pipe
	// end; "" nobody goes.
	how string
	why string // the resolution, or "" for one that holds
}

// TestUnansweredSideLeavesReal: real smux v1 and v2 pairs; the client
// asks on a stream the server accepts and does not answer, while the
// server still sends (UNANSWERED). The server leaves (the client tapped,
// the server's write side shut): the finding resolves, the server able
// to answer none of them. The client's close is no such ground: a
// client that CloseWrites its conn after its request reads on (audit3's
// hc client; smux ends no session at EOF), so the finding opens and
// holds as for the twin that stays, whether the half-close came before
// it opened or after, and the late answer, which the client reads,
// resolves it as an answer (before: "findings 0 opened", or "the client
// closed its side of the connection: its session, and its streams, are
// gone; nobody waits for their answer any more" as the client went on to
// read it); and a killed client's FIN looks the same until its RST, so
// the finding holds after it too. Over a net.Pipe, which has no
// half-close, the server's leaving is "closed the connection".
func TestUnansweredSideLeavesReal(t *testing.T) {
	const answered = "the streams got an answer"
	for _, version := range []int{1, 2} {
		for _, c := range []sideCase{
			{"client exits", live.Server, "exits", ""},
			{"client half-closes and reads on", live.Server, "half", answered},
			{"client half-closes after it opened", live.Server, "half late", answered},
			{"server leaves", live.Client, "server", "the server closed its side of the connection, leaving them unanswered: it can send no answer any more, and the client's reads on them end"},
			{"pipe: server leaves", live.Client, "pipe server", "the server closed the connection, leaving them unanswered: it can send no answer any more, and the client's reads on them end"},
			{"healthy: both stay", live.Server, "", ""},
		} {
			t.Run(map[int]string{1: "v1/", 2: "v2/"}[version]+c.name, func(t *testing.T) {
				reg := live.New(live.Config{})
				conns := smuxtest.Conns
				if strings.HasPrefix(c.how, "pipe") {
					conns = func(testing.TB) (net.Conn, net.Conn) { return net.Pipe() }
				}
				cli, srv, raw := gonePairOn(t, reg, version, c.tapped, conns)
				answer := make(chan struct{})
				var once sync.Once
				release := func() { once.Do(func() { close(answer) }) }
				var wg sync.WaitGroup
				t.Cleanup(func() { release(); cli.Close(); srv.Close(); wg.Wait() })
				accepted := make(chan struct{})
				wg.Go(func() {
					st, err := srv.AcceptStream()
					close(accepted)
					if err != nil {
						return
					}
					<-answer // the handler answers late, without reading
					io.WriteString(st, "answer")
				})
				st, err := cli.OpenStream()
				if err != nil {
					t.Fatal(err)
				}
				if _, err := io.WriteString(st, "GET /x"); err != nil {
					t.Fatal(err)
				}
				<-accepted
				smuxtest.Eventually(t, "the request recorded", func() bool {
					return streamSnap(reg, st.ID(), func(s live.StreamSnap) bool { return s.Bytes[live.ClientToServer] == 6 })
				})
				serverSpeaks(t, reg, cli, srv)
				if c.how == "half" {
					shutWrite(t, reg, raw, live.Client)
				}
				base := time.Now()
				reg.Evaluate(base.Add(2*time.Second), goneConfig)
				switch c.how {
				case "exits":
					leave(t, reg, raw, live.Client)
				case "half late":
					shutWrite(t, reg, raw, live.Client)
				case "server", "pipe server":
					leave(t, reg, raw, live.Server)
				}
				if c.why != answered {
					goneCheck(t, reg, base.Add(3*time.Second), live.CodeUnanswered, c.why)
					return
				}
				goneCheck(t, reg, base.Add(3*time.Second), live.CodeUnanswered, "") // it holds after the client's half-close
				release()
				got := make([]byte, 6)
				if _, err := io.ReadFull(st, got); err != nil || string(got) != "answer" {
					t.Fatalf("the client read %q, %v after its half-close; want the answer", got, err)
				}
				smuxtest.Eventually(t, "the answer recorded", func() bool {
					return streamSnap(reg, st.ID(), func(s live.StreamSnap) bool { return s.Bytes[live.ServerToClient] == 6 })
				})
				goneCheck(t, reg, base.Add(4*time.Second), live.CodeUnanswered, c.why)
			})
		}
	}
}

// TestNoReplySideLeavesReal: a real smux v2 pair and the hung call
// NO_REPLY names (smuxtest.HungCall's, the tapped side's): the client
// calls on a reused stream, and the server's handler blocks on the
// fourth call. The server leaves: NO_REPLY resolves, the server able to
// send no answer any more. The client's close is no such ground (as in
// TestUnansweredSideLeavesReal): one that CloseWrites reads on, and gets
// the late answer, which resolves it as an answer (before: it opened for
// neither, or resolved "the client closed its side of the connection:
// its session, and stream 3, are gone; nobody waits for the answer any
// more"); a killed one's FIN leaves it open. Twin: both stay, and it
// holds.
func TestNoReplySideLeavesReal(t *testing.T) {
	t.Parallel() // real time on sessions of its own
	const answered = "the server answered, "
	for _, c := range []sideCase{
		{"client exits", live.Server, "exits", ""},
		{"client half-closes and reads on", live.Server, "half", answered},
		{"client half-closes after it opened", live.Server, "half late", answered},
		{"server leaves", live.Client, "server", "the server closed its side of the connection without answering: it can send no answer any more, and the client's read of stream 3 ends"},
		{"pipe: server leaves", live.Client, "pipe server", "the server closed the connection without answering: it can send no answer any more, and the client's read of stream 3 ends"},
		{"healthy: both stay", live.Server, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			reg := live.New(live.Config{})
			conns := smuxtest.Conns
			if strings.HasPrefix(c.how, "pipe") {
				conns = func(testing.TB) (net.Conn, net.Conn) { return net.Pipe() }
			}
			cli, srv, raw := gonePairOn(t, reg, 2, c.tapped, conns)
			hold := make(chan struct{})
			var wg sync.WaitGroup
			var once sync.Once
			release := func() { once.Do(func() { close(hold) }) }
			t.Cleanup(func() { release(); cli.Close(); srv.Close(); wg.Wait() })
			wg.Go(func() {
				for {
					st, err := srv.AcceptStream()
					if err != nil {
						return
					}
					wg.Go(func() { smuxtest.AnswerLines(st, hold) })
				}
			})
			st, err := cli.OpenStream()
			if err != nil {
				t.Fatal(err)
			}
			r := bufio.NewReader(st)
			slowest := smuxtest.Calls(t, st, r, "get\n", 3) // the client thinks between its calls, which the turns' timing reads
			if _, err := io.WriteString(st, "hang\n"); err != nil {
				t.Fatal(err)
			}
			smuxtest.Eventually(t, "the hung call recorded", func() bool {
				return streamSnap(reg, st.ID(), func(s live.StreamSnap) bool { return s.Bytes[live.ClientToServer] == 3*4+5 })
			})
			// The evaluations' clock runs a second past NO_REPLY's limit,
			// the longer of UnansweredAfter and ReplyFactor times the
			// slowest answer (the client's slowest round trip is no
			// shorter than the tap's): a fixed 2 s saw none open where a
			// loaded machine answered in over 100 ms.
			ahead := smuxtest.NoReplyLimit(goneConfig.UnansweredAfter, slowest) + time.Second
			other, err := cli.OpenStream()
			if err != nil {
				t.Fatal(err)
			}
			smuxtest.CallLine(t, other, bufio.NewReader(other), "get\n")
			smuxtest.Eventually(t, "the second stream's answer recorded", func() bool {
				return streamSnap(reg, other.ID(), func(s live.StreamSnap) bool { return s.Bytes[live.ServerToClient] == 3 })
			})
			if c.how == "half" {
				shutWrite(t, reg, raw, live.Client)
			}
			base := time.Now()
			reg.Evaluate(base.Add(ahead), goneConfig)
			switch c.how {
			case "exits":
				leave(t, reg, raw, live.Client)
			case "half late":
				shutWrite(t, reg, raw, live.Client)
			case "server", "pipe server":
				leave(t, reg, raw, live.Server)
			}
			if c.why != answered {
				goneCheck(t, reg, base.Add(ahead+time.Second), live.CodeNoReply, c.why)
				return
			}
			goneCheck(t, reg, base.Add(ahead+time.Second), live.CodeNoReply, "") // it holds after the client's half-close
			release()
			if got, err := r.ReadString('\n'); err != nil || got != "ok\n" {
				t.Fatalf("the client read %q, %v after its half-close; want the answer", got, err)
			}
			smuxtest.Eventually(t, "the answer recorded", func() bool {
				return streamSnap(reg, st.ID(), func(s live.StreamSnap) bool { return s.Bytes[live.ServerToClient] == 4*3 })
			})
			goneCheck(t, reg, base.Add(ahead+2*time.Second), live.CodeNoReply, c.why)
		})
	}
}
