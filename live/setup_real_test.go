package live_test

import (
	"fmt"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// pluginHost drives a real smux (v1, v2) or hashicorp/yamux pair the way
// a hashicorp/go-plugin host and its plugin use theirs, recorded at a
// virtual clock (vtap): as the session is set up, the host opens a
// control stream (a Ping answered), the plugin's stdout and stderr
// streams (one-way: the plugin writes a log line on stdout, nothing on
// stderr) and the dispensed plugin's stream, which carries every call
// (net/rpc reuses it); all four are held for the session's life by
// design, and carry nothing after the first calls.
type pluginHost struct {
	t        *testing.T
	reg      *live.Registry
	sess     *live.Session
	clk      *vclock
	cli, srv smuxtest.Session
	// The setup streams, the host's end and the plugin's, and their ids.
	ctrl, stdout, stderr, plugin [2]net.Conn
	setupIDs                     []uint32
}

func streamID(c net.Conn) uint32 {
	switch s := c.(type) {
	case interface{ ID() uint32 }: // smux
		return s.ID()
	case interface{ StreamID() uint32 }: // yamux
		return s.StreamID()
	}
	panic(fmt.Sprintf("no stream id on %T", c))
}

func newPluginHost(t *testing.T, mux smuxtest.Mux) *pluginHost {
	return newPluginHostCfg(t, mux, live.Config{})
}

// newPluginHostCfg is newPluginHost recording into a registry of cfg.
func newPluginHostCfg(t *testing.T, mux smuxtest.Mux, cfg live.Config) *pluginHost {
	h := &pluginHost{t: t, reg: live.New(cfg), clk: &vclock{now: t0}}
	var a, b net.Conn
	if mux.Yamux() {
		h.sess = h.reg.Open(live.SessionInfo{Proto: live.Yamux}, t0)
		a, b = net.Pipe()
	} else {
		h.sess = h.reg.Open(live.SessionInfo{Client: "127.0.0.1:1000", Server: "127.0.0.1:9000", Tap: live.Client, Label: "test"}, t0)
		c := *mux.Smux             // its own: the caller's, and parallel tests', stays as it was
		c.KeepAliveDisabled = true // no NOPs at real times
		mux.Smux = &c
		a, b = smuxtest.Conns(t)
	}
	tapped := func(c net.Conn, dir live.Dir) net.Conn {
		if mux.Yamux() {
			return &vtap{Conn: c, clk: h.clk, sess: h.sess, dir: dir, yamux: yamux.New(64)}
		}
		return &vtap{Conn: c, clk: h.clk, sess: h.sess, dir: dir, smux: decoder.New(64)}
	}
	var err error
	if h.cli, err = mux.Client(tapped(a, live.ClientToServer)); err != nil {
		t.Fatal(err)
	}
	if h.srv, err = mux.Server(tapped(b, live.ServerToClient)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.cli.Close(); h.srv.Close() })
	return h
}

// at moves the virtual clock to s seconds, once what was written before
// is recorded.
func (h *pluginHost) at(s float64) {
	h.clk.quiet()
	h.clk.advance(sec(s))
}

// open opens a stream from the host, accepted by the plugin.
func (h *pluginHost) open() [2]net.Conn {
	c, err := h.cli.OpenStream()
	if err != nil {
		h.t.Fatal(err)
	}
	s, err := h.srv.AcceptStream()
	if err != nil {
		h.t.Fatal(err)
	}
	return [2]net.Conn{c, s}
}

