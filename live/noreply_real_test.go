package live_test

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// NO_REPLY on real smux v1, v2 and hashicorp/yamux sessions, driven as a
// hashicorp/go-plugin host drives its plugin (pluginHost), recorded at a
// virtual clock and evaluated every 0.5 s at muxtop's defaults
// (--unanswered-after 5 s).

// replyHost is a pluginHost evaluated as its virtual clock goes: every
// 0.5 s from 1.5 s, at muxtop's defaults, each evaluation before the
// frames of its instant, as a front end's tick sees what came before it.
type replyHost struct {
	*pluginHost
	evaluated float64
	cfg       live.FindingsConfig
}

func newReplyHost(t *testing.T, mux smuxtest.Mux) *replyHost {
	h := &replyHost{pluginHost: newPluginHost(t, mux), evaluated: 1, cfg: live.FindingsConfig{LeakAfter: time.Hour, Churn: -1}}
	h.setUp()
	return h
}

// at evaluates up to s, then moves the clock to s.
func (h *replyHost) at(s float64) {
	h.clk.quiet()
	for e := h.evaluated + 0.5; e <= s; e += 0.5 {
		h.reg.Evaluate(sec(e), h.cfg)
		h.evaluated = e
	}
	h.pluginHost.at(s)
}

// logLines has the plugin write a log line on its stdout stream at each
// second from from to to, after between: the plugin is alive, and sends
// on the session.
func (h *replyHost) logLines(from, to float64, between func(s float64)) {
	for s := from; s <= to; s++ {
		h.at(s)
		if between != nil {
			between(s)
		}
		send(h.t, h.stdout[1], h.stdout[0], "plugin log line\n")
	}
}

// noReplies evaluates up to until and returns the NO_REPLY records.
func (h *replyHost) noReplies(until float64) []live.Record {
	h.at(until)
	var recs []live.Record
	for _, r := range allRecords(h.reg) {
		if r.Finding != nil && r.Finding.Code == live.CodeNoReply {
			recs = append(recs, r)
		}
	}
	return recs
}

// send writes s on c, and reads it at the other end, r.
func send(t *testing.T, c, r net.Conn, s string) {
	t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(r, make([]byte, len(s))); err != nil {
		t.Fatal(err)
	}
}

// TestNoReplyHungCallReal: the dispensed plugin's stream, opened as the
// session is set up and reused for every call, carries three calls
// answered at once; the fourth, at 2 s, the plugin reads and does not
// answer for 18 s (its handler blocks), while it goes on writing its log
// on stdout. One NO_REPLY, of that stream, the host's (c2s), opened at
// 7 s (--unanswered-after 5 s after the request), saying the plugin
// answered the 3 earlier ones; resolved at the evaluation after the
// answer comes at 20 s, saying how late. Before, nothing named it: UNANSWERED is for a stream with no
// frame back, and LEAK leaves the session's setup streams alone.
func TestNoReplyHungCallReal(t *testing.T) {
	t.Parallel() // a virtual clock, but quiet() waits in real time
	for _, m := range realMuxes() {
		t.Run(m.name, func(t *testing.T) {
			h := newReplyHost(t, m.mux)
			h.at(2)
			send(t, h.plugin[0], h.plugin[1], "Plugin.Get k9")
			h.logLines(3, 19, nil)
			h.at(20)
			send(t, h.plugin[1], h.plugin[0], "v9")
			recs := h.noReplies(21)
			if len(recs) != 2 || recs[0].Kind != live.FindingOpened || recs[1].Kind != live.FindingResolved {
				t.Fatalf("want NO_REPLY opened and resolved:%s", describeRecords(recs))
			}
			f := recs[0].Finding
			sid := streamID(h.plugin[0])
			// The request's frame is recorded at 2 s, or a µs or two
			// after where a frame went before it at that instant (the
			// virtual clock steps 1 µs a frame): it opens at the first
			// evaluation 5 s or more after.
			opens := sec(7)
			if f.Since.After(sec(2)) {
				opens = sec(7.5)
			}
			if f.Stream != sid || !f.HasDir || f.Dir != live.ClientToServer || f.Severity != live.Warning || f.Evidence.Count != 3 ||
				!recs[0].At.Equal(opens) || f.Since.Before(sec(2)) || !f.Since.Before(sec(2.001)) || f.Evidence.Limit != live.DefaultUnansweredAfter {
				t.Errorf("NO_REPLY of stream %d dir %v (%v), %v, count %d, opened at %v, since %v, limit %v; want stream %d c2s, warning, 3, at %v, since 2 s, limit 5 s",
					f.Stream, f.Dir, f.HasDir, f.Severity, f.Evidence.Count, recs[0].At, f.Since, f.Evidence.Limit, sid, opens)
			}
			want := fmt.Sprintf("stream %d: the client's request, sent %s ago, has no answer; the server answered the 3 earlier ones on this stream within", sid, live.FormatAge(opens.Sub(f.Since)))
			if !strings.HasPrefix(f.Text, want) || !strings.Contains(f.Advice, "goroutine dump of the server") {
				t.Errorf("text %q\nadvice %q\nwant the text to begin %q", f.Text, f.Advice, want)
			}
			r := recs[1]
			if !r.At.Equal(sec(20.5)) || !strings.HasPrefix(r.Detail, "the server answered, 18 s after the request") {
				t.Errorf("resolved at %v: %q; want at 20.5 s, \"the server answered, 18 s after the request …\"", r.At, r.Detail)
			}
		})
	}
}

