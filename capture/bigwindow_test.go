package capture_test

import (
	"io"
	"testing"

	hyamux "github.com/hashicorp/yamux"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
)

// TestYamuxBigWindowFromSYN: real hashicorp/yamux v0.1.2 ends whose
// MaxStreamWindowSize is 4 MiB, recorded from their SYNs by a tap: three
// streams, each a 4-byte request answered by 3 MiB in one Write, which
// yamux sends as one Data frame, the client having announced its 4 MiB
// window in its SYN. The probes' chain of headers bounds a Data frame by
// the default window (256 KiB), so the server's direction chained from
// its first byte for two headers only and then nowhere: read and sniff
// skipped the connection, 0 sessions. It is now decoded from its SYN,
// every frame the tap saw, with the windows the ends announced.
func TestYamuxBigWindowFromSYN(t *testing.T) {
	path, tappedSnap := recordBigWindow(t)
	tapped := tappedSnap.Counts
	reg := readEvaluated(readPackets(t, path), capture.Config{}, live.FindingsConfig{})
	snap := reg.SnapshotWith(live.SnapshotOptions{Streams: func(uint64) bool { return true }})
	if len(snap.Sessions) != 1 {
		t.Fatalf("%d sessions, want 1", len(snap.Sessions))
	}
	ss := snap.Sessions[0]
	if ss.Counts != tapped {
		t.Errorf("read counted frames %v, bytes %v; the tap %v, %v", ss.Counts.TypeFrames, ss.Counts.TypeBytes, tapped.TypeFrames, tapped.TypeBytes)
	}
	if ss.AnomalyCount != 0 || len(ss.Framing) != 0 || ss.Total != 3 {
		t.Errorf("%d anomalies, %d violations, %d streams; want 0, 0, 3", ss.AnomalyCount, len(ss.Framing), ss.Total)
	}
	for _, sid := range []uint32{1, 3, 5} {
		st := ss.Stream(sid)
		if st == nil {
			t.Errorf("no stream %d", sid)
			continue
		}
		if st.State != live.Closed || st.Bytes[live.ServerToClient] != bigAnswer {
			t.Errorf("stream %d: %v, %d bytes answered; want closed, %d", sid, st.State, st.Bytes[live.ServerToClient], bigAnswer)
		}
		if w := st.Flow[live.ServerToClient].Window(); w != bigWindow {
			t.Errorf("stream %d: the server's window %d, want the client's announced %d", sid, w, bigWindow)
		}
	}
	if len(snap.Findings) != 0 {
		t.Errorf("findings %v on a healthy session", snap.Findings)
	}
}

// The big window of TestYamuxBigWindowFromSYN and
// TestGapInPayloadYamuxBigWindow, and the answers it lets go as one frame.
const bigWindow, bigAnswer = 4 << 20, 3 << 20

// recordBigWindow records, by a tap, real hashicorp/yamux ends whose
// MaxStreamWindowSize is bigWindow, from their SYNs: three streams, each
// a 4-byte request answered by bigAnswer bytes in one Write, which yamux
// sends as one Data frame, then the session's end. It returns the
// capture file and the tap's picture of the session, streams included.
func recordBigWindow(t *testing.T) (path string, tapped live.SessionSnap) {
	const window, answer = bigWindow, bigAnswer
	path = writeCapture(t, func(w *pcapout.Writer) {
		cfg := hyamux.DefaultConfig()
		cfg.MaxStreamWindowSize = window
		reg, cli, srv := tappedYamux(t, w, cfg)
		served := make(chan struct{})
		go func() {
			defer close(served)
			for range 3 {
				st, err := srv.AcceptStream()
				if err != nil {
					return
				}
				var b [4]byte
				io.ReadFull(st, b[:])
				st.Write(make([]byte, answer))
				st.Close()
			}
		}()
		for range 3 {
			st, err := cli.OpenStream()
			if err != nil {
				t.Fatal(err)
			}
			st.Write([]byte("GET\n"))
			if n, err := io.Copy(io.Discard, st); err != nil || n != answer {
				t.Fatalf("read %d bytes, %v; want %d", n, err, answer)
			}
			st.Close()
		}
		<-served
		// Every stream closed both ways (the server's ACK and FIN of each,
		// both WindowUpdates), then the session.
		smuxtest.Eventually(t, "the server's last FIN", func() bool {
			ss := reg.Snapshot().Sessions
			return len(ss) == 1 && ss[0].Counts.TypeFrames[live.ServerToClient][yamux.WindowUpdate] >= 6
		})
		cli.Close()
		srv.Close()
		smuxtest.Eventually(t, "the session's end", func() bool { return reg.Snapshot().Sessions[0].Ended })
		tapped = *reg.SnapshotWith(live.SnapshotOptions{Streams: func(uint64) bool { return true }}).Sessions[0]
	})
	return path, tapped
}
