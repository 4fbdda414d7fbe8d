package live_test

import (
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// smuxRawFrame is an smux frame of version ver, command cmd (0 SYN, 1 FIN,
// 2 PSH), on stream sid, carrying payload.
func smuxRawFrame(ver, cmd byte, sid uint32, payload []byte) []byte {
	b := make([]byte, 8, 8+len(payload))
	b[0], b[1] = ver, cmd
	binary.LittleEndian.PutUint16(b[2:], uint16(len(payload)))
	binary.LittleEndian.PutUint32(b[4:], sid)
	return append(b, payload...)
}

// writeRaw writes b to c, failing t if it cannot.
func writeRaw(t *testing.T, c net.Conn, b []byte) {
	t.Helper()
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
}

// readRawFrames reads n smux frames, header and payload, from c.
func readRawFrames(c net.Conn, n int) error {
	buf := make([]byte, 8+0xffff)
	for range n {
		if _, err := io.ReadFull(c, buf[:8]); err != nil {
			return err
		}
		if _, err := io.ReadFull(c, buf[8:8+binary.LittleEndian.Uint16(buf[2:])]); err != nil {
			return err
		}
	}
	return nil
}

// pushCaughtUp opens stream 3 from cli with raw smux v ver frames, a SYN
// and a request, and has sc push 20 frames of 512 bytes 2 ms apart, each
// read by cli as it comes: a push its reader keeps up with. It returns
// the push's line, for more of it.
func pushCaughtUp(t *testing.T, ver byte, cli, sc net.Conn) []byte {
	t.Helper()
	line := make([]byte, 512)
	writeRaw(t, cli, smuxRawFrame(ver, 0, 3, nil))
	writeRaw(t, cli, smuxRawFrame(ver, 2, 3, []byte("TAIL /var/log/app\n")))
	for range 20 {
		writeRaw(t, sc, smuxRawFrame(ver, 2, 3, line))
		if err := readRawFrames(cli, 1); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return line
}

// TestAfterCloseBacklogReadAfterFINRealTap: a tap stamps a frame it reads
// as its Read returns, which is only when the bytes had come at the
// latest: a reader that falls behind reads, after its own FIN, frames
// that sat in its socket since before it. TestHealthyMore's healthy smux
// v2 push, its client's threads starved on two busy cores, opened
// DATA_AFTER_CLOSE at the client's tap, "the server wrote 3 frames
// (1.5 KiB) to 3 streams (first stream 9) after the client had sent
// FIN", where the server's tap showed it wrote them 4.7 ms after the FIN
// (in flight): the client's reader read them 265 ms after it. Here, on a
// loopback TCP connection whose client end is tapped and whose reads the
// test makes, in smux v1 and v2, the server pushes 512 bytes every 2 ms,
// read as they come; then the client's reads stop, the server writes 5
// more, which wait in the client's socket, and stops; the client sends
// FIN and, 300 ms later (past the in-flight window), reads those 5: no
// DATA_AFTER_CLOSE, the evaluations' probes of the socket within the
// window having seen them there. Its twin, a reader caught up at its FIN, waiting, to
// which the server writes 5 frames 300 ms after the FIN, still opens it.
func TestAfterCloseBacklogReadAfterFINRealTap(t *testing.T) {
	if testing.Short() {
		t.Skip("a real connection for a second")
	}
	for _, ver := range []byte{1, 2} {
		for _, backlog := range []bool{true, false} {
			reg := live.New(live.Config{})
			cfg := live.FindingsConfig{Churn: -1}
			cc, sc := smuxtest.Conns(t)
			cli := tap.Wrap(cc, live.Client, reg, "cli")
			line := pushCaughtUp(t, ver, cli, sc)
			done := make(chan error, 1)
			if backlog {
				// The client's reads stop; the server writes on, and on
				// loopback its writes return once the bytes are in the
				// client's socket: before the FIN.
				for range 5 {
					writeRaw(t, sc, smuxRawFrame(ver, 2, 3, line))
				}
			} else {
				go func() { done <- readRawFrames(cli, 5) }() // caught up, waiting
			}
			writeRaw(t, cli, smuxRawFrame(ver, 1, 3, nil))
			for range 3 { // evaluated every 100 ms, as the front ends do, past the in-flight window
				time.Sleep(100 * time.Millisecond)
				reg.Evaluate(time.Now(), cfg)
			}
			if backlog {
				go func() { done <- readRawFrames(cli, 5) }()
			} else {
				for range 5 { // the fault: written after the FIN's window
					writeRaw(t, sc, smuxRawFrame(ver, 2, 3, line))
					time.Sleep(2 * time.Millisecond)
				}
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			reg.Evaluate(time.Now().Add(time.Second), cfg) // past v2's wait for a UPD
			got := codes(reg)
			switch opened := strings.Contains(got, "+"+live.CodeDataAfterClose.String()); {
			case backlog && opened:
				t.Errorf("v%d, 5 frames read in a backlog 300 ms after the FIN, written before it: %q, want no DATA_AFTER_CLOSE:%s", ver, got, describeRecords(findingRecords(reg)))
			case !backlog && !opened:
				t.Errorf("v%d, 5 frames written 300 ms after the FIN to a reader waiting for them: %q, want DATA_AFTER_CLOSE", ver, got)
			}
			cc.Close()
			sc.Close()
		}
	}
}
