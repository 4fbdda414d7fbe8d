package capture_test

import (
	"io"
	"strings"
	"testing"
	"time"

	hyamux "github.com/hashicorp/yamux"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
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

// TestYamuxFirstWindowStallReal is TestYamuxFirstWindowStall with real
// hashicorp/yamux v0.1.2 ends, recorded by a tap into a pcapng capture: a
// client writes 1 MiB on its first stream to a server that accepts it and
// never reads. A quiet connection of another program's then passes
// capture time, as a busy host's capture has.
func TestYamuxFirstWindowStallReal(t *testing.T) {
	var wrote time.Time
	path := writeCapture(t, func(w *pcapout.Writer) {
		cfg := hyamux.DefaultConfig()
		cfg.EnableKeepAlive = false // the stall's silence is all there is
		reg, cli, srv := tappedYamux(t, w, cfg)
		defer srv.Close()
		defer cli.Close()
		accepted := make(chan struct{})
		go func() {
			if _, err := srv.AcceptStream(); err == nil { // and never read
				close(accepted)
			}
		}()
		st, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		st.SetWriteDeadline(time.Now().Add(300 * time.Millisecond)) // held at the window: the deadline ends it
		if n, err := st.Write(make([]byte, 1<<20)); err == nil || n != yamux.InitialWindow {
			t.Fatalf("wrote %d bytes, %v: want the first window's 256 KiB, then a timeout", n, err)
		}
		<-accepted
		wrote = time.Now()
		smuxtest.Eventually(t, "the server's ACK", func() bool { return reg.Snapshot().Totals.TypeFrames[live.ServerToClient][yamux.WindowUpdate] > 0 })
		o := w.Conn("127.0.0.1:40008", "127.0.0.1:80", wrote)
		for s := 500 * time.Millisecond; s < 8*time.Second; s += 500 * time.Millisecond {
			o.Write(live.ClientToServer, wrote.Add(s), []byte("GET / HTTP/1.1\r\n\r\n"))
		}
	})
	fs := findingsOf(t, readPackets(t, path), capture.Filter{}, live.FindingsConfig{StallAfter: 2 * time.Second, Churn: -1})
	if len(fs) == 0 || fs[0].Kind != live.FindingOpened || fs[0].Finding.Code != live.CodeWindowStall {
		t.Fatalf("finding records %+v, want WINDOW_STALL opened first", fs)
	}
	if f := fs[0]; f.At.After(wrote.Add(5 * time.Second)) {
		t.Errorf("WINDOW_STALL opened %v after the write, want within 5 s: while the stall lasts, not when the capture ends", f.At.Sub(wrote))
	}
}

// tappedYamux returns a real hashicorp/yamux client and server of cfg
// over a loopback TCP pair, the client's end tapped into reg and recorded
// by w.
func tappedYamux(t *testing.T, w *pcapout.Writer, cfg *hyamux.Config) (*live.Registry, *hyamux.Session, *hyamux.Session) {
	t.Helper()
	reg := live.New(live.Config{})
	cfg.LogOutput = io.Discard
	cc, sc := smuxtest.Conns(t)
	cli, err := hyamux.Client(tap.Wrap(cc, live.Client, reg, "test", tap.WithProtocol(tap.Yamux), tap.Record(w)), cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := hyamux.Server(sc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return reg, cli, srv
}
