package tap

import (
	"strings"
	"testing"

	hyamux "github.com/hashicorp/yamux"

	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// TestYamuxDuplicateSYNAfterGoAwayExceededReal: a raw client (a frame
// script: hashicorp's yamux never sends a second SYN) opens stream 1 on a
// real hashicorp/yamux v0.1.2 server, which reads nothing of it, and
// fills all but 4 bytes of its 256 KiB window; the server sends GoAway;
// the client sends a DATA|SYN for stream 1 again, of 5 bytes, past the 4
// its window has free. Having sent GoAway, the server's incomingStream answers
// the SYN with an RST and returns no error; handleStreamMessage gives the
// frame to the stream it has, whose readData fails ("receive window
// exceeded") and ends the session. muxtop must name the frame
// WINDOW_EXCEEDED and open the critical PROTOCOL that says the server's
// yamux ended the session on it. Before, the frame was DUPLICATE_SYN
// alone, which yamux survives after its GoAway: no PROTOCOL.
func TestYamuxDuplicateSYNAfterGoAwayExceededReal(t *testing.T) {
	reg := live.New(live.Config{History: 64})
	cc, sc := smuxtest.Conns(t)
	done := make(chan struct{})
	defer close(done)
	srv, log := yamuxServer(t, sc, func(*hyamux.Stream) { <-done })
	c := Wrap(cc, live.Client, reg, "cli", WithProtocol(Yamux))
	if _, err := c.Write(rawFrame(yamux.WindowUpdate, yamux.SYN, 1, 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(rawFrame(yamux.Data, 0, 1, 256<<10-4)); err != nil {
		t.Fatal(err)
	}
	smuxtest.Eventually(t, "the server to accept stream 1", func() bool { return srv.NumStreams() == 1 })
	if err := srv.GoAway(); err != nil {
		t.Fatal(err)
	}
	var got []byte
	for !goAwayIn(got) { // the tap records it as the client reads it
		b := make([]byte, 64)
		n, err := c.Read(b)
		if err != nil {
			t.Fatalf("reading the server's GoAway: %v (got % x)", err, got)
		}
		got = append(got, b[:n]...)
	}
	if _, err := c.Write(rawFrame(yamux.Data, yamux.SYN, 1, 5)); err != nil {
		t.Fatal(err)
	}
	smuxtest.Eventually(t, "the server's yamux to end the session", func() bool { return srv.IsClosed() })
	if !strings.Contains(log.String(), "receive window exceeded (stream: 1, remain: 4, recv: 5)") {
		t.Fatalf("the server's yamux logged %q", log.String())
	}
	c.Read(make([]byte, 64)) // EOF: the tap's session ends
	c.Close()
	opened := protocolOpened(t, reg)
	ss := reg.Snapshot().Sessions[0]
	if ss.AnomaliesBy[live.WindowExceeded] != 1 {
		t.Errorf("anomalies %v, want the frame WINDOW_EXCEEDED", ss.AnomaliesBy)
	}
	if len(opened) != 1 || opened[0].Evidence.Fatal != live.WindowExceeded || opened[0].Severity != live.Critical || opened[0].Stream != 1 {
		var texts []string
		for _, f := range opened {
			texts = append(texts, f.Text)
		}
		t.Fatalf("PROTOCOL findings %q; want one critical, of the WINDOW_EXCEEDED the server ended the session on", texts)
	}
	if w := "a DATA frame of 5 B on stream 1, 1 B past the 4 B its receive window had free (WINDOW_EXCEEDED)"; !strings.Contains(opened[0].Text, w) {
		t.Errorf("text %q\nwant it to say %q", opened[0].Text, w)
	}
}

// goAwayIn reports whether the yamux headers in b (no DATA) hold a GoAway.
func goAwayIn(b []byte) bool {
	for ; len(b) >= yamux.HeaderSize; b = b[yamux.HeaderSize:] {
		if yamux.Header(b[:yamux.HeaderSize]).Type() == yamux.GoAway {
			return true
		}
	}
	return false
}
