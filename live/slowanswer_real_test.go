package live_test

import (
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/livecaptest"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// slowPair starts name's session ("smux-v1", "smux-v2", "yamux"),
// keepalive off, its client's conn tapped into reg.
func slowPair(t *testing.T, name string, reg *live.Registry) livecaptest.Pair {
	t.Helper()
	return livecaptest.RealPair(t, name, reg, livecaptest.PairConfig{})
}

// writeDone sends the FIN of c's writing side: yamux's Close, smux's
// CloseWrite; the reply can still be read.
func writeDone(c net.Conn) error {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Close()
}

// leaksOf returns the LEAK findings open in reg.
func leaksOf(reg *live.Registry) []*live.Finding {
	var out []*live.Finding
	for _, f := range reg.Snapshot().Findings {
		if f.Code == live.CodeLeak {
			out = append(out, f)
		}
	}
	return out
}

// TestSlowAnswerNoLeakReal: the reviewer's yhalf fault on real smux v1,
// v2 and hashicorp/yamux sessions, keepalive off, the client's conn
// tapped: the client sends four requests, each on a stream of its own,
// half-closes each (smux CloseWrite, yamux Close) and waits for the
// answer; the server, slow, has sent nothing on the session since the
// requests came (in yamux, it accepted the streams after their FINs,
// for which yamux sends no ACK; in smux v2 it has not read them, which
// would send a UPD). Nothing on the wire says the server forgot Close:
// it may be slow, stuck, or not reading at all, and LEAK said "the
// server never closes its streams … call Close() on the server's
// stream" for a handler merely slower than --leak-after. The streams are
// judged alike, and none is a LEAK however long the server stays
// silent; as the answers and the server's FINs come, none is either.
// (UNANSWERED of a silent side opens for them meanwhile: the server has
// sent nothing since the requests, and keepalive is off.)
func TestSlowAnswerNoLeakReal(t *testing.T) {
	const n = 4
	cfg := live.FindingsConfig{LeakAfter: time.Second, Churn: -1}
	for _, name := range []string{"smux-v1", "smux-v2", "yamux"} {
		t.Run(name, func(t *testing.T) {
			reg := live.New(live.Config{})
			m := slowPair(t, name, reg)
			var clients []net.Conn
			for i := range n {
				st, err := m.Cli.OpenStream()
				if err != nil {
					t.Fatal(err)
				}
				if _, err := fmt.Fprintf(st, "REQ %d\n", i); err != nil {
					t.Fatal(err)
				}
				if err := writeDone(st); err != nil {
					t.Fatal(err)
				}
				clients = append(clients, st)
			}
			// The server's session has read every SYN, so the FINs before
			// the last SYN too: accepted now, those streams get no ACK in
			// yamux. The last is accepted only once the answers go.
			smuxtest.Eventually(t, "the server's session read the SYNs", func() bool { return m.Streams() == n })
			var served []net.Conn
			for range n - 1 {
				st, err := m.Srv.AcceptStream()
				if err != nil {
					t.Fatal(err)
				}
				served = append(served, st)
			}
			var sid uint32
			smuxtest.Eventually(t, "the requests recorded", func() bool {
				ss := reg.Snapshot().Sessions
				if len(ss) != 1 || len(ss[0].Streams) != n {
					return false
				}
				for _, st := range ss[0].Streams {
					if st.State != live.HalfClosedByClient {
						return false
					}
					sid = max(sid, st.ID)
				}
				return true
			})
			snap := reg.Snapshot()
			if got := snap.Sessions[0].Counts.FramesDir(live.ServerToClient); got != 0 {
				t.Fatalf("the server sent %d frames before it answered; the fault wants none", got)
			}
			start := snap.Sessions[0].Last
			for at := 100 * time.Millisecond; at <= 5*cfg.LeakAfter; at += 100 * time.Millisecond {
				reg.Evaluate(start.Add(at), cfg)
				if ls := leaksOf(reg); len(ls) != 0 {
					t.Fatalf("%v after the requests, with the server silent since: LEAK %s — %s", at, ls[0].Text, ls[0].Advice)
				}
			}
			// The answers come, late.
			last, err := m.Srv.AcceptStream()
			if err != nil {
				t.Fatal(err)
			}
			served = append(served, last)
			var wg sync.WaitGroup
			for i, st := range served {
				wg.Add(1)
				go func() {
					defer wg.Done()
					io.Copy(io.Discard, st)
					fmt.Fprintf(st, "OK %d\n", i)
					st.Close()
				}()
			}
			for _, st := range clients {
				if b, err := io.ReadAll(st); err != nil || !strings.HasPrefix(string(b), "OK ") {
					t.Fatalf("answer %q, %v", b, err)
				}
				st.Close()
			}
			wg.Wait()
			smuxtest.Eventually(t, "the answers recorded", func() bool {
				ss := reg.Snapshot().Sessions
				return len(ss) == 1 && ss[0].Open == 0
			})
			reg.Evaluate(start.Add(6*cfg.LeakAfter), cfg)
			// smux v1's late answers are DATA_AFTER_CLOSE, which says they
			// are delivered after CloseWrite: its reader sends nothing that
			// would show the client reads on. The server silent since the
			// requests, keepalive off, is UNANSWERED's, of a silent side,
			// once they have waited the longer of --leak-after and
			// --unanswered-after (5 s; in yamux NOPLateness more, past
			// these evaluations), until the answers come. No LEAK, in any.
			for _, r := range findingRecords(reg) {
				switch f := r.Finding; {
				case f.Code == live.CodeDataAfterClose && name == "smux-v1":
				case f.Code == live.CodeUnanswered && name != "yamux" && strings.Contains(f.Text, "the server has sent nothing at all since that request"):
				default:
					t.Errorf("%s %s: %s", r.Kind, r.Finding.Code, r.Finding.Text)
				}
			}
		})
	}
}

// TestClassicLeakStillFoundReal: the twin of TestSlowAnswerNoLeakReal
// that is a leak, on the same real sessions, keepalive off: the server
// accepts a stream and its handler reads the request and returns without
// Close — in yamux and smux v2 sending nothing itself (the library's ACK,
// its UPD for the read, are all that come back), in smux v1, whose reader
// sends nothing, after writing its answer —, the client half-closes the
// stream, and the session is otherwise alive: a second request is
// answered and closed both ways. LEAK opens at the first evaluation past
// --leak-after from the stream's latest frame (in yamux before its first
// ping, NOPLateness later), as before the silent server's excuse: "the
// server never closes its streams … call Close()".
func TestClassicLeakStillFoundReal(t *testing.T) {
	cfg := live.FindingsConfig{LeakAfter: time.Second, Churn: -1}
	for _, name := range []string{"smux-v1", "smux-v2", "yamux"} {
		t.Run(name, func(t *testing.T) {
			reg := live.New(live.Config{})
			m := slowPair(t, name, reg)
			leaked, err := m.Cli.OpenStream()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.WriteString(leaked, "GET /leak"); err != nil {
				t.Fatal(err)
			}
			served, err := m.Srv.AcceptStream()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(served, make([]byte, len("GET /leak"))); err != nil {
				t.Fatal(err)
			}
			if name == "smux-v1" {
				io.WriteString(served, "answer")
			}
			// The handler returns: no Close. Something came back on the
			// stream (yamux's ACK, smux v2's UPD, v1's answer) before the
			// client half-closes it.
			var sid uint32
			smuxtest.Eventually(t, "a frame back on the stream", func() bool {
				ss := reg.Snapshot().Sessions
				if len(ss) != 1 || len(ss[0].Streams) != 1 {
					return false
				}
				st := ss[0].Streams[0]
				sid = st.ID
				return st.Frames[live.ServerToClient] > 0
			})
			if err := writeDone(leaked); err != nil {
				t.Fatal(err)
			}
			// A healthy request after it: the server still serves.
			ok, err := m.Cli.OpenStream()
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(ok, "GET /ok")
			writeDone(ok)
			st, err := m.Srv.AcceptStream()
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, st)
			io.WriteString(st, "fine")
			st.Close()
			if b, err := io.ReadAll(ok); err != nil || string(b) != "fine" {
				t.Fatalf("answer %q, %v", b, err)
			}
			ok.Close()
			var last time.Time
			smuxtest.Eventually(t, "the traffic recorded", func() bool {
				ss := reg.Snapshot().Sessions
				if len(ss) != 1 || ss[0].Open != 1 {
					return false
				}
				for _, st := range ss[0].Streams {
					if st.ID == sid && st.State == live.HalfClosedByClient {
						last = st.Last
						return true
					}
				}
				return false
			})
			// In yamux before the session's first ping, a stream opened in
			// its first second waits NOPLateness more for the ping that
			// would show the server frozen (leakExcuses.graceCut).
			due := last.Add(cfg.LeakAfter)
			if name == "yamux" {
				due = due.Add(live.NOPLateness)
			}
			reg.Evaluate(due.Add(-time.Millisecond), cfg)
			if ls := leaksOf(reg); len(ls) != 0 {
				t.Fatalf("LEAK before it is due: %s", ls[0].Text)
			}
			reg.Evaluate(due.Add(time.Millisecond), cfg)
			ls := leaksOf(reg)
			if len(ls) != 1 || ls[0].Stream != sid || !ls[0].HasDir || ls[0].Dir != live.ServerToClient ||
				!strings.HasPrefix(ls[0].Text, "the server never closes its streams: 1 half-closed by the client") ||
				!strings.Contains(ls[0].Advice, "Close() on the server's stream") {
				t.Fatalf("LEAKs %d at the first evaluation past --leak-after, want the server's of stream %d: %+v", len(ls), sid, ls)
			}
		})
	}
}
