package live_test

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// TestStallWriterAfterReaderFINReal: on a real smux v2 session (v1.5.58,
// default 64 KiB MaxStreamBuffer) the client writes 1 MiB on a stream;
// the server reads 4 KiB and calls Close. smux v2's Write does not
// return at the peer's FIN (writeV2 waits on chUpdate, its deadline, its
// own close and the session's, not on chFinEvent, which fin() closes),
// and a reader that called Close sends no UPD again: the client's Write
// is stuck, 252 KiB in flight against the 64 KiB window, until the
// session ends. Before, the reader's FIN ended the hold, and 5 s later
// (--leak-after) LEAK said "the client never closes its streams … call
// Close() on the client's stream when it is done", of a writer whose
// Write cannot return to call it. Now WINDOW_STALL, --stall-after
// (2 s) into the hold, says the reader sent FIN with bytes unread and
// that smux v2's Write does not return at it, and advises a write
// deadline, or reading to EOF, or stopping at the Read's io.EOF; no
// LEAK. Its twin, a client whose reading goroutine Closes the stream at
// the server's FIN (io.EOF), as the advice says, ends its Write (io.ErrClosedPipe)
// and opens neither.
func TestStallWriterAfterReaderFINReal(t *testing.T) {
	for _, twin := range []bool{false, true} {
		name := "stuck"
		if twin {
			name = "closes at EOF"
		}
		t.Run(name, func(t *testing.T) {
			reg := live.New(live.Config{})
			clk := &vclock{now: t0}
			sess := reg.Open(live.SessionInfo{Client: "127.0.0.1:1000", Server: "127.0.0.1:9000", Tap: live.Client, Label: "test"}, t0)
			cfg := smuxtest.Config(2)
			cfg.KeepAliveDisabled = true // no NOPs at real times
			cli, srv := smuxtest.Pair(t, cfg,
				func(c net.Conn) net.Conn {
					return &vtap{Conn: c, clk: clk, sess: sess, dir: live.ClientToServer, smux: decoder.New(64)}
				},
				func(c net.Conn) net.Conn {
					return &vtap{Conn: c, clk: clk, sess: sess, dir: live.ServerToClient, smux: decoder.New(64)}
				})
			w, err := cli.OpenStream()
			if err != nil {
				t.Fatal(err)
			}
			type result struct {
				n   int
				err error
			}
			done := make(chan result, 1)
			go func() {
				n, err := w.Write(make([]byte, 1<<20))
				done <- result{n, err}
			}()
			if twin {
				// The advice: stop writing once a Read returns io.EOF.
				go func() {
					io.Copy(io.Discard, w)
					w.Close()
				}()
			}
			r, err := srv.AcceptStream()
			if err != nil {
				t.Fatal(err)
			}
			sid := w.ID()
			smuxtest.Eventually(t, "the writer to fill the 256 KiB window it starts with", func() bool {
				st := reg.Snapshot().Sessions[0].Stream(sid)
				return st != nil && !st.Flow[live.ClientToServer].FullSince.IsZero()
			})
			if _, err := io.ReadFull(r, make([]byte, 4096)); err != nil {
				t.Fatal(err)
			}
			r.Close()
			// A stream of the server's, after the FIN: once the client has
			// read it, its recvLoop has handled the FIN before it.
			o, err := srv.OpenStream()
			if err != nil {
				t.Fatal(err)
			}
			o.Write([]byte("x"))
			a, err := cli.AcceptStream()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(a, make([]byte, 1)); err != nil {
				t.Fatal(err)
			}
			a.Close()
			o.Close()
			if twin {
				if res := <-done; res.err != io.ErrClosedPipe {
					t.Fatalf("the twin's Write returned %d, %v; want io.ErrClosedPipe from its Close at EOF", res.n, res.err)
				}
			}
			smuxtest.Eventually(t, "the frames recorded", func() bool {
				st := reg.Snapshot().Sessions[0].Stream(sid)
				if twin {
					return st != nil && st.State == live.Closed || st == nil
				}
				return st != nil && st.State == live.HalfClosedByServer && st.Flow[live.ClientToServer].HasUPD
			})
			fcfg := live.FindingsConfig{StallAfter: 2 * time.Second, LeakAfter: 5 * time.Second, UnansweredAfter: time.Hour, Churn: -1}
			for at := t0; at.Before(t0.Add(20 * time.Second)); at = at.Add(100 * time.Millisecond) {
				reg.Evaluate(at, fcfg)
			}
			recs := findingRecords(reg)
			t.Log(describeRecords(recs))
			if twin {
				if len(recs) != 0 {
					t.Errorf("findings of a writer that closed at the reader's FIN:%s", describeRecords(recs))
				}
				return
			}
			select {
			case res := <-done:
				t.Fatalf("the Write returned %d, %v at the reader's FIN: smux v2's does not", res.n, res.err)
			default:
			}
			var stall *live.Finding
			for _, r := range recs {
				if r.Finding.Code == live.CodeLeak {
					t.Errorf("LEAK of a writer stuck in Write: %s — %s", r.Finding.Text, r.Finding.Advice)
				}
				if r.Finding.Code == live.CodeWindowStall && r.Kind == live.FindingOpened {
					stall = r.Finding
				}
			}
			if stall == nil {
				t.Fatalf("no WINDOW_STALL opened:%s", describeRecords(recs))
			}
			for _, want := range []string{
				"stream 3: the client's writer has been held for ",
				": 252 KiB in flight (sent, not consumed per the server's latest UPD) against the 64 KiB window it announced; it writes on once a UPD reports over 188 KiB more consumed",
				"— its reader, the server, sent FIN with 252 KiB unread, and smux v2's Write does not return at the peer's FIN: unless the server half-closed with CloseWrite and reads on, no UPD comes, and the client's Write waits for its write deadline, its own Close, or the session's end",
			} {
				if !strings.Contains(stall.Text, want) {
					t.Errorf("text %q\nwant %q", stall.Text, want)
				}
			}
			if stall.Dir != live.ClientToServer || stall.Evidence.Bytes != 258048 || stall.Evidence.Window != 65536 ||
				!strings.Contains(stall.Advice, "SetWriteDeadline") || !strings.Contains(stall.Advice, "to io.EOF before closing it") || !strings.Contains(stall.Advice, "once its Read returns io.EOF") {
				t.Errorf("dir %v, bytes %d, window %d, advice %q", stall.Dir, stall.Evidence.Bytes, stall.Evidence.Window, stall.Advice)
			}
			cli.Close() // the session's end ends the Write
			if res := <-done; res.err == nil {
				t.Errorf("the Write returned %d, nil at the session's end", res.n)
			}
		})
	}
}
