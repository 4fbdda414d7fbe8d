package capture_test

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// recordHalfClosedRequest records, by pcapout through a tap on the
// client, a real smux v1 session over loopback TCP, keepalive off: the
// client sends "REQ 1" on a stream and half-closes it (CloseWrite). If
// leak, the server's handler reads it, answers and returns without Close,
// and the client then sends a second request, answered and closed both
// ways; else the server answers it, and closes, only once the request
// is recorded: a slow handler. It returns the packets, with those after
// the point named (the late answer; the second request) moved later by
// shift, as a handler that slow, a client that pauses so long, would
// have sent them; and the server's port.
func recordHalfClosedRequest(t *testing.T, leak bool, shift time.Duration) (ps []pkt, port uint16) {
	t.Helper()
	var cut time.Time
	path := writeCapture(t, func(w *pcapout.Writer) {
		reg := live.New(live.Config{})
		cc, sc := smuxtest.Conns(t)
		port = uint16(sc.LocalAddr().(*net.TCPAddr).Port)
		cfg := smuxtest.Config(1)
		cfg.KeepAliveDisabled = true
		cli, err := smux.Client(tap.Wrap(cc, live.Client, reg, "test", tap.Version(1), tap.Record(w)), cfg)
		if err != nil {
			t.Fatal(err)
		}
		srv, err := smux.Server(sc, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		defer cli.Close()
		st, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(st, "REQ 1\n")
		st.CloseWrite()
		served, err := srv.AcceptStream()
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, served)
		if leak {
			io.WriteString(served, "answer") // and no Close
			if _, err := io.ReadFull(st, make([]byte, len("answer"))); err != nil {
				t.Fatal(err)
			}
		}
		smuxtest.Eventually(t, "the exchange recorded", func() bool {
			ss := reg.Snapshot().Sessions
			if len(ss) != 1 || len(ss[0].Streams) != 1 || ss[0].Streams[0].State != live.HalfClosedByClient ||
				leak != (ss[0].Streams[0].Frames[live.ServerToClient] > 0) {
				return false
			}
			cut = ss[0].Last
			return true
		})
		if leak {
			ok, err := cli.OpenStream()
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(ok, "GET /ok")
			ok.CloseWrite()
			s2, err := srv.AcceptStream()
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, s2)
			io.WriteString(s2, "fine")
			s2.Close()
			io.ReadAll(ok)
			ok.Close()
		} else {
			io.WriteString(served, "OK 1\n")
			served.Close()
			io.ReadAll(st)
			st.Close()
		}
		smuxtest.Eventually(t, "every stream closed", func() bool {
			ss := reg.Snapshot().Sessions
			return len(ss) == 1 && ss[0].Open == 1 == leak
		})
	})
	return readShifted(t, path, cut, shift), port
}

// TestSlowAnswerNoLeakCaptureReal: the slow handler of the reviewer's
// yhalf capture, in a capture written from a real smux v1 session: the
// client half-closes its request, and the server, slow, sends nothing
// on the session until its answer and FIN come 3 s later. Read with a
// 1 s --leak-after, no LEAK: the server had sent nothing since the
// request (before, "the server never closes its streams … call Close()"
// opened 1 s after it). Its twin, the classic leak — the server
// answers and never closes, and serves a second request 2 s later — is
// the server's LEAK 1 s after the stream's latest frame.
func TestSlowAnswerNoLeakCaptureReal(t *testing.T) {
	cfg := live.FindingsConfig{LeakAfter: time.Second, Churn: -1}
	for _, leak := range []bool{false, true} {
		name := map[bool]string{false: "slow", true: "leak"}[leak]
		t.Run(name, func(t *testing.T) {
			ps, port := recordHalfClosedRequest(t, leak, map[bool]time.Duration{false: 3 * time.Second, true: 2 * time.Second}[leak])
			reg := readEvaluated(ps, capture.Config{Filter: capture.Port(port)}, cfg)
			var leaks []*live.Finding
			recs, _ := reg.Frames(live.Query{From: 1}, nil)
			for _, r := range recs {
				if r.Kind == live.FindingOpened && r.Finding.Code == live.CodeLeak {
					leaks = append(leaks, r.Finding)
				}
			}
			if !leak {
				for _, f := range leaks {
					t.Errorf("LEAK of a request the server answered 3 s late, silent till then: %s — %s", f.Text, f.Advice)
				}
				return
			}
			if len(leaks) != 1 || leaks[0].Stream != 3 || !strings.HasPrefix(leaks[0].Text, "the server never closes its streams: 1 half-closed by the client") ||
				leaks[0].Opened.Sub(leaks[0].Since) > cfg.LeakAfter+200*time.Millisecond {
				t.Fatalf("LEAKs %d, want the server's of stream 3, opened within an evaluation of --leak-after: %+v", len(leaks), leaks)
			}
		})
	}
}
