package tap

import (
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	hyamux "github.com/hashicorp/yamux"
	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// countingConn counts the bytes its Reads return: what its reader read.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// closeSignal tells, by closing done, that its Close, the tap's under it,
// has returned: a mux closes its conn on a goroutine of its own.
type closeSignal struct {
	net.Conn
	once sync.Once
	done chan struct{}
}

func newCloseSignal(c net.Conn) *closeSignal { return &closeSignal{Conn: c, done: make(chan struct{})} }

func (c *closeSignal) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { close(c.done) })
	return err
}

// TestOwnCloseCountsHeld: the tapped end reads a partial header (after a
// whole frame or not), then closes the conn itself, no Read under way.
// The bytes the tap read of the cut frame count as unparsed, as they do
// when the peer closes (Feeder.End): counted plus unparsed bytes are the
// wire bytes the tap read. No TRUNCATED is named: this end stopped
// reading. Before, they vanished: unparsed [0 0], wire bytes 0 or 8 of 12.
func TestOwnCloseCountsHeld(t *testing.T) {
	smuxNOP := []byte{1, 3, 0, 0, 0, 0, 0, 0}
	yamuxPing := []byte{0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}
	for _, tc := range []struct {
		name   string
		send   []byte
		frames uint64
		cut    int64
	}{
		{"smux: 4 bytes of a header", smuxNOP[:4], 0, 4},
		{"smux: NOP + 4 bytes", append(append([]byte{}, smuxNOP...), smuxNOP[:4]...), 1, 4},
		{"yamux: 8 bytes of a header", yamuxPing[:8], 0, 8},
		{"yamux: ping + 8 bytes", append(append([]byte{}, yamuxPing...), yamuxPing[:8]...), 1, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := live.New(live.Config{})
			cc, sc := smuxtest.Conns(t)
			c := Wrap(sc, live.Server, reg, "srv")
			if _, err := cc.Write(tc.send); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(c, make([]byte, len(tc.send))); err != nil {
				t.Fatal(err)
			}
			c.Close()
			snap := reg.Snapshot()
			ss := snap.Sessions[0]
			if ss.Counts.FramesDir(live.ClientToServer) != tc.frames || ss.Unparsed[live.ClientToServer] != tc.cut ||
				snap.WireBytes(live.ClientToServer) != uint64(len(tc.send)) || len(ss.Framing) != 0 {
				t.Errorf("frames %d unparsed %v wire %d framing %+v; want %d frames, unparsed [%d 0], wire %d, no violation",
					ss.Counts.FramesDir(live.ClientToServer), ss.Unparsed, snap.WireBytes(live.ClientToServer), ss.Framing, tc.frames, tc.cut, len(tc.send))
			}
		})
	}
}

// TestOwnCloseWrongProtocol: a real hashicorp/yamux client opens a stream
// on a real smux server whose listener is tapped (protocol detected). smux
// reads the first 8 bytes of yamux's 12-byte header, refuses them
// ("invalid protocol") and the program closes the session: no Read is
// under way then. What smux read counts as unparsed wire bytes of the
// client, no TRUNCATED named (the tapped end stopped reading); what the
// tap read ahead of it is not decoded. Before, the client left no trace:
// bytes c2s 0, unparsed [0 0].
func TestOwnCloseWrongProtocol(t *testing.T) {
	t.Run("detected", func(t *testing.T) {
		reg, n := yamuxAtSmux(t)
		snap := reg.Snapshot()
		ss := snap.Sessions[0]
		if n == 0 || !ss.Ended || ss.Unparsed[live.ClientToServer] != n || snap.WireBytes(live.ClientToServer) != uint64(n) || len(ss.Framing) != 0 {
			t.Errorf("smux read %d bytes; ended %v, bytes c2s %d, unparsed %v, wire c2s %d, framing %+v; want them unparsed, no violation",
				n, ss.Ended, ss.Counts.BytesDir(live.ClientToServer), ss.Unparsed, snap.WireBytes(live.ClientToServer), ss.Framing)
		}
	})
	// Told its end's smux version, the tap knows its end speaks smux: the
	// client's yamux header is BAD_VERSION, a PROTOCOL finding naming
	// yamux, as smux refused it. Before, detection took the session for
	// yamux, and the 8 bytes for a cut header: no violation.
	t.Run("told the version", func(t *testing.T) {
		reg, n := yamuxAtSmux(t, Version(2))
		reg.Evaluate(time.Now(), live.FindingsConfig{})
		snap := reg.Snapshot()
		ss := snap.Sessions[0]
		var text string
		for _, f := range append(snap.Findings, snap.Resolved...) {
			if f.Code == live.CodeProtocol {
				text = f.Text
			}
		}
		if len(ss.Framing) != 1 || ss.Framing[0].Code != decoder.BadVersion || ss.Unparsed[live.ClientToServer] != n ||
			!strings.Contains(text, "yamux") {
			t.Errorf("framing %+v, unparsed %v (smux read %d), PROTOCOL %q; want BAD_VERSION c2s, its bytes unparsed, a PROTOCOL finding naming yamux",
				ss.Framing, ss.Unparsed, n, text)
		}
	})
}

