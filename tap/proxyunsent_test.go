package tap

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
)

// callRecorder is a Recorder that notes, in order, what the tap records
// of each connection.
type callRecorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *callRecorder) Conn(client, server string, at time.Time) ConnRecorder { return r }

func (r *callRecorder) note(format string, a ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, fmt.Sprintf(format, a...))
}

func (r *callRecorder) Write(dir live.Dir, at time.Time, p []byte) {
	r.note("write %s %d", dir.Code(), len(p))
}
func (r *callRecorder) End(dir live.Dir, at time.Time)   { r.note("end %s", dir.Code()) }
func (r *callRecorder) Reset(dir live.Dir, at time.Time) { r.note("reset %s", dir.Code()) }
func (r *callRecorder) Unsent(dir live.Dir, at time.Time, n int64) {
	r.note("unsent %s %d", dir.Code(), n)
}

func (r *callRecorder) log() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

// TestProxyFailedWriteRecorded: the proxy's write to the upstream fails
// part way (an error that is no reset), and the proxy passes it on as a
// reset of both conns. The recording takes the unsent bytes back
// (UnsentRecorder), records no end of the client's direction, whose
// client sent no FIN, nor of the upstream's, which the proxy's abort
// ended, and ends with the upstream's RST, after everything else.
func TestProxyFailedWriteRecorded(t *testing.T) {
	up := startUpstream(t, "", func(c net.Conn) { io.Copy(io.Discard, c) })
	reg := live.New(live.Config{})
	rec := &callRecorder{}
	p := NewProxy(ProxyConfig{Listen: "127.0.0.1:0", Upstream: up.addr(), Registry: reg, Recorder: rec})
	var d net.Dialer
	p.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &failingConn{Conn: c, limit: 20}, nil
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { p.Close(); p.Wait() }()
	c := dialProxy(t, p)
	wire := append(wireFrame(decoder.MakeHeader(1, decoder.SYN, 0, 3), ""), wireFrame(decoder.MakeHeader(1, decoder.PSH, 32, 3), strings.Repeat("x", 32))...)
	if _, err := c.Write(wire); err != nil {
		t.Fatal(err)
	}
	ss := endedSession(t, reg)
	calls := rec.log()
	var wrote, unsent int64
	c2s := live.ClientToServer.Code()
	for _, call := range calls {
		var n int64
		if _, err := fmt.Sscanf(call, "write "+c2s+" %d", &n); err == nil {
			wrote += n
		}
		if _, err := fmt.Sscanf(call, "unsent "+c2s+" %d", &n); err == nil {
			unsent += n
		}
		if strings.HasPrefix(call, "end ") {
			t.Errorf("recorded %q: an end no peer sent (the calls: %q)", call, calls)
		}
	}
	if wrote-unsent != 20 || unsent != ss.Unsent[live.ClientToServer] {
		t.Errorf("recorded %d bytes and %d unsent, the session %d unsent; want 20 sent (the calls: %q)", wrote, unsent, ss.Unsent[live.ClientToServer], calls)
	}
	if want := "reset " + live.ServerToClient.Code(); len(calls) == 0 || calls[len(calls)-1] != want {
		t.Errorf("the recording's calls %q: want the last %q, the upstream's RST", calls, want)
	}
}
