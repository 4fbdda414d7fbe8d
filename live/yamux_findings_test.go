package live_test

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	hyamux "github.com/hashicorp/yamux"

	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/wirekind"
)

// openFindings evaluates reg at now and returns its open findings by code.
func openFindings(reg *live.Registry, now time.Time, cfg live.FindingsConfig) map[live.FindingCode]*live.Finding {
	reg.Evaluate(now, cfg)
	m := map[live.FindingCode]*live.Finding{}
	for _, f := range reg.Snapshot().Findings {
		m[f.Code] = f
	}
	return m
}

// settle waits for the frames in flight to be recorded.
func settle() { time.Sleep(30 * time.Millisecond) }

// TestYamuxFindings proves each yamux finding with a real yamux session
// that has the fault, next to a healthy one that does not.
func TestYamuxFindings(t *testing.T) {
	tests := []struct {
		name string
		code live.FindingCode
		// run drives the sessions, faulty or not, and returns when the
		// findings are evaluated, as an offset from now.
		run  func(t *testing.T, cli, srv *hyamux.Session, fault bool) time.Duration
		cfg  live.FindingsConfig
		text string // in the fault's finding
		// ready, if set, says when what run started is recorded, for
		// the evaluation.
		ready func(reg *live.Registry, fault bool) bool
	}{
		{
			name: "unanswered SYN: the server does not accept", code: live.CodeUnanswered,
			run: func(t *testing.T, cli, srv *hyamux.Session, fault bool) time.Duration {
				if _, err := cli.OpenStream(); err != nil {
					t.Fatal(err)
				}
				if !fault {
					if _, err := srv.AcceptStream(); err != nil { // sends the ACK
						t.Fatal(err)
					}
				}
				// The server still sends: a stream of its own, which the client accepts.
				go func() {
					if st, err := cli.AcceptStream(); err == nil {
						io.Copy(io.Discard, st)
					}
				}()
				st, err := srv.OpenStream()
				if err != nil {
					t.Fatal(err)
				}
				st.Write([]byte("alive"))
				return 6 * time.Second
			},
			text: "got no ACK",
		},
		{
			// yamux ACKs a stream at AcceptStream only while it is
			// SYN-received: accepted after its FIN, it never is. The
			// finding says that the server may have accepted it, late.
			name: "unanswered SYN: accepted only after the client's FIN", code: live.CodeUnanswered,
			run: func(t *testing.T, cli, srv *hyamux.Session, fault bool) time.Duration {
				st, err := cli.OpenStream()
				if err != nil {
					t.Fatal(err)
				}
				st.Write([]byte("RAND"))
				if !fault {
					if _, err := srv.AcceptStream(); err != nil { // sends the ACK
						t.Fatal(err)
					}
				}
				st.Close() // the client's FIN
				settle()
				if fault {
					acc, err := srv.AcceptStream() // after the FIN: no ACK
					if err != nil {
						t.Fatal(err)
					}
					go io.Copy(io.Discard, acc)
				}
				go func() {
					if st, err := cli.AcceptStream(); err == nil {
						io.Copy(io.Discard, st)
					}
				}()
				st2, err := srv.OpenStream()
				if err != nil {
					t.Fatal(err)
				}
				st2.Write([]byte("alive"))
				return 6 * time.Second
			},
			text: "the server is not accepting it, or accepted it only after the client's FIN (it was half-closed before any ACK), for which yamux sends no ACK",
		},
		{
			name: "window stall: the server does not read", code: live.CodeWindowStall,
			run: func(t *testing.T, cli, srv *hyamux.Session, fault bool) time.Duration {
				st, err := cli.OpenStream()
				if err != nil {
					t.Fatal(err)
				}
				acc, err := srv.AcceptStream()
				if err != nil {
					t.Fatal(err)
				}
				go st.Write(bytes.Repeat([]byte("w"), 300_000)) // more than the 256 KiB window
				if !fault {
					io.ReadFull(acc, make([]byte, 300_000))
				}
				return 3 * time.Second
			},
			// The writer has filled the window: settle's 30 ms were not
			// always enough for it under load (no finding, map[]).
			ready: func(reg *live.Registry, fault bool) bool {
				ss := reg.Snapshot().Sessions
				if len(ss) != 1 {
					return false
				}
				st := ss[0].Stream(1)
				return !fault || st != nil && !st.Flow[live.ClientToServer].FullSince.IsZero()
			},
			text: "held by a full 256 KiB window",
		},
		{
			name: "GoAway from the server", code: live.CodeGoAway,
			run: func(t *testing.T, cli, srv *hyamux.Session, fault bool) time.Duration {
				if fault {
					if err := srv.GoAway(); err != nil {
						t.Fatal(err)
					}
				}
				if _, err := srv.Ping(); err != nil {
					t.Fatal(err)
				}
				return time.Second
			},
			text: "the server sent GoAway (normal)",
		},
		{
			name: "leak: the server never closes", code: live.CodeLeak,
			run: func(t *testing.T, cli, srv *hyamux.Session, fault bool) time.Duration {
				st, err := cli.OpenStream()
				if err != nil {
					t.Fatal(err)
				}
				st.Write([]byte("RAND"))
				acc, err := srv.AcceptStream()
				if err != nil {
					t.Fatal(err)
				}
				io.ReadFull(acc, make([]byte, 4))
				st.Close()
				if !fault {
					acc.Close()
				}
				return 31 * time.Second
			},
			text: "the server never closes its streams",
		},
	}
	for _, tc := range tests {
		for _, fault := range []bool{true, false} {
			name := tc.name + "/healthy"
			if fault {
				name = tc.name + "/fault"
			}
			t.Run(name, func(t *testing.T) {
				reg := live.New(live.Config{})
				cli, srv, _, _ := yamuxPair(t, reg, nil)
				after := tc.run(t, cli, srv, fault)
				settle()
				if tc.ready != nil {
					smuxtest.Eventually(t, "the session's frames recorded", func() bool { return tc.ready(reg, fault) })
				}
				found := openFindings(reg, time.Now().Add(after), tc.cfg)
				f := found[tc.code]
				if fault && (f == nil || !strings.Contains(f.Text, tc.text) || f.Proto != live.Yamux || strings.Contains(f.Text+f.Advice, "smux")) {
					t.Fatalf("no %v finding saying %q in yamux's words: %v", tc.code, tc.text, found)
				}
				if !fault && f != nil {
					t.Fatalf("a healthy session has %v: %s", tc.code, f.Text)
				}
			})
		}
	}
}