// yamuxAtSmux has a real hashicorp/yamux client open a stream on a real
// smux server whose listener is tapped with opts. smux reads the first 8
// bytes of yamux's 12-byte header, refuses them ("invalid protocol") and
// the program closes the session: no Read is under way then. It returns
// the registry, the session ended, and how many bytes smux read from the
// tap (which reads ahead of it).
func yamuxAtSmux(t *testing.T, opts ...Option) (*live.Registry, int64) {
	t.Helper()
	reg := live.New(live.Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var read atomic.Int64
	wl := countingListener{WrapListener(ln, reg, "smux-server", opts...), &read}
	accepted := make(chan error, 1)
	go func() {
		c, err := wl.Accept()
		if err != nil {
			accepted <- err
			return
		}
		s, err := smux.Server(c, smuxtest.Config(2))
		if err != nil {
			accepted <- err
			return
		}
		_, err = s.AcceptStream()
		s.Close()
		accepted <- err
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	ys, err := hyamux.Client(raw, smuxtest.YamuxConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ys.Close() })
	go ys.OpenStream() // its SYN goes out; it fails as the server closes
	if err := <-accepted; err == nil || !strings.Contains(err.Error(), "invalid protocol") {
		t.Fatalf("smux server: %v, want invalid protocol", err)
	}
	return reg, read.Load()
}

type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{c, l.n}, nil
}

