package capture_test

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
)

// frameLog is a conn that keeps what is written to it, a frame per
// Write as smux writes them, and whose reads never end until Close.
type frameLog struct {
	net.Conn
	mu     sync.Mutex
	frames [][]byte
}

func (c *frameLog) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.frames = append(c.frames, append([]byte(nil), p...))
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// realFrames runs a real smux v1 session whose client opens a stream and
// writes "tick" on it while both keepalives run, and returns one frame of
// each kind each side wrote: the client's SYN and PSH, and each side's
// NOP, as the library writes them.
func realFrames(t *testing.T) (syn, psh, clientNOP, serverNOP []byte) {
	t.Helper()
	cfg := smuxtest.Config(1)
	cfg.KeepAliveInterval = 5 * time.Millisecond
	var logs []*frameLog
	var mu sync.Mutex
	wrap := func(c net.Conn) net.Conn {
		l := &frameLog{Conn: c}
		mu.Lock()
		logs = append(logs, l)
		mu.Unlock()
		return l
	}
	cli, srv := smuxtest.Pair(t, cfg, wrap, wrap)
	go func() {
		if st, err := srv.AcceptStream(); err == nil {
			buf := make([]byte, 64)
			for {
				if _, err := st.Read(buf); err != nil {
					return
				}
			}
		}
	}()
	st, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Write([]byte("tick")); err != nil {
		t.Fatal(err)
	}
	find := func(l *frameLog, cmd decoder.Cmd) []byte {
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, f := range l.frames {
			if len(f) >= decoder.HeaderSize && decoder.Cmd(f[1]) == cmd {
				return f
			}
		}
		return nil
	}
	smuxtest.Eventually(t, "both sides' keepalive NOPs", func() bool {
		return find(logs[0], decoder.NOP) != nil && find(logs[1], decoder.NOP) != nil
	})
	cli.Close()
	srv.Close()
	return find(logs[0], decoder.SYN), find(logs[0], decoder.PSH), find(logs[0], decoder.NOP), find(logs[1], decoder.NOP)
}

// joinedQuietCapture writes a capture of a smux v1 session, made of the
// real frames: the client writes on a stream every 100 ms and sends its
// keepalive NOP every second; the server only answers with its own NOPs,
// each second at 0.5 s past, the last at serverNOPsUntil. The capture
// joins the connection at 0.3 s, 3 bytes into a frame. It returns the
// packets and the capture times of the server's NOPs.
func joinedQuietCapture(t *testing.T, t0 time.Time, serverNOPsUntil, end time.Duration) ([]pkt, []time.Time) {
	t.Helper()
	syn, psh, cnop, snop := realFrames(t)
	path := writeCapture(t, func(w *pcapout.Writer) {
		c := w.Conn("127.0.0.1:40005", "127.0.0.1:9000", t0)
		c.Write(live.ClientToServer, t0, syn)
		// In time order, 10 ms apart: the client's PSH at 10 ms past each
		// 100 ms, its NOP at 200 ms past each second, the server's at 500.
		for at := 10 * time.Millisecond; at < end; at += 10 * time.Millisecond {
			switch {
			case at%(100*time.Millisecond) == 10*time.Millisecond:
				c.Write(live.ClientToServer, t0.Add(at), psh)
			case at%time.Second == 200*time.Millisecond:
				c.Write(live.ClientToServer, t0.Add(at), cnop)
			case at%time.Second == 500*time.Millisecond && at <= serverNOPsUntil:
				c.Write(live.ServerToClient, t0.Add(at), snop)
			}
		}
	})
	join := t0.Add(300 * time.Millisecond)
	var out []pkt
	var nops []time.Time
	trimmed := false
	for _, p := range readPackets(t, path) {
		if p.TCP.SYN || p.CI.Timestamp.Before(join) {
			continue
		}
		if len(p.Payload) > 0 && !trimmed && p.TCP.DstPort == 9000 {
			p, trimmed = trim(t, p, 3), true
		}
		if len(p.Payload) > 0 && p.TCP.SrcPort == 9000 {
			nops = append(nops, p.CI.Timestamp)
		}
		out = append(out, p)
	}
	return out, nops
}

// readJoined reads ps as read does, evaluating the findings in capture
// time, and returns the registry.
func readJoined(t *testing.T, ps []pkt) *live.Registry {
	t.Helper()
	// The server reads the client's stream and says nothing on it, which
	// is UNANSWERED after 5 s in v1 by design (the README): not what
	// these captures are about.
	cfg := live.FindingsConfig{Churn: -1, UnansweredAfter: time.Hour}
	return readEvaluated(ps, capture.Config{Filter: capture.Port(9000)}, cfg)
}

// TestHeldFramesKeepTheirTimes: a capture that joins a quiet direction
// mid-stream frames nothing of it until three headers chain (three of
// its keepalive NOPs, seconds apart), while the other direction, busy,
// frames at once. Those bytes are the sender's, not its silence: no
// KEEPALIVE opens meanwhile, and the frames found in them keep the times
// their packets came, so that keepalive's cadence is the sender's.
func TestHeldFramesKeepTheirTimes(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ps, nops := joinedQuietCapture(t, t0, time.Hour, 8*time.Second)
	reg := readJoined(t, ps)
	recs, _ := reg.Frames(live.Query{From: 1}, nil)
	var got []time.Time
	for _, r := range recs {
		switch {
		case r.Kind == live.FindingOpened:
			t.Errorf("a finding opened at %v: %s", r.At.Sub(t0), r.Finding.Code)
		case r.Kind == live.FrameRecord && r.Dir == live.ServerToClient:
			got = append(got, r.At)
		}
	}
	if len(got) != len(nops) || len(nops) < 7 {
		t.Fatalf("%d frames from the server, want its %d NOPs", len(got), len(nops))
	}
	for i := range got {
		if !got[i].Equal(nops[i]) {
			t.Errorf("the server's NOP %d recorded at %v, want its packet's %v", i, got[i].Sub(t0), nops[i].Sub(t0))
		}
	}
}

// TestHeldFramesKeepaliveCadence: the same capture, the server's
// keepalive stopping after its NOP of 3.5 s. KEEPALIVE opens once, when
// that silence passes the limit of its cadence (1 s: SilenceLimit, 2 s),
// at 5.5 s, and not while the server's NOPs were held unframed.
func TestHeldFramesKeepaliveCadence(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ps, _ := joinedQuietCapture(t, t0, 3500*time.Millisecond, 8*time.Second)
	reg := readJoined(t, ps)
	recs, _ := reg.Frames(live.Query{From: 1}, nil)
	var opened []live.Record
	var got []string
	for _, r := range recs {
		if r.Kind == live.FindingOpened {
			opened = append(opened, r)
			got = append(got, fmt.Sprintf("%s %s at %v", r.Finding.Code, r.Finding.Dir, r.At.Sub(t0)))
		}
	}
	if len(opened) != 1 || opened[0].Finding.Code != live.CodeKeepalive || opened[0].Finding.Dir != live.ServerToClient {
		t.Fatalf("findings opened: %q, want one KEEPALIVE of the server's silence", got)
	}
	want := 3500*time.Millisecond + live.SilenceLimit(time.Second)
	if at := opened[0].At.Sub(t0); at < want || at > want+100*time.Millisecond {
		t.Errorf("KEEPALIVE opened at %v, want at %v (the next evaluation)", at, want)
	}
}
