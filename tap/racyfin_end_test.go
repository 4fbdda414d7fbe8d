package tap

import (
	"bytes"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/headless"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// finGate is a yamux server's conn that, once it has written the FIN of
// stream sid, holds that Write until the conn closes: the server's
// stream Close, which sends the FIN (waiting for its write) before it
// removes the stream, then stays between the two, as it does for an
// instant in the race a FIN again from the peer can hit.
type finGate struct {
	net.Conn
	sid     uint32
	once    sync.Once
	closed  chan struct{}
	release chan struct{} // closed, lets the held Write return; nil: never
}

func (c *finGate) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if err == nil && len(p) == yamux.HeaderSize {
		if h := yamux.Header(p); h.StreamID() == c.sid && h.Flags()&yamux.FIN != 0 {
			select {
			case <-c.closed:
			case <-c.release:
			}
		}
	}
	return n, err
}

func (c *finGate) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// TestYamuxRacyRepeatedFINEndsReal: a raw client (a frame script:
// hashicorp's yamux never sends FIN twice) opens stream 1 on a real
// hashicorp/yamux v0.1.2 server and closes it; the server reads to the
// end and closes it too, its FIN the second. The server's Close sends
// that FIN and only then removes the stream. The client repeats its FIN.
//
// Held between the two (finGate), the server reads the repeat with the
// stream still in state closed, fails ("unexpected FIN flag in state 6")
// and ends the session, closing the connection right after the frame:
// that end is the racy REPEATED_FIN's, and a critical PROTOCOL finding
// must say so. Before, none opened: the session ended unexplained.
// Its twin, the repeat sent once the server has removed the stream, is
// ignored ("frame for missing stream"), the session goes on until the
// client closes it: no PROTOCOL.
func TestYamuxRacyRepeatedFINEndsReal(t *testing.T) {
	for _, held := range []bool{true, false} {
		name := "the server's Close held"
		if !held {
			name = "the stream removed"
		}
		t.Run(name, func(t *testing.T) {
			reg := live.New(live.Config{History: 64})
			cc, sc := smuxtest.Conns(t)
			var sconn net.Conn = sc
			if held {
				sconn = &finGate{Conn: sc, sid: 1, closed: make(chan struct{})}
			}
			srv, log := fatalServer(t, sconn, true)
			c := Wrap(cc, live.Client, reg, "cli", WithProtocol(Yamux))
			write := rawWrites(t, c)
			write(rawFrame(yamux.WindowUpdate, yamux.SYN, 1, 0))
			write(rawFrame(yamux.WindowUpdate, yamux.FIN, 1, 0))
			readUntilFIN(t, c, new([]byte), 1)
			if !held {
				smuxtest.Eventually(t, "the server to remove stream 1", func() bool { return srv.NumStreams() == 0 })
			}
			write(rawFrame(yamux.WindowUpdate, yamux.FIN, 1, 0))
			if held {
				smuxtest.Eventually(t, "the server's yamux to end the session", func() bool { return srv.IsClosed() })
				if !strings.Contains(log.String(), "unexpected FIN flag in state 6") {
					t.Fatalf("the server's yamux logged %q", log.String())
				}
				for { // its close: EOF (a GoAway may come first)
					if _, err := c.Read(make([]byte, 64)); err != nil {
						break
					}
				}
			} else {
				smuxtest.Eventually(t, "the server's yamux to ignore the FIN", func() bool {
					return strings.Contains(log.String(), "frame for missing stream")
				})
				if srv.IsClosed() {
					t.Fatalf("the server's session ended: %s", log.String())
				}
			}
			c.Close()
			ss := reg.Snapshot().Sessions[0]
			// Held, the repeat comes right after the server's FIN, within
			// live.RacyFINWindow (tens of µs to a few ms measured under
			// -race): a REPEATED_FIN. Removed, it is one too if it came
			// within that window (the wire cannot tell), else untracked,
			// yamux having removed the stream: a loaded machine decides.
			if n := ss.AnomaliesBy[live.RepeatedFIN]; n != 1 && (held || n != 0) {
				t.Errorf("REPEATED_FIN %d, want 1", n)
			}
			opened := protocolOpened(t, reg)
			if !held {
				for _, f := range opened {
					t.Errorf("PROTOCOL opened for a FIN the server ignored: %s", f.Text)
				}
				return
			}
			if len(opened) != 1 {
				t.Fatalf("%d PROTOCOL findings opened, want 1", len(opened))
			}
			f := opened[0]
			if f.Severity != live.Critical || f.Dir != live.ClientToServer || f.Stream != 1 || f.Evidence.Fatal != live.RepeatedFIN {
				t.Errorf("finding %v %v sid %d fatal %v, want critical c2s sid 1 REPEATED_FIN", f.Severity, f.Dir, f.Stream, f.Evidence.Fatal)
			}
			for _, w := range []string{"the client sent a second FIN on stream 1", "its own FIN", `the server's yamux failed with "unexpected flag"`} {
				if !strings.Contains(f.Text, w) {
					t.Errorf("text %q\nwant it to say %q", f.Text, w)
				}
			}
			// The JSON record says the race (before, nothing told a
			// consumer this REPEATED_FIN from a plain one).
			var out bytes.Buffer
			if _, err := headless.NewPrinter(reg, &out, headless.JSON).Finish(headless.Options{}); err != nil {
				t.Fatal(err)
			}
			for _, line := range strings.Split(out.String(), "\n") {
				if strings.Contains(line, `"type":"finding-opened"`) && strings.Contains(line, `"code":"PROTOCOL"`) &&
					!strings.Contains(line, `"violation":"REPEATED_FIN","racy":true`) {
					t.Errorf("finding-opened %s\nwant \"violation\":\"REPEATED_FIN\",\"racy\":true", line)
				}
			}
		})
	}
}
