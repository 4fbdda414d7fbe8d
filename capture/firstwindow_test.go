package capture_test

import (
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
)

// TestYamuxFirstWindowStall: a yamux client opens its first stream and
// writes a whole window at once (hashicorp/yamux sends it as one Data
// frame of 256 KiB) to a server that never reads it; the server's ACK is
// all it says. Each direction began at its SYN but holds fewer frames
// than a chain: the probes waited for a third header that a stalled
// writer never sends (the next keepalive, 30 s later), and the session,
// and its WINDOW_STALL, showed only once the connection ended. Its bytes
// framing exactly from their SYNs and nothing more coming for probeWait,
// the connection is decided: WINDOW_STALL opens while the stall lasts,
// since the window filled.
func TestYamuxFirstWindowStall(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sec := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	path := writeCapture(t, func(w *pcapout.Writer) {
		c := w.Conn("127.0.0.1:40006", "127.0.0.1:9000", t0)
		c.Write(live.ClientToServer, sec(0.001), []byte(ym(yamux.WindowUpdate, yamux.SYN, 1, "", 0)))
		data := ym(yamux.Data, 0, 1, strings.Repeat("d", yamux.InitialWindow), yamux.InitialWindow)
		for i := 0; i < len(data); i += 64 << 10 {
			c.Write(live.ClientToServer, sec(0.002), []byte(data[i:min(i+64<<10, len(data))]))
		}
		c.Write(live.ServerToClient, sec(0.003), []byte(ym(yamux.WindowUpdate, yamux.ACK, 1, "", 0)))
		// Another connection's traffic, as a capture of a busy host has:
		// capture time passes while the stalled one is quiet.
		o := w.Conn("127.0.0.1:40008", "127.0.0.1:80", t0)
		for s := 0.5; s < 8; s += 0.5 {
			o.Write(live.ClientToServer, sec(s), []byte("GET / HTTP/1.1\r\n\r\n"))
		}
		c.Write(live.ServerToClient, sec(8), []byte(ym(yamux.WindowUpdate, yamux.FIN, 1, "", 0)))
	})
	fs := findingsOf(t, readPackets(t, path), capture.Filter{}, live.FindingsConfig{StallAfter: 2 * time.Second, Churn: -1})
	if len(fs) == 0 || fs[0].Kind != live.FindingOpened || fs[0].Finding.Code != live.CodeWindowStall {
		t.Fatalf("finding records %+v, want WINDOW_STALL opened first", fs)
	}
	if f := fs[0]; !f.Finding.Since.Equal(sec(0.002)) || !f.At.Before(sec(4)) {
		t.Errorf("WINDOW_STALL opened at %v since %v, want since the window filled (0.002 s), before 4 s", f.At.Sub(t0), f.Finding.Since.Sub(t0))
	}
}
