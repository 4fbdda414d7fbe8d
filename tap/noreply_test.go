package tap

import (
	"bufio"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// noReplyUpstream serves mux sessions on a listener of its own: each
// accepted stream gets a line answered per line read ("ok\n"), except
// the line "hang\n", whose answer waits until release is called — a
// handler blocked on its 4th call.
func noReplyUpstream(t *testing.T, mux smuxtest.Mux) (addr string, release func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hold := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(hold) }) }
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			sess, err := mux.Server(c)
			if err != nil {
				c.Close()
				return
			}
			wg.Go(func() {
				defer sess.Close()
				for {
					st, err := sess.AcceptStream()
					if err != nil {
						return
					}
					wg.Go(func() { smuxtest.AnswerLines(st, hold) })
				}
			})
		}
	})
	t.Cleanup(func() { release(); ln.Close(); wg.Wait() })
	return ln.Addr().String(), release
}

// TestNoReplyThroughAttach: through muxtop attach, a real smux v2 or
// hashicorp/yamux client calls a real upstream on one stream it reuses,
// smuxtest.Think apart (a tight loop shows no requester: ThinkFactor):
// three calls answered, the fourth's handler blocks. With the upstream
// still answering on another stream after it, NO_REPLY opens for that
// stream, the client's (c2s), --unanswered-after past the request (the
// evaluation's clock moved on: keepalive is off, so no KEEPALIVE for the
// silence that makes), and resolves when the handler lets the answer
// go. Its twin, whose fourth call is answered, opens none.
func TestNoReplyThroughAttach(t *testing.T) {
	for _, yam := range []bool{false, true} {
		mux := smuxtest.MuxOf(yam)
		if !yam {
			mux.Smux.KeepAliveDisabled = true
		}
		name := "smux v2"
		if yam {
			name = "yamux"
		}
		for _, hang := range []bool{true, false} {
			t.Run(name+map[bool]string{true: "/hung call", false: "/answered"}[hang], func(t *testing.T) {
				up, release := noReplyUpstream(t, mux)
				reg := live.New(live.Config{})
				p := startProxy(t, ProxyConfig{Upstream: up, Registry: reg})
				c := dialProxy(t, p)
				cli, err := mux.Client(c)
				if err != nil {
					t.Fatal(err)
				}
				defer cli.Close()
				st, err := cli.OpenStream()
				if err != nil {
					t.Fatal(err)
				}
				r := bufio.NewReader(st)
				slowest := smuxtest.Calls(t, st, r, "get\n", 3) // the client thinks between its calls, which the turns' timing reads
				last := "get\n"
				if hang {
					last = "hang\n"
				}
				if _, err := io.WriteString(st, last); err != nil {
					t.Fatal(err)
				}
				// The upstream answers on another stream after the
				// request: it is alive.
				other, err := cli.OpenStream()
				if err != nil {
					t.Fatal(err)
				}
				smuxtest.CallLine(t, other, bufio.NewReader(other), "get\n")
				if !hang {
					if got, err := r.ReadString('\n'); err != nil || got != "ok\n" {
						t.Fatalf("answer %q, %v", got, err)
					}
				}
				sid := smuxtest.StreamID(st)
				// The proxy records what it forwards after the write: wait
				// for the other stream's answer to be counted.
				smuxtest.Eventually(t, "the other stream's answer recorded", func() bool {
					ss := reg.Snapshot().Sessions
					if len(ss) != 1 {
						return false
					}
					for _, s := range ss[0].Streams {
						if s.ID == smuxtest.StreamID(other) {
							return s.Bytes[live.ServerToClient] == 3
						}
					}
					return false
				})
				at := time.Now().Add(smuxtest.NoReplyAhead(slowest))
				cfg := live.FindingsConfig{LeakAfter: time.Hour, Churn: -1}
				reg.Evaluate(at, cfg)
				var got []*live.Finding
				for _, f := range reg.Snapshot().Findings {
					if f.Code == live.CodeNoReply {
						got = append(got, f)
					}
				}
				if !hang {
					if len(got) != 0 {
						t.Fatalf("NO_REPLY with every call answered: %s", got[0].Text)
					}
					return
				}
				if len(got) != 1 || got[0].Stream != sid || got[0].Dir != live.ClientToServer || got[0].Evidence.Count != 3 {
					for _, f := range reg.Snapshot().Findings {
						t.Logf("%s %s", f.Code, f.Text)
					}
					t.Fatalf("%d NO_REPLY findings, want one of stream %d, c2s, 3 earlier answers", len(got), sid)
				}
				release()
				if g, err := r.ReadString('\n'); err != nil || g != "ok\n" {
					t.Fatalf("answer %q, %v", g, err)
				}
				smuxtest.Eventually(t, "the late answer recorded", func() bool {
					for _, s := range reg.Snapshot().Sessions[0].Streams {
						if s.ID == sid {
							return s.Bytes[live.ServerToClient] == 12
						}
					}
					return false
				})
				reg.Evaluate(at.Add(time.Second), cfg)
				recs, _ := reg.Frames(live.Query{Match: func(r *live.Record) bool {
					return r.Kind == live.FindingResolved && r.Finding.Code == live.CodeNoReply
				}}, nil)
				if len(recs) != 1 || !strings.HasPrefix(recs[0].Detail, "the server answered, ") {
					t.Fatalf("%d NO_REPLY resolutions, want one: the server answered (%v)", len(recs), recs)
				}
			})
		}
	}
}
