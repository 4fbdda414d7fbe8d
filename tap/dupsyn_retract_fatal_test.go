package tap

import (
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// TestYamuxDuplicateSYNRetractedNoProtocol: a tapped raw client opens
// stream 1 on a real hashicorp/yamux v0.1.2 server, then writes a
// DATA|SYN for stream 1 again, and that write fails. hashicorp's yamux
// never sends a second SYN itself, so the client is a frame script; the
// server is real. Where none of the frame went out, the server never saw
// it: its session goes on, and no PROTOCOL finding may say its yamux
// ended the session on it (before, the fatal mark stayed after the tap
// took the frame back: a false critical PROTOCOL). Where the frame's
// header went out, its payload not, the server's yamux reads the header
// and ends the session ("duplicate stream declared"): the PROTOCOL
// finding stays.
func TestYamuxDuplicateSYNRetractedNoProtocol(t *testing.T) {
	syn := rawFrame(yamux.WindowUpdate, yamux.SYN, 1, 0)
	dup := yamux.MakeHeader(yamux.Data, yamux.SYN, 1, 5)
	for _, tc := range []struct {
		name string
		sent int // of the duplicate SYN's bytes
	}{{"nothing sent", 0}, {"its header sent", yamux.HeaderSize}} {
		t.Run(tc.name, func(t *testing.T) {
			reg := live.New(live.Config{History: 64})
			cc, sc := smuxtest.Conns(t)
			srv, log := fatalServer(t, sc, false)
			fc := &cutConn{Conn: cc, limit: len(syn) + tc.sent}
			c := Wrap(fc, live.Client, reg, "cli", WithProtocol(Yamux))
			if _, err := c.Write(syn); err != nil {
				t.Fatal(err)
			}
			smuxtest.Eventually(t, "the server to accept stream 1", func() bool { return srv.NumStreams() == 1 })
			if _, err := c.Write(append(dup[:], "hello"...)); err == nil {
				t.Fatal("the duplicate SYN's write went out; want it failed")
			}
			fatal := tc.sent >= yamux.HeaderSize
			if fatal {
				smuxtest.Eventually(t, "the server's yamux to end the session", func() bool { return srv.IsClosed() })
				if !strings.Contains(log.String(), "duplicate stream declared") {
					t.Fatalf("the server's yamux logged %q", log.String())
				}
			}
			if !fatal && (srv.IsClosed() || srv.NumStreams() != 1 || log.String() != "") {
				// It got the SYN alone: it still has the stream and its session.
				t.Fatalf("the server: closed %v, %d streams, log %q; want open with stream 1", srv.IsClosed(), srv.NumStreams(), log.String())
			}
			c.Close()
			got := protocolOpened(t, reg)
			if !fatal {
				for _, f := range got {
					t.Errorf("PROTOCOL opened for a frame that never went out: %s", f.Text)
				}
				return
			}
			if len(got) != 1 || got[0].Evidence.Fatal != live.DuplicateSYN || got[0].Severity != live.Critical {
				t.Fatalf("PROTOCOL findings %v; want one critical, of the DUPLICATE_SYN the server ended the session on", got)
			}
		})
	}
}

// cutConn sends the first limit bytes written to it on to the conn it
// wraps, and fails every write past them, as a connection reset under a
// write does: the bytes before the cut go out.
type cutConn struct {
	net.Conn
	mu    sync.Mutex
	limit int
}

func (c *cutConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := min(len(p), c.limit)
	c.limit -= n
	if n > 0 {
		if m, err := c.Conn.Write(p[:n]); err != nil {
			return m, err
		}
	}
	if n < len(p) {
		return n, errFailed
	}
	return n, nil
}
