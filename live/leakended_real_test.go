package live_test

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	hyamux "github.com/hashicorp/yamux"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
	"github.com/xtaci/smux"
)

// A stream whose missing FIN belongs to a side whose side of the
// connection has closed is no LEAK of that side: it can never send that
// FIN (its session may still be there, reading, after a CloseWrite). With real smux v1 and v2 sessions, one end
// tapped, keepalive off: the client sends "GET /x", gets "answer", and
// its side goes (its process exits: cli.Close(), no FIN for its stream;
// or its conn's write side shut), while the tapped server's handler
// reads EOF and closes its stream (FIN). LEAK said "the client never
// closes its streams: 1 half-closed by the server", with advice to call
// Close() on the client's stream. The mirror: the tapped client's server
// left. Twins: the client closes its stream before it leaves (nothing
// open); the client stays and never closes its stream (the old LEAK).

const endedLeakAfter = time.Second

func endedConfig(version int) *smux.Config {
	c := smuxtest.Config(version)
	c.KeepAliveDisabled = true
	return c
}

// endedRun runs the exchange on a real smux pair of version, its end
// side tapped, keepalive off. Then the client closes its stream if
// closeFirst, and leaver's end leaves by leave ("exit": its session
// closes, "shut": its conn's write side shuts) while the other end's
// handler reads EOF and closes its stream; with no leave the server
// closes its stream and the client stays. It returns the LEAKs open
// LeakAfter and more after, and every other finding opened on the way:
// evaluated once, or, where every, every 100 ms as the live tool does,
// past BlockedAfter (2 s) and then some.
func endedRun(t *testing.T, version int, side, leaver live.Side, closeFirst bool, leave string, every bool) (leaks, others []*live.Finding) {
	reg := live.New(live.Config{})
	cc, sc := smuxtest.Conns(t)
	if side == live.Server {
		sc = tap.Wrap(sc, live.Server, reg, "srv")
	} else {
		cc = tap.Wrap(cc, live.Client, reg, "cli")
	}
	srv, err := smux.Server(sc, endedConfig(version))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	cli, err := smux.Client(cc, endedConfig(version))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	cst, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	cst.Write([]byte("GET /x"))
	sst, err := srv.AcceptStream()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := io.ReadFull(sst, buf); err != nil {
		t.Fatal(err)
	}
	sst.Write([]byte("answer"))
	if _, err := io.ReadFull(cst, buf); err != nil {
		t.Fatal(err)
	}
	if closeFirst {
		cst.Close()
	}
	var stays io.ReadWriteCloser = sst
	if leaver == live.Server {
		stays = cst
	}
	switch leave {
	case "":
		sst.Close() // the server is done; the client never closes its stream
	case "exit", "shut":
		if leave == "exit" {
			map[live.Side]*smux.Session{live.Client: cli, live.Server: srv}[leaver].Close()
		} else {
			c := map[live.Side]net.Conn{live.Client: cc, live.Server: sc}[leaver]
			if tc, ok := c.(*net.TCPConn); ok {
				tc.CloseWrite()
			} else {
				t.Fatal("shut: the leaving end's conn is tapped")
			}
		}
		io.Copy(io.Discard, stays) // the handler reads EOF
		stays.Close()
	}
	sid := cst.ID()
	smuxtest.Eventually(t, "the exchange recorded", func() bool {
		for _, ss := range reg.Snapshot().Sessions {
			for _, st := range ss.Streams {
				if st.ID == sid && st.State != live.Open {
					return leave == "" || !ss.DirEnded[0].IsZero() || !ss.DirEnded[1].IsZero()
				}
			}
		}
		return false
	})
	time.Sleep(50 * time.Millisecond)
	cfg := live.FindingsConfig{LeakAfter: endedLeakAfter, Churn: -1}
	start, last := time.Now(), endedLeakAfter+time.Second
	if every {
		last = 4 * time.Second
		for at := 100 * time.Millisecond; at < last; at += 100 * time.Millisecond {
			reg.Evaluate(start.Add(at), cfg)
		}
	}
	reg.Evaluate(start.Add(last), cfg)
	for _, f := range reg.Snapshot().Findings {
		if f.Code == live.CodeLeak {
			leaks = append(leaks, f)
		}
	}
	for _, r := range findingRecords(reg) {
		if r.Kind == live.FindingOpened && r.Finding.Code != live.CodeLeak {
			others = append(others, r.Finding)
		}
	}
	return leaks, others
}

