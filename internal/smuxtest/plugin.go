package smuxtest

import (
	"fmt"
	"io"
	"net"
	"testing"
)

// PluginHost is a real session (smux or hashicorp/yamux) driven the way
// a hashicorp/go-plugin host and its plugin drive theirs: as the session
// is set up, the host opens a control stream (a Ping answered), the
// plugin's stdout and stderr streams (the plugin writes a log line on
// stdout, nothing on stderr) and the dispensed plugin's stream, which
// carries every call; all four are held for the session's life, and
// carry nothing after the first calls. Its requests' streams come after.
type PluginHost struct {
	t        testing.TB
	Cli, Srv Session
	// Setup is the setup streams, the host's end and the plugin's:
	// control, stdout, stderr, plugin.
	Setup [4][2]net.Conn
	// SetupIDs is their ids, in that order.
	SetupIDs []uint32
}

// NewPluginHost runs mux over a loopback connection whose server end (the
// plugin's) wrap wraps, a tap, and sets the session up at once, well
// within the first second of its first frame. Both sessions close as the
// test ends. Give smux a config with keepalive off: its NOPs come at times
// of their own.
func NewPluginHost(t testing.TB, mux Mux, wrap func(net.Conn) net.Conn) *PluginHost {
	t.Helper()
	cc, sc := Conns(t)
	h := &PluginHost{t: t}
	var err error
	if h.Srv, err = mux.Server(wrap(sc)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Srv.Close() })
	if h.Cli, err = mux.Client(cc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Cli.Close() })
	for i := range 3 {
		h.Setup[i] = h.Open()
	}
	ctrl, stdout, plugin := h.Setup[0], h.Setup[1], &h.Setup[3]
	h.Call(ctrl, "Control.Ping", "pong")
	if _, err := io.WriteString(stdout[1], "plugin log line 0\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(stdout[0], make([]byte, 18)); err != nil {
		t.Fatal(err)
	}
	h.Call(ctrl, "Dispenser.Dispense kv", "ok")
	*plugin = h.Open()
	for i := range 3 {
		h.Call(*plugin, fmt.Sprintf("Plugin.Put k%d", i), "true")
	}
	for _, st := range h.Setup {
		h.SetupIDs = append(h.SetupIDs, StreamID(st[0]))
	}
	return h
}

// Open opens a stream from the host, accepted by the plugin: the host's
// end, then the plugin's.
func (h *PluginHost) Open() [2]net.Conn {
	h.t.Helper()
	c, err := h.Cli.OpenStream()
	if err != nil {
		h.t.Fatal(err)
	}
	s, err := h.Srv.AcceptStream()
	if err != nil {
		h.t.Fatal(err)
	}
	return [2]net.Conn{c, s}
}

// Call writes req on st from the host, and resp back from the plugin,
// each read whole by the other end.
func (h *PluginHost) Call(st [2]net.Conn, req, resp string) {
	h.t.Helper()
	if _, err := io.WriteString(st[0], req); err != nil {
		h.t.Fatal(err)
	}
	if _, err := io.ReadFull(st[1], make([]byte, len(req))); err != nil {
		h.t.Fatal(err)
	}
	if _, err := io.WriteString(st[1], resp); err != nil {
		h.t.Fatal(err)
	}
	if _, err := io.ReadFull(st[0], make([]byte, len(resp))); err != nil {
		h.t.Fatal(err)
	}
}

// Requests opens n streams, one a request, each answered, and closed by
// both sides unless leak; it returns them, the host's end and the
// plugin's.
func (h *PluginHost) Requests(n int, leak bool) [][2]net.Conn {
	h.t.Helper()
	var sts [][2]net.Conn
	for i := range n {
		st := h.Open()
		h.Call(st, fmt.Sprintf("Watch %d", i), "event")
		sts = append(sts, st)
		if !leak {
			st[0].Close()
			st[1].Close()
		}
	}
	return sts
}