// TestYamuxKeepaliveSilence: with keepalive pings every 20 ms, a server
// that stops sending is a KEEPALIVE finding in yamux's words; one that
// goes on pinging is none.
func TestYamuxKeepaliveSilence(t *testing.T) {
	for _, fault := range []bool{true, false} {
		reg := live.New(live.Config{})
		_, _, _, s2c := yamuxPair(t, reg, func(c, s *hyamux.Config) {
			for _, cfg := range []*hyamux.Config{c, s} {
				cfg.EnableKeepAlive = true
				cfg.KeepAliveInterval = 20 * time.Millisecond
			}
		})
		// Pings both ways set the cadence: two from each side, as the
		// session shows them (a fixed 200 ms saw fewer where a loaded
		// machine started the keepalive loops late).
		smuxtest.Eventually(t, "two pings from each side", func() bool {
			ss := reg.Snapshot().Sessions
			return len(ss) == 1 && ss[0].Pings[live.Client].Sent >= 2 && ss[0].Pings[live.Server].Sent >= 2
		})
		if fault {
			s2c.Freeze()
			time.Sleep(600 * time.Millisecond)
		}
		reg.Evaluate(time.Now(), live.FindingsConfig{SilentAfter: 400 * time.Millisecond})
		// The client, whose keepalive waits for its unanswered ping, falls
		// silent too, and is not to blame: only the server's KEEPALIVE.
		var f *live.Finding
		for _, g := range reg.Snapshot().Findings {
			if g.Code == live.CodeKeepalive && g.Dir == live.ClientToServer {
				t.Errorf("KEEPALIVE for the client, whose keepalive waits for its ping's answer: %s", g.Text)
			}
			if g.Code == live.CodeKeepalive && g.Dir == live.ServerToClient {
				f = g
			}
		}
		switch {
		case fault && (f == nil || f.Dir != live.ServerToClient || !strings.Contains(f.Text, "keepalive ping")):
			t.Errorf("frozen server: no KEEPALIVE for s2c in yamux's words: %+v", f)
		case !fault && f != nil:
			t.Errorf("healthy session: %s", f.Text)
		}
	}
}

