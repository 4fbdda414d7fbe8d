package capture_test

import (
	"bytes"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/yamux"
	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// wireLog records, in the order they were written, the writes of both
// ends of a connection.
type wireLog struct {
	mu     sync.Mutex
	writes []wireWrite
}

type wireWrite struct {
	dir live.Dir
	b   []byte
}

// loggedConn is one end of a connection whose writes a wireLog records.
type loggedConn struct {
	net.Conn
	log *wireLog
	dir live.Dir
}

func (c loggedConn) Write(p []byte) (int, error) {
	c.log.mu.Lock()
	c.log.writes = append(c.log.writes, wireWrite{c.dir, bytes.Clone(p)})
	c.log.mu.Unlock()
	return c.Conn.Write(p)
}

// sinkConn takes every write and never gives a byte: a mux session's
// client writes its frames into it as into a connection whose peer has
// not answered yet.
type sinkConn struct {
	net.Conn // nil: the methods a session uses are below
	mu       sync.Mutex
	buf      bytes.Buffer
	closed   chan struct{}
}

func newSink() *sinkConn { return &sinkConn{closed: make(chan struct{})} }

func (s *sinkConn) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *sinkConn) Read([]byte) (int, error) { <-s.closed; return 0, io.EOF }

func (s *sinkConn) Close() error {
	select {
	case <-s.closed:
	default:
		close(s.closed)
	}
	return nil
}

func (s *sinkConn) SetDeadline(time.Time) error      { return nil }
func (s *sinkConn) SetReadDeadline(time.Time) error  { return nil }
func (s *sinkConn) SetWriteDeadline(time.Time) error { return nil }

func (s *sinkConn) bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.buf.Bytes())
}