// TestOwnCloseWindowExceeded: a real hashicorp/yamux server, tapped, gets
// a DATA frame one byte longer than its stream's 256 KiB initial window. It
// refuses it as its header arrives ("receive window exceeded", GoAway)
// and closes its session from its reader, which has returned: the tap read
// only part of the frame. The cut frame is WINDOW_EXCEEDED, c2s, stream 1,
// as it is at the client's tap (TestWindowExceededCutReal). Before, the
// server's tap never checked it: no anomaly.
func TestOwnCloseWindowExceeded(t *testing.T) {
	syn := yamux.MakeHeader(yamux.WindowUpdate, yamux.SYN, 1, 0)
	data := yamux.MakeHeader(yamux.Data, 0, 1, yamux.InitialWindow+1)
	frame := append(append(syn[:], data[:]...), make([]byte, yamux.InitialWindow+1)...)
	reg := live.New(live.Config{})
	cc, sc := smuxtest.Conns(t)
	tc := newCloseSignal(Wrap(sc, live.Server, reg, "srv", WithProtocol(Yamux)))
	cfg := smuxtest.YamuxConfig()
	var log lockedBuffer
	cfg.LogOutput = &log
	srv, err := hyamux.Server(tc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	go func() {
		if st, err := srv.AcceptStream(); err == nil {
			st.Read(make([]byte, 1))
		}
	}()
	go func() {
		cc.Write(frame) // fails as the server closes
		io.Copy(io.Discard, cc)
	}()
	<-tc.done
	if !strings.Contains(log.String(), "receive window exceeded") {
		t.Fatalf("yamux server log %q: want its receive window exceeded", log.String())
	}
	ss := endedSession(t, reg)
	var got []string
	for _, a := range ss.Anomalies {
		got = append(got, a.Anomaly.String()+" "+a.Dir.String()+" "+strconv.FormatUint(uint64(a.YamuxHeader.StreamID()), 10))
	}
	if ss.AnomaliesBy[live.WindowExceeded] != 1 || len(got) != 1 || got[0] != "WINDOW_EXCEEDED → 1" || len(ss.Framing) != 0 {
		t.Errorf("anomalies %q (WINDOW_EXCEEDED %d), framing %+v, unparsed %v; want one WINDOW_EXCEEDED → 1, no violation",
			got, ss.AnomaliesBy[live.WindowExceeded], ss.Framing, ss.Unparsed)
	}
}

// TestConcurrentReads: two goroutines read one tapped conn at once, as
// net.Conn allows (a *net.TCPConn serialises them). Every byte is decoded
// once, in the order read: all the peer's NOPs are frames, nothing broken.
// Before, the two fed the decoder at once: a data race (-race only).
func TestConcurrentReads(t *testing.T) {
	reg := live.New(live.Config{})
	cc, sc := smuxtest.Conns(t)
	c := Wrap(cc, live.Client, reg, "2readers")
	const N = 500
	go func() {
		nop := []byte{1, 3, 0, 0, 0, 0, 0, 0}
		for range N {
			sc.Write(nop)
		}
		sc.Close()
	}()
	var wg sync.WaitGroup
	var total atomic.Int64
	for range 2 {
		wg.Go(func() {
			buf := make([]byte, 8)
			for {
				n, err := io.ReadFull(c, buf)
				total.Add(int64(n))
				if err != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	c.Close()
	ss := reg.Snapshot().Sessions[0]
	if total.Load() != 8*N || ss.Counts.FramesDir(live.ServerToClient) != N || len(ss.Framing) != 0 || ss.Unparsed != [2]int64{} {
		t.Errorf("read %d bytes, frames s2c %d, framing %+v, unparsed %v; want %d bytes, %d frames, none broken", total.Load(), ss.Counts.FramesDir(live.ServerToClient), ss.Framing, ss.Unparsed, 8*N, N)
	}
}

// heldConn's Read waits for the test, then returns what it is given, even
// after Close: a conn whose Read was past the wire as Close came.
type heldConn struct {
	net.Conn
	began chan struct{}
	give  chan []byte
}

func (h heldConn) Read(p []byte) (int, error) {
	h.began <- struct{}{}
	b, ok := <-h.give
	if !ok {
		return 0, net.ErrClosed
	}
	return copy(p, b), nil
}

// TestCloseDuringRead: Close comes while a Read holds the conn, which then
// returns bytes it read before the close (a partial header). Close cannot
// end the read direction then; the Read ends it as it lets go: its bytes
// count as unparsed, no violation. Before, nothing ended it: unparsed [0 0].
func TestCloseDuringRead(t *testing.T) {
	reg := live.New(live.Config{})
	cc, _ := smuxtest.Conns(t)
	h := heldConn{cc, make(chan struct{}, 1), make(chan []byte)}
	c := Wrap(h, live.Client, reg, "held")
	read := make(chan error)
	go func() {
		_, err := c.Read(make([]byte, 64))
		read <- err
	}()
	<-h.began
	c.Close()
	h.give <- []byte{1, 3, 0}
	if err := <-read; err != nil {
		t.Fatal(err)
	}
	ss := reg.Snapshot().Sessions[0]
	if ss.Unparsed != [2]int64{0, 3} || len(ss.Framing) != 0 || !ss.Ended {
		t.Errorf("unparsed %v framing %+v ended %v; want [0 3], no violation, ended", ss.Unparsed, ss.Framing, ss.Ended)
	}
	close(h.give)
	if _, err := c.Read(make([]byte, 8)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Read after Close: %v, want net.ErrClosed", err)
	}
}

// TestOwnCloseHealthy: a healthy smux session, tapped at the client, whose
// program closes it normally after an echo: nothing is unparsed and
// nothing broken, as before.
func TestOwnCloseHealthy(t *testing.T) {
	reg := live.New(live.Config{})
	cc, sc := smuxtest.Conns(t)
	tc := newCloseSignal(Wrap(cc, live.Client, reg, "cli"))
	cli, err := smux.Client(tc, smuxtest.Config(2))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := smux.Server(sc, smuxtest.Config(2))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	go func() {
		if st, err := srv.AcceptStream(); err == nil {
			io.Copy(st, st)
			st.Close()
		}
	}()
	st := openStream(t, cli, "ping")
	if _, err := io.ReadFull(st, make([]byte, 4)); err != nil {
		t.Fatal(err)
	}
	st.Close()
	cli.Close()
	<-tc.done
	snap := reg.Snapshot()
	ss := snap.Sessions[0]
	if ss.Unparsed != [2]int64{} || len(ss.Framing) != 0 || ss.AnomalyCount != 0 ||
		snap.WireBytes(live.ServerToClient) != ss.Counts.BytesDir(live.ServerToClient) || ss.Counts.FramesDir(live.ServerToClient) == 0 {
		t.Errorf("unparsed %v framing %+v anomalies %d, counts %+v; want none unparsed or broken", ss.Unparsed, ss.Framing, ss.AnomalyCount, ss.Counts)
	}
}
