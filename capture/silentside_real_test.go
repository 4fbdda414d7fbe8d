package capture_test

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/internal/livecaptest"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// recordSilentServer records, by pcapout through a tap on the client, a
// real name session ("smux-v1", "smux-v2", "yamux") over loopback TCP,
// keepalive off: the client sends 2 requests, each on a stream of its
// own, and the server sends nothing at all until the requests are
// recorded (smux v1: it accepts and reads them, which sends nothing in
// v1; v2: it accepts them, unread; yamux: it has not accepted them, no
// ACK); then it answers each and closes, and the client closes. It
// returns the packets, those after the requests moved later by shift, as
// a server stopped that long would have sent them, and the server's
// port.
func recordSilentServer(t *testing.T, name string, shift time.Duration) (ps []pkt, port uint16) {
	t.Helper()
	const n = 2
	var cut time.Time
	path := writeCapture(t, func(w *pcapout.Writer) {
		reg := live.New(live.Config{})
		opts := []tap.Option{tap.WithProtocol(tap.Yamux), tap.Record(w)}
		if name != "yamux" {
			opts[0] = tap.Version(map[string]int{"smux-v1": 1, "smux-v2": 2}[name])
		}
		// Keepalive off; the sessions close before the recording ends,
		// which holds their close.
		m := livecaptest.RealPair(t, name, reg, livecaptest.PairConfig{Tap: opts})
		defer m.Close()
		port = m.Port()
		open, accept := m.Cli.OpenStream, m.Srv.AcceptStream
		var clients, served []net.Conn
		for i := range n {
			st, err := open()
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(st, "REQ %d\n", i)
			clients = append(clients, st)
		}
		if name != "yamux" {
			for range n {
				st, err := accept()
				if err != nil {
					t.Fatal(err)
				}
				if name == "smux-v1" {
					io.ReadFull(st, make([]byte, len("REQ 0\n")))
				}
				served = append(served, st)
			}
		}
		smuxtest.Eventually(t, "the requests recorded", func() bool {
			ss := reg.Snapshot().Sessions
			if len(ss) != 1 || len(ss[0].Streams) != n || ss[0].Counts.FramesDir(live.ServerToClient) != 0 {
				return false
			}
			for _, st := range ss[0].Streams {
				if st.Bytes[live.ClientToServer] != uint64(len("REQ 0\n")) {
					return false
				}
			}
			cut = ss[0].Last
			return true
		})
		if name == "yamux" {
			for range n {
				st, err := accept()
				if err != nil {
					t.Fatal(err)
				}
				served = append(served, st)
			}
		}
		for _, st := range served {
			io.WriteString(st, "OK\n")
			st.Close()
		}
		for _, st := range clients {
			io.ReadFull(st, make([]byte, len("OK\n")))
			st.Close()
		}
		smuxtest.Eventually(t, "every stream closed", func() bool {
			ss := reg.Snapshot().Sessions
			return len(ss) == 1 && ss[0].Open == 0
		})
		time.Sleep(300 * time.Millisecond) // an evaluation between the answers and the session's end
	})
	return readShifted(t, path, cut, shift), port
}

// TestSilentServerUnansweredCaptureReal: a capture written from real smux
// v1, v2 and hashicorp/yamux sessions, keepalive off, in which the server
// sends nothing at all for 4 s after the client's 2 requests, then
// answers them. Read with --leak-after 1 s (--unanswered-after 0.5 s):
// UNANSWERED of a silent side opens at the first evaluation --leak-after
// after the oldest request (in yamux, whose first ping would come
// KeepAliveInterval into the session, NOPLateness later for a request
// made as the session began), not before, saying the server has sent
// nothing at all since; it resolves as the answers come, saying the
// server sent something. Nothing else opens. Before, nothing opened at
// all.
func TestSilentServerUnansweredCaptureReal(t *testing.T) {
	cfg := live.FindingsConfig{LeakAfter: time.Second, UnansweredAfter: 500 * time.Millisecond, Churn: -1}
	for _, name := range []string{"smux-v1", "smux-v2", "yamux"} {
		t.Run(name, func(t *testing.T) {
			ps, port := recordSilentServer(t, name, 4*time.Second)
			reg := readEvaluated(ps, capture.Config{Filter: capture.Port(port)}, cfg)
			recs, _ := reg.Frames(live.Query{From: 1}, nil)
			var fs []live.Record
			for _, r := range recs {
				if r.Kind == live.FindingOpened || r.Kind == live.FindingResolved {
					fs = append(fs, r)
				}
			}
			if len(fs) != 2 || fs[0].Kind != live.FindingOpened || fs[0].Finding.Code != live.CodeUnanswered || fs[1].Kind != live.FindingResolved {
				var b strings.Builder
				for _, r := range fs {
					fmt.Fprintf(&b, "\n  %s %s: %s", r.Kind, r.Finding.Code, r.Finding.Text)
				}
				t.Fatalf("want UNANSWERED opened and resolved:%s", b.String())
			}
			f := fs[0].Finding
			due := f.Since.Add(cfg.LeakAfter)
			if name == "yamux" {
				due = due.Add(live.NOPLateness)
			}
			if f.Dir != live.ClientToServer || f.Evidence.Count != 2 || fs[0].At.Before(due) || fs[0].At.Sub(due) > 100*time.Millisecond ||
				!strings.Contains(f.Text, "; the server has sent nothing at all since that") || strings.Contains(f.Text, "not accepting") {
				t.Errorf("UNANSWERED dir %v count %d since %v opened %v (due %v): %s", f.Dir, f.Evidence.Count, f.Since, fs[0].At, due, f.Text)
			}
			if d := fs[1].Detail; d != "the server sent something on the session: it is not stopped; the streams got an answer, or closed" {
				t.Errorf("resolved: %q", d)
			}
		})
	}
}