func TestLeakNotBlamedOnEndedSide(t *testing.T) {
	for _, version := range []int{1, 2} {
		for _, c := range []struct {
			name         string
			side, leaver live.Side
			closeFirst   bool
			leave        string
			want         string // the LEAK's text's start, "" none
		}{
			{"client exits", live.Server, live.Client, false, "exit", ""},
			{"client shuts its write side", live.Server, live.Client, false, "shut", ""},
			{"mirror: server exits", live.Client, live.Server, false, "exit", ""},
			{"healthy: client closes its stream, then exits", live.Server, live.Client, true, "exit", ""},
			{"fault: client stays and never closes its stream", live.Server, live.Client, false, "", "the client never closes its streams: 1 half-closed by the server"},
		} {
			for _, every := range []bool{false, true} {
				t.Run(fmt.Sprintf("v%d/%s/every %v", version, c.name, every), func(t *testing.T) {
					leaks, others := endedRun(t, version, c.side, c.leaver, c.closeFirst, c.leave, every)
					var texts []string
					for _, f := range leaks {
						texts = append(texts, f.Text)
					}
					if c.want == "" && len(leaks) > 0 || c.want != "" && (len(leaks) != 1 || !strings.HasPrefix(leaks[0].Text, c.want)) {
						t.Errorf("LEAKs %q; want %q", texts, c.want)
					}
					for _, f := range others {
						t.Errorf("%v opened: %s", f.Code, f.Text)
					}
				})
			}
		}
	}
}

// TestLeakResolvesAsItsSideLeaves: a client that leaks a stream (the
// server closed it, the client never does) and then leaves: its LEAK
// resolves, saying the client left and the server still holds the
// session, not that the stream is no longer idle or another finding
// explains it. A stream open both ways (no FIN from either side) stays a
// LEAK: the side still there can close it.
func TestLeakResolvesAsItsSideLeaves(t *testing.T) {
	reg := live.New(live.Config{})
	sc := openSession(reg, 1)
	sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "GET /x"), psh(s2c, 3, "answer"), fin(s2c, 3))
	sc.feedAt(sec(0), syn(c2s, 5), psh(c2s, 5, "GET /y"), psh(s2c, 5, "answer"))
	cfg := live.FindingsConfig{LeakAfter: time.Second, Churn: -1}
	reg.Evaluate(sec(1.5), cfg)
	sc.s.DirectionEnded(c2s, sec(2))
	reg.Evaluate(sec(2.5), cfg)
	recs := expect(t, reg, "+LEAK", "+LEAK", "-LEAK")
	if f := recs[2].Finding; !f.HasDir || f.Dir != c2s || f.Why != "the client closed its side of the connection: it can send their FINs no more; the server still holds the session (close it when its conn reads EOF)" {
		t.Errorf("resolved %s (dir %v): %q; want the client's, as the client left", f.Text, f.Dir, f.Why)
	}
	if open := reg.Snapshot().Findings; len(open) != 1 || open[0].HasDir {
		t.Errorf("open %v; want the LEAK of stream 5, open both ways", open)
	}
}

