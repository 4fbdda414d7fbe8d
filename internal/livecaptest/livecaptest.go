// Package livecaptest gives the tests of pcapout.Live, and of muxtop read
// URL reading it, what they share: real smux v1, v2 and hashicorp/yamux
// sessions over loopback TCP, tapped at the client into a registry and a
// recorder, whose server echoes every stream; traffic on them; a wait for
// the tap's counts to settle; and the tap's counts between two snapshots,
// the oracle a viewer's capture is checked against. And the real pairs of
// the slow-answer and silent-side tests, of live and capture alike
// (RealPair).
package livecaptest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	hyamux "github.com/hashicorp/yamux"
	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// Mux is a library and config a session runs.
type Mux struct {
	Name string
	M    smuxtest.Mux
}

// Muxes returns smux v1, smux v2 and hashicorp/yamux, none keeping alive:
// no frame comes but those the test's traffic makes.
func Muxes() []Mux {
	var ms []Mux
	for _, v := range []int{1, 2} {
		cfg := smuxtest.Config(v)
		cfg.KeepAliveDisabled = true
		ms = append(ms, Mux{fmt.Sprintf("smux-v%d", v), smuxtest.Mux{Smux: cfg}})
	}
	return append(ms, Mux{"yamux", smuxtest.Mux{}})
}

// Tapped starts a session of m over loopback TCP, its client's conn
// tapped into reg and recorded in rec, its server echoing every stream,
// each in a goroutine of its own, until its peer closes it. It returns the
// client's session; both close when the test ends.
func Tapped(t testing.TB, m Mux, reg *live.Registry, rec tap.Recorder) smuxtest.Session {
	t.Helper()
	cc, sc := smuxtest.Conns(t)
	type started struct {
		s   smuxtest.Session
		err error
	}
	srvc := make(chan started, 1)
	go func() { // yamux's and smux's Server return at once; no handshake
		s, err := m.M.Server(sc)
		srvc <- started{s, err}
	}()
	cli, err := m.M.Client(tap.Wrap(cc, live.Client, reg, m.Name, tap.Record(rec)))
	if err != nil {
		t.Fatal(err)
	}
	st := <-srvc
	if st.err != nil {
		t.Fatal(st.err)
	}
	srv := st.s
	t.Cleanup(func() { cli.Close(); srv.Close() })
	go func() { // ends with the server's session
		for {
			s, err := srv.AcceptStream()
			if err != nil {
				return
			}
			go func() {
				io.Copy(s, s)
				s.Close()
			}()
		}
	}()
	return cli
}

// RoundTrip writes msg on st and reads its echo.
func RoundTrip(t testing.TB, st net.Conn, msg string) {
	t.Helper()
	if _, err := st.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(st, got); err != nil {
		t.Fatal(err)
	}
	if string(got) != msg {
		t.Fatalf("echo %q, want %q", got, msg)
	}
}

// Streams opens n streams on cli, each carrying one round trip of msg,
// then closed both ways.
func Streams(t testing.TB, cli smuxtest.Session, n int, msg string) {
	t.Helper()
	for range n {
		st, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		RoundTrip(t, st, msg)
		if cw, ok := st.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite() // smux
		} else {
			st.Close() // yamux: a half-close
		}
		if _, err := smuxtest.ReadAll(st); err != nil { // the server's FIN
			t.Fatal(err)
		}
		st.Close()
	}
}

// Settle waits until reg holds open streams and its frame counts stay put
// for 150 ms (a window update or FIN of the last exchange may still be on
// its way), and returns the snapshot then.
func Settle(t testing.TB, reg *live.Registry, open int) *live.Snapshot {
	t.Helper()
	var last *live.Snapshot
	still := 0
	smuxtest.Eventually(t, fmt.Sprintf("%d open streams and the tap's counts to settle", open), func() bool {
		s := reg.Snapshot()
		if last != nil && s.OpenStreams == open && s.Totals == last.Totals {
			still++
		} else {
			still = 0
		}
		last = s
		if still >= 3 {
			return true
		}
		time.Sleep(50 * time.Millisecond)
		return false
	})
	return last
}

// Delta returns the counts of after less those of before.
func Delta(after, before live.Counts) live.Counts {
	var d live.Counts
	for dir := range 2 {
		for i := range after.Frames[dir] {
			d.Frames[dir][i] = after.Frames[dir][i] - before.Frames[dir][i]
			d.Bytes[dir][i] = after.Bytes[dir][i] - before.Bytes[dir][i]
		}
		for i := range after.TypeFrames[dir] {
			d.TypeFrames[dir][i] = after.TypeFrames[dir][i] - before.TypeFrames[dir][i]
			d.TypeBytes[dir][i] = after.TypeBytes[dir][i] - before.TypeBytes[dir][i]
		}
	}
	return d
}

// Viewer reads a live capture served over HTTP as muxtop read does, into
// a registry in the capture's time. Reg, Stats and Err are set once the
// capture ends (Wait).
type Viewer struct {
	Raw    bytes.Buffer // the stream's bytes, as they came
	Reg    *live.Registry
	Stats  capture.Stats
	Err    error
	cancel context.CancelFunc
	done   chan struct{}
}

