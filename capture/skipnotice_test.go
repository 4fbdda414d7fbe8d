package capture_test

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// prefixedYamux records, into w, a real hashicorp/yamux session over
// loopback TCP whose client sends one byte (4) before the mux, as
// Consul's RPC port expects, with one stream echoed and closed. It
// returns the client's and the server's addresses.
func prefixedYamux(t *testing.T, w *pcapout.Writer) (client, server string) {
	t.Helper()
	cc, sc := smuxtest.Conns(t)
	return yamuxOn(t, w, cc, sc, []byte{4})
}

// plainYamux is prefixedYamux with no prefix.
func plainYamux(t *testing.T, w *pcapout.Writer) (client, server string) {
	t.Helper()
	cc, sc := smuxtest.Conns(t)
	return yamuxOn(t, w, cc, sc, nil)
}

// untold is a Writer as a tap.TransportRecorder alone: its capture holds
// what the wire shows and not what the tap was told (tap.ToldRecorder),
// as tcpdump's of the connection, or a muxtop's from before it, does.
type untold struct{ w *pcapout.Writer }

func (u untold) Conn(client, server string, at time.Time) tap.ConnRecorder {
	return u.w.Conn(client, server, at)
}

func (u untold) ConnOver(client, server, transport string, at time.Time) tap.ConnRecorder {
	return u.w.ConnOver(client, server, transport, at)
}

// yamuxOn is prefixedYamux over cc and sc, the client's and the server's
// ends of a loopback TCP connection, with prefix before the mux.
func yamuxOn(t *testing.T, w *pcapout.Writer, cc, sc net.Conn, prefix []byte) (client, server string) {
	t.Helper()
	var c net.Conn = tap.Wrap(cc, live.Client, live.New(live.Config{}), "test", tap.WithProtocol(tap.Yamux), tap.Skip(len(prefix)), tap.Record(untold{w}))
	if len(prefix) > 0 {
		if _, err := c.Write(prefix); err != nil {
			t.Fatal(err)
		}
	}
	// The server's mux begins past the prefix, which the client has
	// written and loopback holds.
	if _, err := io.ReadFull(sc, make([]byte, len(prefix))); err != nil {
		t.Fatal(err)
	}
	smuxtest.Mux{}.EchoRoundTrip(t, c, sc)
	return cc.LocalAddr().String(), cc.RemoteAddr().String()
}

// httpExchange records, into w, one HTTP/1 request and its answer over
// a loopback TCP connection.
func httpExchange(t *testing.T, w *pcapout.Writer) {
	t.Helper()
	cc, sc := smuxtest.Conns(t)
	c := tap.Wrap(cc, live.Client, live.New(live.Config{}), "test", tap.Record(w))
	deliver(t, c, sc, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	deliver(t, sc, c, []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
	c.Close()
	sc.Close()
}

// notices returns the texts of the registry's notices, in order.
func notices(reg *live.Registry) []string {
	var out []string
	recs, _ := reg.Frames(live.Query{From: 1}, nil)
	for _, r := range recs {
		if r.Kind == live.NoticeRecord {
			out = append(out, r.Detail)
		}
	}
	return out
}

// TestSkippedConnectionNotice: a connection read skips because its bytes
// are neither smux nor yamux is named in a notice, with what it looks
// like and the flags that would decode it, where before it was only
// counted ("mux 0 skipped 1") and the user saw an empty capture without
// a word. A yamux session behind a one-byte prefix (Consul's RPC port)
// points at --skip 1, which then decodes it; HTTP at --port; past five,
// one notice at the end sums up the rest.
func TestSkippedConnectionNotice(t *testing.T) {
	t.Run("prefixed yamux", func(t *testing.T) {
		var client, server string
		path := writeCapture(t, func(w *pcapout.Writer) { client, server = prefixedYamux(t, w) })
		reg, st := readFileInto(t, path, capture.Filter{})
		if st.Decoded != 0 || st.Skipped != 1 {
			t.Fatalf("decoded %d, skipped %d; want the connection skipped", st.Decoded, st.Skipped)
		}
		ns := notices(reg)
		if len(ns) != 1 {
			t.Fatalf("notices %q, want one naming the skipped connection", ns)
		}
		for _, want := range []string{"skipped " + client + " → " + server, "neither smux nor yamux", "a byte and then a yamux header", "--skip 1"} {
			if !strings.Contains(ns[0], want) {
				t.Errorf("notice %q does not say %q", ns[0], want)
			}
		}
		// What the notice says to try decodes it.
		reg = readEvaluated(readPackets(t, path), capture.Config{Skip: 1}, live.FindingsConfig{})
		snap := reg.Snapshot()
		if len(snap.Sessions) != 1 || snap.Sessions[0].Proto != live.Yamux || snap.StreamsTotal != 1 || snap.Violations != 0 {
			t.Errorf("with --skip 1: %s, want the yamux session and its stream", counts(snap))
		}
		if ns := notices(reg); len(ns) != 0 {
			t.Errorf("with --skip 1 the connection is decoded, yet notices %q", ns)
		}
	})
	t.Run("http, bounded", func(t *testing.T) {
		path := writeCapture(t, func(w *pcapout.Writer) {
			for range 7 {
				httpExchange(t, w)
			}
		})
		reg, st := readFileInto(t, path, capture.Filter{})
		if st.Skipped != 7 {
			t.Fatalf("skipped %d, want 7", st.Skipped)
		}
		ns := notices(reg)
		if len(ns) != 6 {
			t.Fatalf("%d notices %q, want 5 naming a connection and one summing up the other 2", len(ns), ns)
		}
		for _, n := range ns[:5] {
			if !strings.Contains(n, "the client sent an HTTP request") || !strings.Contains(n, "--port ") {
				t.Errorf("notice %q: want what the client sent and --port", n)
			}
		}
		if want := "2 more connections skipped, neither smux nor yamux (7 in all"; !strings.Contains(ns[5], want) {
			t.Errorf("last notice %q, want %q", ns[5], want)
		}
	})
}