// TestLeakEndedSideYamux: hashicorp/yamux closes its session when its
// conn reads EOF, so a tapped yamux server whose client left ends its
// session, and with it its streams: no LEAK, no finding at all, whether
// the client exits or only shuts its conn's write side.
func TestLeakEndedSideYamux(t *testing.T) {
	for _, leave := range []string{"exit", "shut"} {
		t.Run(leave, func(t *testing.T) {
			reg := live.New(live.Config{})
			cfg := hyamux.DefaultConfig()
			cfg.LogOutput, cfg.EnableKeepAlive = io.Discard, false
			cc, sc := smuxtest.Conns(t)
			srv, err := hyamux.Server(tap.Wrap(sc, live.Server, reg, "srv"), cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Close() })
			cli, err := hyamux.Client(cc, cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cli.Close() })
			cst, err := cli.OpenStream()
			if err != nil {
				t.Fatal(err)
			}
			cst.Write([]byte("GET /x"))
			sst, err := srv.AcceptStream()
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 6)
			if _, err := io.ReadFull(sst, buf); err != nil {
				t.Fatal(err)
			}
			sst.Write([]byte("answer"))
			if _, err := io.ReadFull(cst, buf); err != nil {
				t.Fatal(err)
			}
			if leave == "exit" {
				cli.Close()
			} else {
				cc.(*net.TCPConn).CloseWrite()
			}
			io.Copy(io.Discard, sst)
			sst.Close()
			smuxtest.Eventually(t, "the session's end", func() bool {
				ss := reg.Snapshot().Sessions
				return len(ss) == 0 || ss[0].Ended
			})
			fcfg := live.FindingsConfig{LeakAfter: endedLeakAfter, Churn: -1}
			start := time.Now()
			for at := 100 * time.Millisecond; at <= 4*time.Second; at += 100 * time.Millisecond {
				reg.Evaluate(start.Add(at), fcfg)
			}
			for _, r := range findingRecords(reg) {
				if r.Kind == live.FindingOpened {
					t.Errorf("%v opened: %s", r.Finding.Code, r.Finding.Text)
				}
			}
		})
	}
}

// TestLeakNotOpenedForSideThatLeft: as a capture, the attach proxy or
// sniff sees it (DirectionEnded at the client's FIN on the connection):
// the server closed stream 3, the client left before it was idle
// LeakAfter; no LEAK opens for it, at the leak cutoff or long after,
// while the server's own stream 5 (the client closed it, the server never
// did) is the server's LEAK, and a stream open both ways stays one.
// Stream 7 is answered: a request the server has sent nothing since is
// no LEAK (leakExcuses.unanswers), which it was here only because the
// server's frames came in the same nanosecond as the request.
func TestLeakNotOpenedForSideThatLeft(t *testing.T) {
	reg := live.New(live.Config{})
	sc := openSession(reg, 1)
	sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "GET /x"), psh(s2c, 3, "answer"), fin(s2c, 3))
	sc.feedAt(sec(0), syn(c2s, 5), psh(c2s, 5, "GET /y"), psh(s2c, 5, "answer"), fin(c2s, 5))
	sc.feedAt(sec(0), syn(c2s, 7), psh(c2s, 7, "GET /z"), psh(s2c, 7, "answer"))
	sc.s.DirectionEnded(c2s, sec(0.5))
	cfg := live.FindingsConfig{LeakAfter: time.Second, Churn: -1}
	for _, at := range []float64{0.6, 1.1, 1.5, 30} {
		reg.Evaluate(sec(at), cfg)
	}
	var got []string
	for _, f := range reg.Snapshot().Findings {
		got = append(got, f.Text)
	}
	if len(got) != 2 || !strings.HasPrefix(got[0], "the server never closes its streams: 1 half-closed by the client") && !strings.HasPrefix(got[1], "the server never closes its streams: 1 half-closed by the client") ||
		!strings.Contains(strings.Join(got, "\n"), "1 stream open and idle") || strings.Contains(strings.Join(got, "\n"), "the client never closes") {
		t.Errorf("open findings %q; want the server's LEAK of stream 5 and the LEAK of stream 7, open both ways, and none blaming the client", got)
	}
}