// TestYamuxProtocolFinding: smux bytes on a yamux session are a PROTOCOL
// finding that guesses smux and speaks of yamux; a healthy session has none.
func TestYamuxProtocolFinding(t *testing.T) {
	reg := live.New(live.Config{})
	s := reg.Open(live.SessionInfo{Proto: live.Yamux}, t0)
	y := &yamuxFrames{s: s}
	y.rec(c2s, yamux.WindowUpdate, yamux.SYN, 1, 0)
	healthy := openFindings(reg, sec(1), live.FindingsConfig{})
	if f := healthy[live.CodeProtocol]; f != nil {
		t.Fatalf("healthy: %s", f.Text)
	}
	d := yamux.New(64)
	smuxSYN := []byte("\x01\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00")
	_, _, err := d.Next(smuxSYN)
	if err == nil {
		t.Fatal("an smux header decoded as yamux")
	}
	s.ViolationYamux(live.ServerToClient, sec(1), d.Violation())
	f := openFindings(reg, sec(2), live.FindingsConfig{})[live.CodeProtocol]
	if f == nil || f.Evidence.YamuxViolation != yamux.BadVersion || f.Evidence.Guess != wirekind.SmuxV1 ||
		!strings.Contains(f.Text, "not yamux (BAD_VERSION at offset 0)") || !strings.Contains(f.Advice, "yamux ends the session") {
		t.Fatalf("PROTOCOL finding: %+v", f)
	}
}

// TestYamuxBlockedNotStalled: a yamux client that wrote a full window on
// a stream to a server that reads nothing of the connection has its write
// blocked: SESSION_BLOCKED, and no WINDOW_STALL for the stream, whose
// window the server cannot open. The same full window with the writes
// going through is a WINDOW_STALL.
func TestYamuxBlockedNotStalled(t *testing.T) {
	for _, blocked := range []bool{true, false} {
		reg := live.New(live.Config{})
		s := reg.Open(live.SessionInfo{Proto: live.Yamux}, t0)
		y := &yamuxFrames{s: s}
		y.rec(c2s, yamux.WindowUpdate, yamux.SYN, 1, 0)
		y.rec(c2s, yamux.Data, 0, 1, yamux.InitialWindow)
		if blocked {
			s.WriteStarted(c2s)
		}
		cfg := live.FindingsConfig{BlockedAfter: time.Second, StallAfter: time.Second}
		reg.Evaluate(sec(1), cfg)
		found := openFindings(reg, sec(3), cfg)
		switch {
		case blocked && (found[live.CodeSessionBlocked] == nil || found[live.CodeWindowStall] != nil):
			t.Errorf("blocked: %v, want SESSION_BLOCKED and no WINDOW_STALL", found)
		case !blocked && (found[live.CodeWindowStall] == nil || found[live.CodeSessionBlocked] != nil):
			t.Errorf("not blocked: %v, want WINDOW_STALL only", found)
		}
	}
}

