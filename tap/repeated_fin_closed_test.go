package tap

import (
	"net"
	"strings"
	"testing"

	hyamux "github.com/hashicorp/yamux"

	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// TestYamuxFINAfterBothFINsReal: a raw client opens stream 1 on a real
// hashicorp/yamux server, which closes it at once (closeFirstServer);
// the client's FIN, read after the server's, closes it both ways, and
// the server's recv loop removes it (processFlags, closeStream) before
// it reads the next frame. A second FIN from the client on it then names
// a stream the server no longer has: yamux ignores it ("[WARN] yamux:
// frame for missing stream"). muxtop must say so whether it still keeps
// stream 1 in detail or has folded it (ClosedStreams 1, and stream 3
// closed after it): an untracked frame, no anomaly. Before, the stream
// kept in detail took the frame with a REPEATED_FIN anomaly, the folded
// one none. (Where the server's FIN is the second, its Close sends it
// before removing the stream, and the repeat is racy:
// live.TestYamuxRepeatedFINOrder.)
func TestYamuxFINAfterBothFINsReal(t *testing.T) {
	for _, folded := range []bool{false, true} {
		name := "kept in detail"
		if folded {
			name = "folded"
		}
		t.Run(name, func(t *testing.T) {
			reg, srv, log, write := closedBothWays(t, folded)
			write(rawFrame(yamux.WindowUpdate, yamux.FIN, 1, 0))
			smuxtest.Eventually(t, "the server's yamux to ignore the FIN", func() bool {
				return strings.Contains(log.String(), "frame for missing stream")
			})
			if srv.IsClosed() {
				t.Fatalf("the server's session ended: %s", log.String())
			}
			ss := reg.Snapshot().Sessions[0]
			want := uint64(1) // the FIN; no Ping, no GoAway
			if ss.AnomaliesBy[live.RepeatedFIN] != 0 || ss.AnomalyCount != 0 || ss.Untracked.Frames[live.ClientToServer] != want {
				t.Errorf("anomalies %v (%d), untracked c2s %d frames; want none, the FIN untracked (%d)",
					ss.AnomaliesBy, ss.AnomalyCount, ss.Untracked.Frames[live.ClientToServer], want)
			}
			if st := ss.Stream(1); st != nil && st.State != live.Closed {
				t.Errorf("stream 1 %v, want closed", st.State)
			}
		})
	}
}

// finOn reports whether the yamux headers in b (the server sends no DATA
// here) hold a FIN on stream sid.
func finOn(b []byte, sid uint32) bool {
	for ; len(b) >= yamux.HeaderSize; b = b[yamux.HeaderSize:] {
		h := yamux.Header(b[:yamux.HeaderSize])
		if h.StreamID() == sid && h.Flags()&yamux.FIN != 0 {
			return true
		}
	}
	return false
}

// closedBothWays opens stream 1 from a raw, tapped client on a real
// yamux server that closes each stream at once (closeFirstServer), and
// closes it both ways with the client's FIN after the server's; where
// folded, stream 3 too, so that the registry (ClosedStreams 1) folds
// stream 1. It returns the registry, the server, its log, and a write of
// raw frames from the client.
func closedBothWays(t *testing.T, folded bool) (*live.Registry, *hyamux.Session, *lockedLog, func([]byte)) {
	t.Helper()
	reg := live.New(live.Config{ClosedStreams: 1})
	cc, sc := smuxtest.Conns(t)
	srv, log := closeFirstServer(t, sc)
	c := Wrap(cc, live.Client, reg, "cli", WithProtocol(Yamux))
	write := rawWrites(t, c)
	var got []byte
	closeBothWays := func(sid uint32) {
		t.Helper()
		write(rawFrame(yamux.WindowUpdate, yamux.SYN, sid, 0))
		readUntilFIN(t, c, &got, sid)
		write(rawFrame(yamux.WindowUpdate, yamux.FIN, sid, 0))
	}
	closeBothWays(1)
	if folded {
		closeBothWays(3)
	}
	if kept := reg.Snapshot().Sessions[0].Stream(1) != nil; kept == folded {
		t.Fatalf("stream 1 kept in detail: %v, want %v", kept, !folded)
	}
	return reg, srv, log, write
}

// rawWrites returns a write of raw frames to c that fails the test on an
// error.
func rawWrites(t *testing.T, c net.Conn) func([]byte) {
	return func(b []byte) {
		t.Helper()
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
	}
}

// readUntilFIN reads c, appending to got, until got holds the server's
// FIN on stream sid.
func readUntilFIN(t *testing.T, c net.Conn, got *[]byte, sid uint32) {
	t.Helper()
	for !finOn(*got, sid) {
		b := make([]byte, 64)
		n, err := c.Read(b)
		if err != nil {
			t.Fatalf("reading the server's FIN on stream %d: %v (got % x)", sid, err, *got)
		}
		*got = append(*got, b[:n]...)
	}
}
