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

// leakWordsAsk opens a stream on m's client and writes req on it; the
// server accepts it (yamux: its ACK) and reads req (smux v2: its UPD),
// and, where ans is not empty, writes ans, which the client reads. Both
// ends stay open.
func leakWordsAsk(t *testing.T, m livecaptest.Pair, req, ans string) (cli, srv net.Conn) {
	t.Helper()
	cli, err := m.Cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(cli, req); err != nil {
		t.Fatal(err)
	}
	if srv, err = m.Srv.AcceptStream(); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(srv, make([]byte, len(req))); err != nil {
		t.Fatal(err)
	}
	if ans != "" {
		if _, err := io.WriteString(srv, ans); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(cli, make([]byte, len(ans))); err != nil {
			t.Fatal(err)
		}
	}
	return cli, srv
}

// recordLeakWords records, by pcapout through a tap on the client, a
// real name session ("smux-v2", "yamux") over loopback TCP, keepalive on
// (every 100 ms): a request served and closed both ways (the next stream
// is no setup stream), then "REQ 1" on a stream of the client's, which
// the server's handler accepts and reads; with answer, it writes "ANS 1"
// back; either way it never closes the stream, nor does the client. The
// recording goes on for hold, keepalives passing, then the sessions
// close. It returns the capture's path, the server's port and the
// stream's id.
func recordLeakWords(t *testing.T, name string, answer bool, hold time.Duration) (path string, port uint16, sid uint32) {
	t.Helper()
	path = writeCapture(t, func(w *pcapout.Writer) {
		reg := live.New(live.Config{})
		opts := []tap.Option{tap.WithProtocol(tap.Yamux), tap.Record(w)}
		if name != "yamux" {
			opts[0] = tap.Version(2)
		}
		m := livecaptest.RealPair(t, name, reg, livecaptest.PairConfig{Keepalive: 100 * time.Millisecond, GiveUp: time.Minute, Tap: opts})
		defer m.Close() // before the recording ends, which holds their close
		port = m.Port()
		warm, srv := leakWordsAsk(t, m, "WARM\n", "OK\n")
		srv.Close()
		warm.Close()
		ans := ""
		if answer {
			ans = "ANS 1\n"
		}
		st, _ := leakWordsAsk(t, m, "REQ 1\n", ans)
		sid = smuxtest.StreamID(st)
		smuxtest.Eventually(t, "the warm-up stream closed, the request recorded", func() bool {
			ss := reg.Snapshot().Sessions
			if len(ss) != 1 || ss[0].Open != 1 {
				return false
			}
			s := ss[0].Stream(sid)
			return s != nil && s.Bytes[live.ClientToServer] == uint64(len("REQ 1\n")) && s.Bytes[live.ServerToClient] == uint64(len(ans))
		})
		time.Sleep(hold)
	})
	return path, port, sid
}

// TestLeakOfUnansweredStreamCaptureReal: live's
// TestLeakOfUnansweredStreamReal through a capture. A real smux v2 and
// hashicorp/yamux session, keepalive on, is recorded to pcapng by the
// client's tap (pcapout) while the server's handler accepts a request,
// reads it and hangs: it never writes back, never closes; the recording
// holds 2 s of keepalives after it. Read back by the capture reader with
// --leak-after 1 s, the stream is a LEAK whose text ends "; stream N
// carried the client's bytes and none back from the server", whose
// advice begins with the leak's own ("a side forgot Close()") and adds
// that the stream got no byte back, its handler may hang, and a
// goroutine dump of the server tells which: the same words as live. The
// twin, a server that answers and never closes, is a LEAK in the leak's
// own words only.
func TestLeakOfUnansweredStreamCaptureReal(t *testing.T) {
	cfg := live.FindingsConfig{LeakAfter: time.Second, UnansweredAfter: 500 * time.Millisecond, Churn: -1}
	for _, name := range []string{"smux-v2", "yamux"} {
		for _, answer := range []bool{false, true} {
			t.Run(name+"/"+map[bool]string{false: "hangs", true: "answers-never-closes"}[answer], func(t *testing.T) {
				t.Parallel() // real time on a pair of its own
				path, port, sid := recordLeakWords(t, name, answer, 2*time.Second)
				reg := readEvaluated(readPackets(t, path), capture.Config{Filter: capture.Port(port)}, cfg)
				recs, _ := reg.Frames(live.Query{From: 1}, nil)
				var leak *live.Finding
				var all strings.Builder
				for _, r := range recs {
					if r.Finding == nil {
						continue
					}
					fmt.Fprintf(&all, "\n  %s %s stream %d: %s — %s", r.Kind, r.Finding.Code, r.Finding.Stream, r.Finding.Text, r.Finding.Advice)
					if r.Kind == live.FindingOpened && r.Finding.Code == live.CodeLeak && leak == nil {
						leak = r.Finding
					}
				}
				if leak == nil || leak.Stream != sid {
					t.Fatalf("want a LEAK of stream %d read from the capture; findings:%s", sid, all.String())
				}
				t.Logf("%s — %s", leak.Text, leak.Advice)
				words := fmt.Sprintf("; stream %d carried the client's bytes and none back from the server", sid)
				closeAdvice := "if they are not meant to live this long, a side forgot Close()"
				if answer {
					if strings.Contains(leak.Text, "none back") || strings.Contains(leak.Advice, "goroutine dump") || !strings.HasPrefix(leak.Advice, closeAdvice) {
						t.Errorf("text %q, advice %q: want the leak's own words", leak.Text, leak.Advice)
					}
					return
				}
				dump := fmt.Sprintf("; stream %d got no byte back: if the server should have answered it, its handler may hang before its answer", sid)
				if !strings.HasSuffix(leak.Text, words) || !strings.HasPrefix(leak.Advice, closeAdvice) || !strings.Contains(leak.Advice, dump) ||
					!strings.Contains(leak.Advice, "goroutine dump of the server") {
					t.Errorf("text %q\nadvice %q\nwant %q at the text's end, the advice %q… and %q", leak.Text, leak.Advice, words, closeAdvice, dump)
				}
			})
		}
	}
}