// TestSessionBlockedSaysItsSign: SESSION_BLOCKED says what showed it, in
// smux and yamux. Only the receiver's own tap, not in Read, sees it stop
// reading; a held write and a closed window say as much of a receiver
// that reads on, slower than the sender writes (a healthy v1 reader of
// 800 KB/s held its writer's write over 2 s, TestHealthyMatrix; a
// loopback reader of 50 KB/s kept its window closed 2.25 s), and so the
// text says both. Before, each said "the server stopped reading".
func TestSessionBlockedSaysItsSign(t *testing.T) {
	signs := []struct {
		sign live.BlockedSign
		show func(s *live.Session)
	}{
		{live.SignWrite, func(s *live.Session) { s.WriteStarted(c2s) }},
		{live.SignRead, func(s *live.Session) { s.ReadStarted(c2s); s.ReadDone(c2s) }},
		{live.SignWindow, func(s *live.Session) { s.ReceiveWindow(c2s, true, sec(0.4)) }},
	}
	for _, proto := range []string{"smux v1", "smux v2", "yamux"} {
		for _, sg := range signs {
			t.Run(fmt.Sprintf("%s %s", proto, sg.sign.Code()), func(t *testing.T) {
				reg := live.New(live.Config{})
				var s *live.Session
				if proto == "yamux" {
					y := &yamuxFrames{s: reg.Open(live.SessionInfo{Proto: live.Yamux}, t0)}
					y.rec(c2s, yamux.WindowUpdate, yamux.SYN, 1, 0)
					y.rec(c2s, yamux.Data, 0, 1, 1000)
					s = y.s
				} else {
					sc := openSession(reg, uint8(proto[len(proto)-1]-'0'))
					sc.feedAt(sec(0), syn(c2s, 3), psh(c2s, 3, "SINK"))
					s = sc.s
				}
				cfg := live.FindingsConfig{BlockedAfter: 2 * time.Second, Churn: -1}
				sg.show(s)
				reg.Evaluate(sec(0.4), cfg)
				reg.Evaluate(sec(0.5), cfg)
				f := openFindings(reg, sec(2.5), cfg)[live.CodeSessionBlocked]
				if f == nil {
					t.Fatal("no SESSION_BLOCKED")
				}
				if f.Evidence.Sign != sg.sign {
					t.Errorf("sign %v, want %v", f.Evidence.Sign, sg.sign)
				}
				conn := ""
				if proto == "yamux" {
					conn = " the connection"
				}
				var head, why string
				switch sg.sign {
				case live.SignWrite:
					head = "the client's write to the connection has waited 2.1 s"
					why = "the server stopped reading" + conn + ", or it (or the path to it) takes the bytes far slower than the client writes them"
				case live.SignRead:
					head = "the server stopped reading" + conn + " 2.1 s ago"
				case live.SignWindow:
					head = "the server's TCP window has been closed for 2.1 s"
					why = "the server stopped reading" + conn + ", or reads very slowly"
				}
				if want := fmt.Sprintf("session %d is blocked: %s, with 1 stream open", s.ID(), head); !strings.HasPrefix(f.Text, want) {
					t.Errorf("text %q, want it to begin %q", f.Text, want)
				}
				if why != "" && !strings.Contains(f.Text, " — "+why) {
					t.Errorf("text %q, want it to say %q", f.Text, why)
				}
				if why != "" && strings.Contains(f.Text, "ago") {
					t.Errorf("text %q says when the server stopped reading: only its own tap knows", f.Text)
				}
				if proto == "smux v1" && !strings.Contains(f.Text, "(in v1 one unread or slow stream holds every stream once smux's session-wide receive buffer, MaxReceiveBuffer, is full behind it)") {
					t.Errorf("text %q, want v1's session-wide buffer", f.Text)
				}
				full := strings.Contains(f.Text, "(the server's session-wide receive buffer, MaxReceiveBuffer, is full even with v2's windows)")
				if only := strings.Contains(f.Text, "(in v2, with a window per stream, the server's smux stops reading only once its session-wide receive buffer, MaxReceiveBuffer, is full)"); proto == "smux v2" && (full != (why == "") || only != (why != "")) {
					t.Errorf("text %q, want v2's session-wide buffer, full only if the server's tap saw it stop", f.Text)
				}
				if proto == "yamux" {
					stopped := strings.HasPrefix(f.Advice, "find out why the server stopped reading the connection (a hung process, a dead path")
					either := strings.HasPrefix(f.Advice, "find out why the server reads the connection slowly or not at all (a hung or overloaded process")
					if stopped != (why == "") || either != (why != "") || strings.Contains(f.Advice, "slow or dead path") != (sg.sign == live.SignWrite) {
						t.Errorf("advice %q", f.Advice)
					}
				}
			})
		}
	}
}