// innerSmux returns what a real smux v1 client writes to open a stream
// and send it n writes of size bytes: a SYN, then PSH frames of at most
// 32 KiB.
func innerSmux(t *testing.T, n, size int) []byte {
	t.Helper()
	sink := newSink()
	sess, err := smux.Client(sink, smux.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	st, err := sess.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	msg := pattern(size)
	for range n {
		if _, err := st.Write(msg); err != nil {
			t.Fatal(err)
		}
	}
	return sink.bytes()
}

// innerYamux returns what a real hashicorp/yamux client writes to open a
// stream and send it n writes of size bytes: a Data frame each.
func innerYamux(t *testing.T, n, size int) []byte {
	t.Helper()
	sink := newSink()
	cfg := yamux.DefaultConfig()
	cfg.EnableKeepAlive = false
	cfg.LogOutput = io.Discard
	sess, err := yamux.Client(sink, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	st, err := sess.Open()
	if err != nil {
		t.Fatal(err)
	}
	msg := pattern(size)
	for range n {
		if _, err := st.Write(msg); err != nil {
			t.Fatal(err)
		}
	}
	// yamux's writes go through its send loop: wait for the last of them.
	want := 12 + n*(12+size) // its window update that opens the stream, then the Data frames
	for len(sink.bytes()) < want {
		time.Sleep(time.Millisecond)
	}
	return sink.bytes()
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

// tunnel carries inner, the bytes of an inner mux session, over one
// stream of a real outer session ("yamux" or "smux") between a client
// and a server over a pipe, written in chunks of chunk bytes (a relay's
// buffer), and returns what both ends wrote, in order.
func tunnel(t *testing.T, outer string, inner []byte, chunk int) []wireWrite {
	t.Helper()
	log := new(wireLog)
	cp, sp := net.Pipe()
	cc, sc := loggedConn{cp, log, live.ClientToServer}, loggedConn{sp, log, live.ServerToClient}
	var open func() (io.WriteCloser, error)
	var accept func() (io.Reader, error)
	var closeAll func()
	switch outer {
	case "yamux":
		cfg := yamux.DefaultConfig()
		cfg.EnableKeepAlive = false
		cfg.LogOutput = io.Discard
		c, err := yamux.Client(cc, cfg)
		if err != nil {
			t.Fatal(err)
		}
		s, err := yamux.Server(sc, cfg)
		if err != nil {
			t.Fatal(err)
		}
		open = func() (io.WriteCloser, error) { return c.Open() }
		accept = func() (io.Reader, error) { return s.Accept() }
		closeAll = func() { c.Close(); s.Close() }
	case "smux":
		c, err := smux.Client(cc, smux.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		s, err := smux.Server(sc, smux.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		open = func() (io.WriteCloser, error) { return c.OpenStream() }
		accept = func() (io.Reader, error) { return s.AcceptStream() }
		closeAll = func() { c.Close(); s.Close() }
	}
	got := make(chan int, 1)
	go func() {
		st, err := accept()
		if err != nil {
			got <- -1
			return
		}
		n, _ := io.ReadFull(st, make([]byte, len(inner)))
		got <- n
	}()
	st, err := open()
	if err != nil {
		t.Fatal(err)
	}
	for b := inner; len(b) > 0; {
		n := min(chunk, len(b))
		if _, err := st.Write(b[:n]); err != nil {
			t.Fatal(err)
		}
		b = b[n:]
	}
	if n := <-got; n != len(inner) {
		t.Fatalf("the tunnel's server read %d of %d bytes", n, len(inner))
	}
	closeAll()
	log.mu.Lock()
	defer log.mu.Unlock()
	return log.writes
}

// joinedAt writes ws to a capture, 100 µs apart, and returns its packets
// from the one that carries the client's byte at offset from on, that one
// cut to begin there: a capture that joined the connection mid-stream.
func joinedAt(t *testing.T, ws []wireWrite, from int) []pkt {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	path := writeCapture(t, func(w *pcapout.Writer) {
		c := w.Conn("127.0.0.1:40011", "127.0.0.1:9000", t0)
		for i, wr := range ws {
			c.Write(wr.dir, t0.Add(time.Duration(i+1)*100*time.Microsecond), wr.b)
		}
	})
	var ps []pkt
	off := 0
	for _, p := range readPackets(t, path) {
		if len(ps) == 0 {
			if p.TCP.DstPort != 9000 || len(p.Payload) == 0 {
				continue
			}
			if off+len(p.Payload) <= from {
				off += len(p.Payload)
				continue
			}
			p = trim(t, p, from-off)
		}
		ps = append(ps, p)
	}
	if len(ps) == 0 {
		t.Fatalf("the client sent fewer than %d bytes", from)
	}
	return ps
}

// checkJoined reads ps as read does, finding the connection, and checks
// that it is one session of want with no violation and no finding.
func checkJoined(t *testing.T, ps []pkt, want live.Protocol) {
	t.Helper()
	reg := readEvaluated(ps, capture.Config{}, live.FindingsConfig{Churn: -1, UnansweredAfter: time.Hour})
	ss := reg.Snapshot().Sessions
	if len(ss) != 1 {
		t.Fatalf("%d sessions, want 1", len(ss))
	}
	s := ss[0]
	recs, _ := reg.Frames(live.Query{From: 1}, nil)
	var fs []string
	for _, r := range recs {
		if r.Kind == live.FindingOpened {
			fs = append(fs, r.Finding.Code.String())
		}
	}
	if s.Info.Proto != want || len(s.Framing) != 0 || len(fs) != 0 {
		t.Errorf("decoded as %v with %d violations, findings [%s]; want %v, none", s.Info.Proto, len(s.Framing), strings.Join(fs, " "), want)
	}
}

// TestJoinedNestedMux reads captures joined mid-stream of a real tunnel
// that carries the connection of a real mux inside one of its streams:
// smux apps through a yamux tunnel whose relay writes 256 KiB at a time
// (Data frames of 256 KiB, each holding eight smux frames), and yamux
// apps through an smux tunnel (PSH frames of 32 KiB, each holding many
// small yamux frames). Joined inside an outer frame, or at an outer
// header whose chain needs the next outer frames, the inner protocol's
// chain of three headers completes before the outer one's: before, the
// connection was decoded as the inner protocol, which broke at the next
// outer header (a critical PROTOCOL finding), or, in a yamux header that
// an smux header split, took the rest of the capture for one frame's
// payload.
func TestJoinedNestedMux(t *testing.T) {
	smuxIn := tunnel(t, "yamux", innerSmux(t, 1, 4<<20), 256<<10)
	yamuxIn := tunnel(t, "smux", innerYamux(t, 2000, 100), 64<<10)
	for _, tc := range []struct {
		name string
		ws   []wireWrite
		from int
		want live.Protocol
	}{
		// The yamux client writes the window update that opens the
		// stream (12 bytes), then each Data frame's 12-byte header and
		// its 256 KiB: Data headers at 12, 24 + 256 KiB, …
		{"smux in yamux, joined in the first frame", smuxIn, 100, live.Yamux},
		{"smux in yamux, joined in the second frame", smuxIn, 300 << 10, live.Yamux},
		{"smux in yamux, joined at the second frame's header", smuxIn, 24 + 256<<10, live.Yamux},
		// The smux client writes a SYN, then PSH frames of 32 KiB.
		{"yamux in smux, joined in a frame", yamuxIn, 40 << 10, live.Smux},
		{"yamux in smux, joined at a header", yamuxIn, 8 + 32<<10 + 8, live.Smux},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkJoined(t, joinedAt(t, tc.ws, tc.from), tc.want)
		})
	}
}

// TestJoinedDoubtEnds: a plain smux connection joined mid-stream, read
// with its port picked (the port tells the roles), is decided as soon as
// its first chain of headers shows it is no tunnel's payload, and at
// most a second after it otherwise: a frame a packet, written one at a
// time as a mux writes them, is decided at once, as before doubts were;
// bulk, once its frames run past the largest yamux frame; three frames
// in one packet and little else, which a yamux Data frame could have
// held, a second after they came.
func TestJoinedDoubtEnds(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	nop := v1("\x03", 0, "")
	big := v1("\x02", 3, strings.Repeat("x", 16<<10))
	for _, tc := range []struct {
		name      string
		write     func(c tap.ConnRecorder, at func(float64) time.Time)
		from, to  float64 // shown after a packet in [from, to] s
		wantFrame string  // the client's first frame
	}{{
		"a frame a packet", func(c tap.ConnRecorder, at func(float64) time.Time) {
			c.Write(live.ClientToServer, at(0), []byte("xyz"))
			for i := range 8 {
				c.Write(live.ClientToServer, at(0.1*float64(i+1)), []byte(nop))
				c.Write(live.ServerToClient, at(0.1*float64(i+1)+0.05), []byte(nop))
			}
		}, 0.35, 0.35, "c2s NOP 0 0", // the server's third NOP: both boundaries found
	}, {
		"bulk", func(c tap.ConnRecorder, at func(float64) time.Time) {
			c.Write(live.ClientToServer, at(0), []byte("xyz"+strings.Repeat(big, 4)))
			c.Write(live.ServerToClient, at(0.001), []byte(nop+nop+nop))
			for i := range 10 {
				c.Write(live.ClientToServer, at(0.01*float64(i+1)), []byte(strings.Repeat(big, 4)))
			}
		}, 0.04, 0.04, "c2s PSH 3 16384",
	}, {
		"three frames in a packet", func(c tap.ConnRecorder, at func(float64) time.Time) {
			c.Write(live.ClientToServer, at(0), []byte("xyz"+nop+nop+nop))
			c.Write(live.ServerToClient, at(0.05), []byte(nop+nop+nop))
			for i := range 8 {
				c.Write(live.ClientToServer, at(0.5*float64(i+1)), []byte(nop))
				c.Write(live.ServerToClient, at(0.5*float64(i+1)), []byte(nop))
			}
		}, 1, 1.5, "c2s NOP 0 0",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			ps := alignedCapture(t, t0, tc.write)
			shown, reg := shownAt(t, ps, capture.Config{Filter: capture.Port(9000)})
			if shown.Before(t0.Add(time.Duration(tc.from*float64(time.Second)))) || shown.After(t0.Add(time.Duration(tc.to*float64(time.Second)))) {
				t.Errorf("shown after the packet at %v, want %v–%v s", shown.Sub(t0), tc.from, tc.to)
			}
			ss := reg.Snapshot().Sessions
			if len(ss) != 1 || ss[0].Info.Proto != live.Smux || len(ss[0].Framing) != 0 {
				t.Fatalf("sessions %+v, want one of smux without violations", ss)
			}
			if fs := framesOf(reg); len(fs) == 0 || fs[0] != tc.wantFrame {
				t.Errorf("frames %v, want the client's %s first", fs, tc.wantFrame)
			}
		})
	}
}

// TestJoinedNestedSameMux reads captures joined mid-stream of a real
// tunnel that carries a real mux of its own protocol: smux apps through
// an smux tunnel, yamux apps through a yamux one, whose frames each hold
// many small inner frames. The inner chain completes first and is of the
// right protocol; the frames after it break at the next tunnel header.
// Before, the connection was framed from the inner chain, to a critical
// PROTOCOL finding at that header; now from the tunnel's first boundary
// after it.
func TestJoinedNestedSameMux(t *testing.T) {
	smuxIn := tunnel(t, "smux", innerSmux(t, 3000, 100), 64<<10)
	yamuxIn := tunnel(t, "yamux", innerYamux(t, 2000, 100), 64<<10)
	for _, tc := range []struct {
		name string
		ws   []wireWrite
		from int
		want live.Protocol
	}{
		{"smux in smux, joined in a frame", smuxIn, 40 << 10, live.Smux},
		{"smux in smux, joined in the first frame", smuxIn, 100, live.Smux},
		{"yamux in yamux, joined in a frame", yamuxIn, 100 << 10, live.Yamux},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkJoined(t, joinedAt(t, tc.ws, tc.from), tc.want)
		})
	}
}