// call writes req on st from the host, and resp back from the plugin.
func (h *pluginHost) call(st [2]net.Conn, req, resp string) {
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

// setUp opens the session's setup streams at 0 s and makes the first
// calls on them, until 1 s.
func (h *pluginHost) setUp() {
	h.at(0)
	h.ctrl = h.open()
	h.stdout = h.open()
	h.stderr = h.open()
	h.call(h.ctrl, "Control.Ping", "pong")
	if _, err := io.WriteString(h.stdout[1], "plugin log line 0\n"); err != nil {
		h.t.Fatal(err)
	}
	if _, err := io.ReadFull(h.stdout[0], make([]byte, 18)); err != nil {
		h.t.Fatal(err)
	}
	h.call(h.ctrl, "Dispenser.Dispense kv", "ok")
	h.at(0.004)
	h.plugin = h.open()
	for i, s := range []float64{0.1, 0.5, 1} {
		h.at(s)
		h.call(h.plugin, fmt.Sprintf("Plugin.Put k%d", i), "true")
	}
	h.setupIDs = []uint32{streamID(h.ctrl[0]), streamID(h.stdout[0]), streamID(h.stderr[0]), streamID(h.plugin[0])}
}

// requests opens a stream per request from 2 s, one every 0.5 s, each
// answered, and closed by both sides unless leak; it returns their ids.
func (h *pluginHost) requests(n int, leak bool) []uint32 {
	var ids []uint32
	for i := range n {
		h.at(2 + float64(i)/2)
		st := h.open()
		h.call(st, fmt.Sprintf("Watch %d", i), "event")
		ids = append(ids, streamID(st[0]))
		if !leak {
			st[0].Close()
			st[1].Close()
		}
	}
	h.clk.quiet()
	return ids
}

// evaluate runs the evaluations from 3 s to 45 s, every 0.5 s, at
// muxtop's defaults (--leak-after 30 s), and returns the LEAK records.
func (h *pluginHost) evaluate() []live.Record {
	cfg := live.FindingsConfig{UnansweredAfter: time.Hour, Churn: -1}
	for s := 3.0; s <= 45; s += 0.5 {
		h.reg.Evaluate(sec(s), cfg)
	}
	var leaks []live.Record
	for _, r := range allRecords(h.reg) {
		if r.Finding != nil && r.Finding.Code == live.CodeLeak {
			leaks = append(leaks, r)
		}
	}
	return leaks
}

func realMuxes() []struct {
	name string
	mux  smuxtest.Mux
} {
	return []struct {
		name string
		mux  smuxtest.Mux
	}{{"smux v1", smuxtest.Mux{Smux: smuxtest.Config(1)}}, {"smux v2", smuxtest.Mux{Smux: smuxtest.Config(2)}}, {"yamux", smuxtest.Mux{}}}
}

// TestSetupStreamsNoLeakReal: a go-plugin host, on real smux (v1, v2)
// and hashicorp/yamux sessions, holds the streams it opened as the
// session was set up — a control stream, the plugin's stdout and stderr,
// the dispensed plugin's stream reused for every call — for the
// session's life, and its requests' streams open and close after. No
// LEAK at --leak-after (30 s), where each setup stream is idle 44 s; the
// streams pane's pictures mark them Setup, and the snapshot counts them
// among the old streams (Aged) as such. Before, LEAK said "4 streams
// open and idle 30 s or more with no FIN from either side, oldest 31 s
// (stream 1, …)" on every healthy go-plugin host, and its alert fired.
func TestSetupStreamsNoLeakReal(t *testing.T) {
	for _, m := range realMuxes() {
		t.Run(m.name, func(t *testing.T) {
			h := newPluginHost(t, m.mux)
			h.setUp()
			h.requests(5, false)
			if leaks := h.evaluate(); len(leaks) != 0 {
				t.Fatalf("LEAK on a healthy host: %s", describeRecords(leaks))
			}
			snap := h.reg.SnapshotWith(live.SnapshotOptions{Now: sec(45), LeakAfter: live.DefaultLeakAfter})
			ss := snap.Session(h.sess.ID())
			var setup []uint32
			for _, st := range ss.Streams {
				if st.Setup {
					setup = append(setup, st.ID)
				}
			}
			if !slices.Equal(setup, h.setupIDs) || snap.Setup != 4 || snap.Aged != 4 || snap.Leaks != 0 {
				t.Errorf("setup streams %v, the snapshot's Setup %d, Aged %d, Leaks %d; want %v, 4, 4, 0", setup, snap.Setup, snap.Aged, snap.Leaks, h.setupIDs)
			}
		})
	}
}

// TestSetupStreamsBesideALeakReal: the same host whose plugin leaks the
// streams of its requests after the setup (go-plugin's MuxBroker streams
// a plugin never closes): one LEAK, counting those streams alone, naming
// the oldest of them with its request's first bytes. Before, it counted
// the setup streams too and named the control stream, whose first bytes
// ("Control.Ping") masked the request that leaks.
func TestSetupStreamsBesideALeakReal(t *testing.T) {
	for _, m := range realMuxes() {
		t.Run(m.name, func(t *testing.T) {
			h := newPluginHost(t, m.mux)
			h.setUp()
			leaked := h.requests(3, true)
			leaks := h.evaluate()
			if len(leaks) == 0 {
				t.Fatal("no LEAK for the requests' streams left open")
			}
			if leaks[0].Kind != live.FindingOpened || slices.ContainsFunc(leaks, func(r live.Record) bool { return r.Kind == live.FindingResolved }) {
				t.Fatalf("want one LEAK, open:%s", describeRecords(leaks))
			}
			f := leaks[len(leaks)-1].Finding
			if f.HasDir || f.Stream != leaked[0] || f.Evidence.Count != 3 || !slices.Equal(f.StreamIDs, leaked) {
				t.Errorf("LEAK of stream %d, count %d, streams %v: %q; want stream %d, the requests' streams %v alone, not the setup streams %v",
					f.Stream, f.Evidence.Count, f.StreamIDs, f.Text, leaked[0], leaked, h.setupIDs)
			}
			if len(f.Heads) == 0 || string(f.Heads[0][live.ClientToServer].Bytes()) != "Watch 0" || string(f.Heads[0][live.ServerToClient].Bytes()) != "event" {
				var got []byte
				for i, hd := range f.Heads {
					got = live.AppendFirstLine(append(got, ' '), f.StreamIDs[i], &hd)
				}
				t.Errorf("LEAK's first bytes%s; want the leaked request's first, \"Watch 0\" → \"event\"", got)
			}
			snap := h.reg.SnapshotWith(live.SnapshotOptions{Now: sec(45), LeakAfter: live.DefaultLeakAfter})
			var marked []uint32
			for _, st := range snap.Session(h.sess.ID()).Streams {
				if st.Leak {
					marked = append(marked, st.ID)
				}
				if st.Leak && st.Setup {
					t.Errorf("stream %d marked both a leak and a setup stream", st.ID)
				}
			}
			if !slices.Equal(marked, leaked) || snap.Leaks != 3 || snap.Setup != 4 {
				t.Errorf("marked %v, Leaks %d, Setup %d; want %v, 3, 4", marked, snap.Leaks, snap.Setup, leaked)
			}
		})
	}
}

// TestSetupStreamHalfClosedLeaksReal: a setup stream that one side closed
// and the other never does is a leak as any other, always: the host
// closes the control stream at 3 s and the plugin never closes its end.
// One LEAK, the plugin's (dir s2c: the server never sent FIN), counting
// the control stream alone; the other setup streams, held open, are
// not counted.
func TestSetupStreamHalfClosedLeaksReal(t *testing.T) {
	for _, m := range realMuxes() {
		t.Run(m.name, func(t *testing.T) {
			h := newPluginHost(t, m.mux)
			h.setUp()
			h.requests(2, false)
			h.at(3)
			h.ctrl[0].Close() // FIN from the host; the plugin never closes its end
			h.clk.quiet()
			leaks := h.evaluate()
			if len(leaks) == 0 {
				t.Fatal("no LEAK for the control stream the plugin never closed")
			}
			f := leaks[len(leaks)-1].Finding
			if !f.HasDir || f.Dir != live.ServerToClient || f.Stream != h.setupIDs[0] || f.Evidence.Count != 1 ||
				slices.ContainsFunc(leaks, func(r live.Record) bool { return r.Finding.ID != f.ID }) {
				t.Errorf("LEAK %s of stream %d (dir %v %v), count %d: %q; want the server's, of the control stream %d alone:%s",
					f.Code, f.Stream, f.Dir, f.HasDir, f.Evidence.Count, f.Text, h.setupIDs[0], describeRecords(leaks))
			}
		})
	}
}