// TestNoReplyHealthyTwinsReal: what healthy programs do on a reused
// stream opens no NO_REPLY, on real smux v1, v2 and yamux sessions,
// whose plugin writes its log all the while (it is alive).
func TestNoReplyHealthyTwinsReal(t *testing.T) {
	t.Parallel() // a virtual clock, but quiet() waits in real time
	cases := []struct {
		name string
		run  func(h *replyHost)
	}{
		// Calls answered at once, then idle: the last bytes are the
		// plugin's answer.
		{"idle after answers", func(h *replyHost) {
			h.logLines(2, 40, nil)
		}},
		// A subscription: one request, then the server pushes an event a
		// second for 38 s.
		{"subscription", func(h *replyHost) {
			h.at(2)
			st := h.open()
			send(h.t, st[0], st[1], "Subscribe")
			h.logLines(2, 40, func(float64) { send(h.t, st[1], st[0], "event") })
		}},
		// A log shipper: one handshake exchange, then the client streams
		// one way, pausing 6 s between bursts.
		{"log shipper", func(h *replyHost) {
			h.at(2)
			st := h.open()
			send(h.t, st[0], st[1], "HELLO")
			send(h.t, st[1], st[0], "OK")
			h.logLines(3, 40, func(s float64) {
				if int(s)%7 == 0 {
					send(h.t, st[0], st[1], "log line a\nlog line b\n")
				}
			})
		}},
		// A heartbeat on a stream whose server pushes slowly: its first
		// answer comes 30 s late, the next two at once, the fourth 30 s
		// late again. The threshold is 10 times the slowest answer seen:
		// 5 min.
		{"slow pushes", func(h *replyHost) {
			h.at(2)
			st := h.open()
			send(h.t, st[0], st[1], "HB")
			h.logLines(3, 31, nil)
			h.at(32)
			send(h.t, st[1], st[0], "push 1")
			send(h.t, st[0], st[1], "HB")
			send(h.t, st[1], st[0], "push 2")
			send(h.t, st[0], st[1], "HB")
			send(h.t, st[1], st[0], "push 3")
			send(h.t, st[0], st[1], "HB")
			h.logLines(33, 61, nil)
			h.at(62)
			send(h.t, st[1], st[0], "push 4")
			h.clk.quiet()
		}},
		// A reverse tunnel (frp's work connection) carrying HTTP
		// keep-alive: the host opens the stream and says hello, then the
		// plugin asks (a page load of three requests, after 10 ms,
		// 20 ms and 15 ms of the far user's think time) and the host
		// answers each within 2 ms; then the stream idles after the
		// host's answer. The opener answers: its slowest pause before a
		// turn (2 ms) is no more than the acceptor's slowest (20 ms), so
		// its latest turn is no request.
		{"reverse tunnel keep-alive", func(h *replyHost) {
			h.at(2)
			st := h.open()
			send(h.t, st[0], st[1], "NewWorkConn")
			for _, req := range []struct {
				at  float64
				req string
			}{{2.010, "GET /a"}, {2.032, "GET /b"}, {2.049, "GET /c"}} {
				h.at(req.at)
				send(h.t, st[1], st[0], req.req)
				h.at(req.at + 0.002)
				send(h.t, st[0], st[1], "HTTP/1.1 200 OK")
			}
			h.logLines(3, 40, nil)
		}},
		// The client half-closes after its request, and the server
		// answers it within a second.
		{"requester half-closes", func(h *replyHost) {
			h.at(2)
			send(h.t, h.plugin[0], h.plugin[1], "Plugin.Put k9")
			if cw, ok := h.plugin[0].(interface{ CloseWrite() error }); ok {
				if err := cw.CloseWrite(); err != nil {
					h.t.Fatal(err)
				}
			} else if err := h.plugin[0].Close(); err != nil { // yamux: Close is a half-close
				h.t.Fatal(err)
			}
			h.at(2.8)
			send(h.t, h.plugin[1], h.plugin[0], "true")
			h.logLines(3, 40, nil)
		}},
	}
	for _, m := range realMuxes() {
		for _, tc := range cases {
			mux := m.mux
			t.Run(m.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				h := newReplyHost(t, mux)
				tc.run(h)
				end := 41.0
				if tc.name == "slow pushes" {
					end = 63
				}
				if recs := h.noReplies(end); len(recs) != 0 {
					t.Errorf("NO_REPLY on a healthy stream:%s", describeRecords(recs))
				}
			})
		}
	}
}