// TestJoinedBreakReported: a plain smux connection joined mid-stream
// whose client's frames break after its first chain (bytes altered on
// the way: five inserted) and go on after the break is still framed from
// that chain, and the break is a violation: a boundary found after the
// break is no tunnel's header, which would lie before where the next
// frame was due.
func TestJoinedBreakReported(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	nop := v1("\x03", 0, "")
	psh := v1("\x02", 3, strings.Repeat("p", 50))
	ps := alignedCapture(t, t0, func(c tap.ConnRecorder, at func(float64) time.Time) {
		c.Write(live.ClientToServer, at(0), []byte("xyz"+psh+psh+psh))
		c.Write(live.ServerToClient, at(0.05), []byte(nop+nop+nop))
		c.Write(live.ClientToServer, at(0.1), []byte("JUNK!"+psh+psh+psh))
		for i := range 4 {
			c.Write(live.ClientToServer, at(0.5*float64(i+1)), []byte(psh))
			c.Write(live.ServerToClient, at(0.5*float64(i+1)), []byte(nop))
		}
	})
	reg := readEvaluated(ps, capture.Config{Filter: capture.Port(9000)}, live.FindingsConfig{Churn: -1, UnansweredAfter: time.Hour})
	ss := reg.Snapshot().Sessions
	if len(ss) != 1 || ss[0].Info.Proto != live.Smux {
		t.Fatalf("sessions %+v, want one of smux", ss)
	}
	want := int64(3 + 3*len(psh))
	if f := ss[0].Framing; len(f) != 1 || f[0].Dir != live.ClientToServer || f[0].Offset != want || ss[0].Skipped != [2]int64{3, 0} {
		t.Errorf("violations %+v, skipped %v; want the client's at offset %d, 3 bytes skipped", f, ss[0].Skipped, want)
	}
}
