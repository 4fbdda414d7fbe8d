package capture_test

import (
	"testing"
	"time"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
)

// TestPickedNotMuxDecodedAtOnce: an HTTP client at the port read was told
// to decode (--port, --protocol auto); the client keeps its end open for
// 8 s. Its bytes chain as neither protocol, and no frame found later in
// them could make the connection smux or yamux, since it began at its
// SYN: it is decoded as a tap decodes it once that is so and the server
// has closed, or has said nothing for 2 s (smux, as in the protocol
// fault, reads no further and says nothing). PROTOCOL used to wait for
// the connection's end.
func TestPickedNotMuxDecodedAtOnce(t *testing.T) {
	for _, c := range []struct {
		name   string
		closes bool // the server closes at once
		by     time.Duration
	}{{"server closes", true, time.Second}, {"server silent", false, 3500 * time.Millisecond}} {
		t.Run(c.name, func(t *testing.T) { pickedNotMux(t, c.closes, c.by) })
	}
}

func pickedNotMux(t *testing.T, closes bool, by time.Duration) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	path := writeCapture(t, func(w *pcapout.Writer) {
		c := w.Conn("127.0.0.1:40011", "127.0.0.1:9000", t0)
		c.Write(live.ClientToServer, t0.Add(100*time.Millisecond), []byte("GET /rand HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n\r\n"))
		if closes {
			c.End(live.ServerToClient, t0.Add(110*time.Millisecond))
		}
		other := w.Conn("127.0.0.1:40012", "127.0.0.1:9001", t0) // packets of another connection: capture time goes on
		for at := time.Duration(0); at < 8*time.Second; at += 500 * time.Millisecond {
			other.Write(live.ClientToServer, t0.Add(at), []byte("x"))
		}
		c.End(live.ClientToServer, t0.Add(8*time.Second))
	})
	fs := findingsOf(t, readPackets(t, path), capture.Port(9000), live.FindingsConfig{Churn: -1})
	var opened []live.Record
	for _, r := range fs {
		if r.Kind == live.FindingOpened {
			opened = append(opened, r)
		}
	}
	if len(opened) == 0 || opened[0].Finding.Code != live.CodeProtocol {
		t.Fatalf("findings opened: %v, want PROTOCOL first", opened)
	}
	if at := opened[0].At.Sub(t0); at > by {
		t.Errorf("PROTOCOL opened at %v, want by %v", at, by)
	}
}
