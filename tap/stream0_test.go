package tap

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	hyamux "github.com/hashicorp/yamux"

	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// lockedBuffer is a bytes.Buffer safe for yamux's logger and the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestStreamZeroUnknownReal: a raw client sends a real hashicorp/yamux
// server, tapped, DATA with a payload and a window update on stream 0,
// the session's own id, which no stream has. yamux logs each as for a
// missing stream (and discards the data); muxtop names each
// UNKNOWN_STREAM, as it does for any id never opened. Before, stream 0
// passed for a stream closed and forgotten.
func TestStreamZeroUnknownReal(t *testing.T) {
	reg := live.New(live.Config{})
	cc, sc := smuxtest.Conns(t)
	var log lockedBuffer
	cfg := smuxtest.YamuxConfig()
	cfg.LogOutput, cfg.Logger = &log, nil
	srv, err := hyamux.Server(Wrap(sc, live.Server, reg, "srv", WithProtocol(Yamux)), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	data := yamux.MakeHeader(yamux.Data, 0, 0, 4)
	upd := yamux.MakeHeader(yamux.WindowUpdate, 0, 0, 1000)
	ping := yamux.MakeHeader(yamux.Ping, yamux.SYN, 0, 7)
	var frames []byte
	frames = append(append(append(frames, data[:]...), "RAND"...), upd[:]...)
	frames = append(frames, ping[:]...) // answered once the two before are handled
	if _, err := cc.Write(frames); err != nil {
		t.Fatal(err)
	}
	if _, err := cc.Read(make([]byte, yamux.HeaderSize)); err != nil { // the ping's answer
		t.Fatal(err)
	}
	smuxtest.Eventually(t, "the ping's answer recorded", func() bool {
		ss := reg.Snapshot().Sessions
		return len(ss) == 1 && ss[0].Counts.TypeFrames[live.ServerToClient][yamux.Ping] == 1
	})
	// handleStreamMessage: "Discarding data for stream" for DATA with a
	// payload, "frame for missing stream" for the rest.
	if n := strings.Count(log.String(), "Discarding data for stream: 0") + strings.Count(log.String(), "frame for missing stream"); n != 2 {
		t.Fatalf("yamux logged %d frames for a missing stream, want 2:\n%s", n, log.String())
	}
	ss := reg.Snapshot().Sessions[0]
	if ss.AnomaliesBy[live.UnknownStream] != 2 || ss.AnomalyCount != 2 {
		t.Errorf("anomalies %d (UNKNOWN_STREAM %d), want 2 UNKNOWN_STREAM", ss.AnomalyCount, ss.AnomaliesBy[live.UnknownStream])
	}
}