// View GETs url, checks that it answers 200 with a pcapng stream, and
// reads the capture in the background until it ends or Leave.
func View(t testing.TB, url string) *Viewer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/x-pcapng" {
		resp.Body.Close()
		cancel()
		t.Fatalf("GET %s: %s, %s; want 200, application/x-pcapng", url, resp.Status, resp.Header.Get("Content-Type"))
	}
	v := &Viewer{cancel: cancel, done: make(chan struct{})}
	go func() { // ends with the stream, or Leave
		defer close(v.done)
		defer tr.CloseIdleConnections()
		defer resp.Body.Close()
		file, err := capture.Open(io.TeeReader(resp.Body, &v.Raw))
		if err != nil {
			v.Err = err
			return
		}
		clock := new(capture.Clock)
		clock.Set(file.Start())
		reg := live.New(live.Config{Clock: clock.Now})
		rd := capture.NewReader(capture.Config{Registry: reg, Clock: clock})
		v.Err = rd.Run(context.Background(), file)
		v.Reg, v.Stats = reg, rd.Stats()
	}()
	t.Cleanup(v.Leave)
	return v
}

// Wait waits for the stream to end (Live.Close) and the capture to be read.
func (v *Viewer) Wait(t testing.TB) {
	t.Helper()
	select {
	case <-v.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the viewer's stream did not end 30 s after the capture closed")
	}
	if v.Err != nil {
		t.Fatalf("reading the live capture: %v", v.Err)
	}
}

// Leave ends the viewer's request, as a client that goes away, and waits
// for its reader.
func (v *Viewer) Leave() {
	v.cancel()
	<-v.done
}

// PairConfig says how RealPair's sessions run.
type PairConfig struct {
	// Keepalive is how often both ends keep alive; 0 keeps it off.
	Keepalive time.Duration
	// GiveUp is how long either end waits for the other before it gives
	// up on the session (smux's KeepAliveTimeout, yamux's
	// ConnectionWriteTimeout, which its ping waits too); 0 leaves the
	// library's default.
	GiveUp time.Duration
	// WrapServer, if not nil, wraps the server's conn: one the test can
	// stop, say.
	WrapServer func(net.Conn) net.Conn
	// Tap are the options of the client's tap: tap.Record, tap.Version.
	Tap []tap.Option
}

// Pair is a real session pair: its client and server, and the client's
// conn as tapped.
type Pair struct {
	Cli, Srv smuxtest.Session
	// Streams is how many streams the server's session holds
	// (NumStreams), which counts a stream as its SYN is read.
	Streams func() int
	// Tapped is the client's conn, tapped; its RemoteAddr is the server's.
	Tapped *tap.Conn
	// YamuxCli is the client's session where name is "yamux", else nil.
	YamuxCli *hyamux.Session
}

// RealPair starts name's session ("smux-v1", "smux-v2", "yamux") over
// loopback TCP as cfg says, its client's conn tapped into reg (the
// session named name). Both sessions close when the test ends, or at
// Close.
func RealPair(t testing.TB, name string, reg *live.Registry, cfg PairConfig) Pair {
	t.Helper()
	cc, sc := smuxtest.Conns(t)
	if cfg.WrapServer != nil {
		sc = cfg.WrapServer(sc)
	}
	tc := tap.Wrap(cc, live.Client, reg, name, cfg.Tap...)
	if name == "yamux" {
		ccfg, scfg := smuxtest.YamuxConfig(), smuxtest.YamuxConfig()
		for _, c := range []*hyamux.Config{ccfg, scfg} {
			c.EnableKeepAlive = cfg.Keepalive != 0
			if cfg.Keepalive != 0 {
				c.KeepAliveInterval = cfg.Keepalive
			}
			if cfg.GiveUp != 0 {
				c.ConnectionWriteTimeout = cfg.GiveUp
			}
		}
		cli, srv := smuxtest.YamuxPair(t, tc, sc, ccfg, scfg)
		return Pair{smuxtest.YamuxSession(cli), smuxtest.YamuxSession(srv), srv.NumStreams, tc, cli}
	}
	scfg := smuxtest.Config(map[string]int{"smux-v1": 1, "smux-v2": 2}[name])
	scfg.KeepAliveDisabled = cfg.Keepalive == 0
	if cfg.Keepalive != 0 {
		scfg.KeepAliveInterval = cfg.Keepalive
	}
	if cfg.GiveUp != 0 {
		scfg.KeepAliveTimeout = cfg.GiveUp
	}
	cli, err := smux.Client(tc, scfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := smux.Server(sc, scfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close(); srv.Close() })
	return Pair{smuxtest.SmuxSession(cli), smuxtest.SmuxSession(srv), srv.NumStreams, tc, nil}
}

// Port returns the server's port.
func (p Pair) Port() uint16 { return uint16(p.Tapped.RemoteAddr().(*net.TCPAddr).Port) }

// Close closes the client's session, then the server's: before a
// recording ends, so that it holds their close.
func (p Pair) Close() {
	p.Cli.Close()
	p.Srv.Close()
}