// TestNoReplyOneWayCaptureReal: a capture holding the client's direction
// alone (tcpdump's src port) of a host whose plugin never answers its
// fourth call: the answers to the first three are unseen too, so no
// stream shows an answered request, and no NO_REPLY opens, as no
// UNANSWERED does.
func TestNoReplyOneWayCaptureReal(t *testing.T) {
	for _, m := range realMuxes() {
		t.Run(m.name, func(t *testing.T) {
			reg := live.New(live.Config{})
			clk := &vclock{now: t0}
			var sess *live.Session
			var a, b net.Conn
			mux := m.mux
			if mux.Yamux() {
				sess = reg.Open(live.SessionInfo{Proto: live.Yamux}, t0)
				a, b = net.Pipe()
			} else {
				sess = reg.Open(live.SessionInfo{Client: "127.0.0.1:1000", Server: "127.0.0.1:9000", Label: "test"}, t0)
				mux.Smux.KeepAliveDisabled = true
				a, b = smuxtest.Conns(t)
			}
			sess.Unseen(live.ServerToClient, true)
			ta := &vtap{Conn: a, clk: clk, sess: sess, dir: live.ClientToServer, smux: decoder.New(64)}
			if mux.Yamux() {
				ta.smux, ta.yamux = nil, yamux.New(64)
			}
			cli, err := mux.Client(ta)
			if err != nil {
				t.Fatal(err)
			}
			srv, err := mux.Server(b)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cli.Close(); srv.Close() })
			c, err := cli.OpenStream()
			if err != nil {
				t.Fatal(err)
			}
			s, err := srv.AcceptStream()
			if err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				clk.advance(sec(float64(i) * 0.1))
				send(t, c, s, "call")
				send(t, s, c, "answer")
			}
			clk.quiet()
			clk.advance(sec(1))
			send(t, c, s, "call")
			for i := 2; i <= 20; i++ {
				clk.quiet()
				clk.advance(sec(float64(i)))
				o, err := cli.OpenStream() // the client sends on: its direction is live
				if err != nil {
					t.Fatal(err)
				}
				os, err := srv.AcceptStream()
				if err != nil {
					t.Fatal(err)
				}
				send(t, o, os, "ping")
			}
			clk.quiet()
			cfg := live.FindingsConfig{LeakAfter: time.Hour, Churn: -1}
			for s := 1.5; s <= 21; s += 0.5 {
				reg.Evaluate(sec(s), cfg)
			}
			for _, r := range findingRecords(reg) {
				if r.Finding.Code == live.CodeNoReply || r.Finding.Code == live.CodeUnanswered {
					t.Errorf("%s in a capture of the client's direction alone:%s", r.Finding.Code, describeRecords([]live.Record{r}))
				}
			}
		})
	}
}

// TestNoReplyNotALeakReal: a hung call on a stream the host opened after
// the session's setup (one of a pool), its calls 0.1 s apart, at
// muxtop's default --leak-after (30 s): the stream is idle because the plugin's handler has not
// answered, which NO_REPLY says, not because a side forgot Close. No
// LEAK while NO_REPLY holds. Before, LEAK opened 30 s after the request:
// "1 stream open and idle 30 s or more with no FIN from either side".
func TestNoReplyNotALeakReal(t *testing.T) {
	t.Parallel() // a virtual clock, but quiet() waits in real time
	for _, m := range realMuxes() {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			h := newReplyHost(t, m.mux)
			h.cfg.LeakAfter = 0 // the default, 30 s
			h.at(2)
			st := h.open()
			for i, call := range []string{"Plugin.Put k1", "Plugin.Put k2", "Plugin.Put k3"} {
				h.at(2 + float64(i)/10) // the host's work between its calls
				send(t, st[0], st[1], call)
				send(t, st[1], st[0], "true")
			}
			h.at(2.3)
			send(t, st[0], st[1], "Plugin.Get k1")
			h.logLines(3, 45, nil)
			h.at(46)
			var noReply, leaks []live.Record
			for _, r := range findingRecords(h.reg) {
				switch r.Finding.Code {
				case live.CodeNoReply:
					noReply = append(noReply, r)
				case live.CodeLeak:
					leaks = append(leaks, r)
				}
			}
			if len(leaks) != 0 || len(noReply) != 1 || noReply[0].Finding.Stream != streamID(st[0]) {
				t.Errorf("want one NO_REPLY of stream %d and no LEAK; NO_REPLY:%s\nLEAK:%s", streamID(st[0]), describeRecords(noReply), describeRecords(leaks))
			}
		})
	}
}

// TestNoReplyResolutionsReal: how an open NO_REPLY resolves other than
// by its answer, on real smux v1, v2 and yamux sessions: the plugin
// closes its side of the hung call's stream (its FIN: no answer can
// come), or the host writes on the stream again (its wait starts again
// from that write). Each says so.
func TestNoReplyResolutionsReal(t *testing.T) {
	t.Parallel() // a virtual clock, but quiet() waits in real time
	for _, m := range realMuxes() {
		for _, tc := range []struct {
			name, want string
			act        func(h *replyHost)
		}{
			{"acceptor's FIN", "the server closed its side of stream %d (FIN) without answering", func(h *replyHost) {
				if cw, ok := h.plugin[1].(interface{ CloseWrite() error }); ok {
					if err := cw.CloseWrite(); err != nil {
						h.t.Fatal(err)
					}
				} else if err := h.plugin[1].Close(); err != nil { // yamux: Close is a half-close
					h.t.Fatal(err)
				}
			}},
			{"requester writes on", "the client wrote on stream %d again with no answer between: it writes on rather than waits, and its answers count anew (two more exchanges before a write of its waits again)", func(h *replyHost) {
				send(h.t, h.plugin[0], h.plugin[1], "Plugin.Get k9 again")
			}},
		} {
			mux := m.mux
			t.Run(m.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				h := newReplyHost(t, mux)
				h.at(2)
				send(t, h.plugin[0], h.plugin[1], "Plugin.Get k9")
				h.logLines(3, 9, nil)
				h.at(10)
				tc.act(h)
				h.logLines(11, 12, nil)
				recs := h.noReplies(13)
				sid := streamID(h.plugin[0])
				if len(recs) != 2 || recs[1].Kind != live.FindingResolved || recs[1].Detail != fmt.Sprintf(tc.want, sid) {
					t.Fatalf("want NO_REPLY opened, then resolved %q:%s", fmt.Sprintf(tc.want, sid), describeRecords(recs))
				}
			})
		}
	}
}

// TestNoReplyTightLoopReal pins what NO_REPLY's guard against a
// responding opener costs: a host that calls in a tight loop, each call
// answered 1 ms after it and the next sent 1 ms after that answer, as
// fast as the answers come, gives no evidence of which side asks (its
// slowest pause before a call is not ThinkFactor times the plugin's
// slowest answer), so its fourth call, which the plugin reads and leaves
// unanswered for 18 s while it writes its log, opens no NO_REPLY. Think
// time between the calls (TestNoReplyHungCallReal) is what names it.
func TestNoReplyTightLoopReal(t *testing.T) {
	t.Parallel() // a virtual clock, but quiet() waits in real time
	for _, m := range realMuxes() {
		mux := m.mux
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			h := newReplyHost(t, mux)
			h.at(2)
			st := h.open()
			for i, at := range []float64{2, 2.002, 2.004, 2.006} {
				h.at(at)
				send(t, st[0], st[1], fmt.Sprintf("Plugin.Get k%d", i))
				if i < 3 {
					h.at(at + 0.001)
					send(t, st[1], st[0], "v")
				}
			}
			h.logLines(3, 24, nil)
			if recs := h.noReplies(25); len(recs) != 0 {
				t.Errorf("NO_REPLY for a tight loop's hung call:%s", describeRecords(recs))
			}
		})
	}
}
