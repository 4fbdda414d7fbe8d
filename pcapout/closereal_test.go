package pcapout_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/internal/livecaptest"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// tapCloseGrace is tap's closeGrace: how long after Close a Read that
// never returns holds the recording's end.
const tapCloseGrace = 500 * time.Millisecond

// endsWriter is a pcapout.Writer whose connections close told, and
// note when, as the tap tells them it closed the conn
// (tap.ClosingRecorder): their recording is then complete.
type endsWriter struct {
	*pcapout.Writer
	told chan struct{}
	at   *atomic.Int64 // when first told, Unix ns
	once *sync.Once
}

func (w endsWriter) ConnOver(client, server, transport string, at time.Time) tap.ConnRecorder {
	return endsConn{w.Writer.ConnOver(client, server, transport, at).(tap.ClosingRecorder), w}
}

// ConnTold is what the tap calls (tap.ToldRecorder): the Writer's own
// would pass ConnOver by.
func (w endsWriter) ConnTold(client, server, transport string, told tap.Told, at time.Time) tap.ConnRecorder {
	return endsConn{w.Writer.ConnTold(client, server, transport, told, at).(tap.ClosingRecorder), w}
}

type endsConn struct {
	tap.ClosingRecorder
	w endsWriter
}

func (c endsConn) Closed(dir live.Dir, at time.Time) {
	c.ClosingRecorder.Closed(dir, at)
	c.w.once.Do(func() {
		c.w.at.Store(time.Now().UnixNano())
		close(c.w.told)
	})
}

// endsRecording returns a registry to tap into and an endsWriter of a
// pcapout.Writer to record into, writing file.
func endsRecording(t *testing.T) (file *bytes.Buffer, pw *pcapout.Writer, w endsWriter, reg *live.Registry) {
	t.Helper()
	file = new(bytes.Buffer)
	pw, err := pcapout.New(file, 0)
	if err != nil {
		t.Fatal(err)
	}
	return file, pw, endsWriter{pw, make(chan struct{}), new(atomic.Int64), new(sync.Once)}, live.New(live.Config{})
}

// answerBytes is what the server of m sends for one stream opened by the
// client, written "ping" on and answered "pong": smux v1's PSH; v2's UPD
// at its stream's first read, a UPD more and the PSH; yamux's window
// update ACK (the accept) and its data frame.
func answerBytes(m livecaptest.Mux) int64 {
	switch {
	case m.M.Yamux():
		return 12 + 12 + 4
	case m.M.Smux.Version == 2:
		return 8 + 8 + 8 + 4
	}
	return 8 + 4
}

// pingPong opens a stream on cli, writes "ping" on it, and has srv's
// handler answer "pong"; it returns once the client read the answer.
func pingPong(t *testing.T, cli, srv smuxtest.Session) {
	t.Helper()
	go func() {
		s, err := srv.AcceptStream()
		if err != nil {
			return
		}
		if _, err := io.ReadFull(s, make([]byte, 4)); err != nil {
			return
		}
		io.WriteString(s, "pong")
	}()
	st, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(st, "ping"); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(st, make([]byte, 4)); err != nil {
		t.Fatal(err)
	}
}

// checkEnds reads the recording back through capture and checks it
// against the tap's registry: the same counts, both directions' ends,
// the client's FIN first, and the server's last frame before it.
func checkEnds(t *testing.T, file []byte, reg *live.Registry) (tapped, got *live.SessionSnap) {
	t.Helper()
	tapped = onlySession(t, "the tap", reg)
	read, _ := readCapture(t, file)
	got = onlySession(t, "read", read)
	if got.Counts != tapped.Counts {
		t.Errorf("read counts %+v, the tap %+v", got.Counts, tapped.Counts)
	}
	first := tap.ClosedFirst("client").Error()
	if rw := sessionEnded(read); len(rw) != 1 || anonymous(rw[0].Detail, got.Info) != first {
		t.Errorf("read's session-ended: %+v, want one saying %q", rw, first)
	}
	// Both directions' ends: the client's FIN (a half-close), then the
	// server's (the session's end).
	recs, _ := read.Frames(live.Query{From: 1}, nil)
	lastServer, firstEnd := -1, -1
	var ends []string
	for i, r := range recs {
		switch {
		case r.Kind == live.FrameRecord && r.Dir == live.ServerToClient:
			lastServer = i
		case r.Kind == live.SessionHalfClosed || r.Kind == live.SessionEnded:
			ends = append(ends, anonymous(r.Detail, got.Info))
			if firstEnd < 0 {
				firstEnd = i
			}
		}
	}
	if len(ends) != 2 || !strings.HasPrefix(ends[0], "the client closed its side of the connection") || ends[1] != first {
		t.Errorf("read's ends: %q; want the client's half-close, then the session's end", ends)
	}
	if lastServer < 0 && tapped.Counts.FramesDir(live.ServerToClient) == 0 {
		lastServer = 0 // none decoded (an smux answer cut by the close): nothing to order
	}
	if lastServer < 0 || firstEnd < 0 || lastServer > firstEnd {
		t.Errorf("read: the server's last frame is record %d, the first end record %d: want the answer before the client's FIN", lastServer, firstEnd)
	}
	return tapped, got
}

// closeInRead is a conn under the tap whose Read that brings the bytes
// read to want or more calls close before it returns: a layer under the
// tap, or the program through it, closing the tapped conn from inside
// the tap's own Read.
type closeInRead struct {
	net.Conn
	want  int64
	got   int64 // read so far; the reader's own
	close func()
	fired chan struct{} // closed as close returned
	in    atomic.Int64  // every byte read from the socket
}

func (c *closeInRead) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.in.Add(int64(n))
	if c.got < c.want {
		if c.got += int64(n); c.got >= c.want {
			c.close()
			close(c.fired)
		}
	}
	return n, err
}

// toldAtReturn is the conn between a mux and its tap: it notes whether,
// as the tap's Read in which the conn under it was closed returned, the
// recorder had been told; that Read tells it, as the last under way.
type toldAtReturn struct {
	net.Conn
	fired <-chan struct{}
	told  <-chan struct{}
	seen  atomic.Int32 // 0 not yet; 1 told then; 2 not told then
}

func (c *toldAtReturn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	select {
	case <-c.fired:
		select {
		case <-c.told:
			c.seen.CompareAndSwap(0, 1)
		default:
			c.seen.CompareAndSwap(0, 2)
		}
	default:
	}
	return n, err
}

// closeAfterRead is the conn between a mux and its tap whose Read that
// brings the bytes read to want or more closes the tap on the mux's
// reader goroutine right after the tap's Read returned, before it
// returns to the mux: a reader that closes the conn on a bad frame. It
// notes whether the recorder had been told as that Close returned: with
// no Read under way, Close tells it itself.
type closeAfterRead struct {
	net.Conn
	want  int64
	got   int64 // read so far; the reader's own
	told  <-chan struct{}
	fired chan struct{}
	early atomic.Bool // Close returned and the recorder was not told
}

func (c *closeAfterRead) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if c.got < c.want {
		if c.got += int64(n); c.got >= c.want {
			c.Conn.Close()
			select {
			case <-c.told:
			default:
				c.early.Store(true)
			}
			close(c.fired)
		}
	}
	return n, err
}

// TestTapCloseInsideReadReal: real smux v1, v2 and hashicorp/yamux
// sessions over loopback TCP whose client's tapped conn is closed from
// inside the tap's own Read, by the conn under it, as the Read that took
// the server's answer from the socket returns: by the tap's Close, and
// over smux by the session's Close (smux.Session.Close closes its conn
// and waits for nothing; hashicorp/yamux's waits for its own receive loop,
// the goroutine it would be called on, and so deadlocks by itself). No
// deadlock: Close returns, the Read returns, and the recorder is told by
// it as it returns, not the grace (closeGrace) later. The
// recording has the answer and both directions' ends, the client's first:
// read through capture, it counts what the tap counted, the tap counted
// every byte the client read from the socket, and the answer comes before
// the client's FIN. (Over smux, the mux's Read under way asked for the
// answer's header alone: the tap decodes that, and the payload, which it
// read ahead and the mux reads after the close, not.) And by the tap's Close on the same goroutine right
// after the tap's Read returned, before the mux has the answer (after):
// Close tells the recorder itself, as no Read is under way.
func TestTapCloseInsideReadReal(t *testing.T) {
	for _, mux := range livecaptest.Muxes() {
		for _, by := range []string{"tap", "session", "after"} {
			if by == "session" && mux.M.Yamux() {
				continue // yamux's Close waits for the goroutine it runs on
			}
			t.Run(mux.Name+"/"+by, func(t *testing.T) {
				file, pw, w, reg := endsRecording(t)
				cc, sc := smuxtest.Conns(t)
				cr := &closeInRead{Conn: cc, want: answerBytes(mux), fired: make(chan struct{})}
				srv, err := mux.M.Server(sc)
				if err != nil {
					t.Fatal(err)
				}
				defer srv.Close()
				tc := tap.Wrap(cr, live.Client, reg, mux.Name, tap.Record(w))
				above := &toldAtReturn{Conn: tc, fired: cr.fired, told: w.told}
				var muxConn net.Conn = above
				fired := cr.fired
				after := &closeAfterRead{Conn: tc, want: cr.want, told: w.told, fired: make(chan struct{})}
				if by == "after" {
					cr.want = 0 // the conn under the tap closes nothing
					muxConn, fired = after, after.fired
				}
				cli, err := mux.M.Client(muxConn)
				if err != nil {
					t.Fatal(err)
				}
				defer cli.Close()
				cr.close = func() { tc.Close() }
				if by == "session" {
					cr.close = func() { cli.Close() }
				}
				go func() {
					s, err := srv.AcceptStream()
					if err != nil {
						return
					}
					io.ReadFull(s, make([]byte, 4))
					io.WriteString(s, "pong")
				}()
				st, err := cli.OpenStream()
				if err != nil {
					t.Fatal(err)
				}
				// The request goes out before its Write returns: the answer
				// may close the session first (smux's Write then fails
				// with io.ErrClosedPipe).
				io.WriteString(st, "ping")
				for what, ch := range map[string]chan struct{}{"the Close inside the Read to return": fired, "the recorder to be told": w.told} {
					select {
					case <-ch:
					case <-time.After(20 * time.Second):
						t.Fatalf("waited 20 s for %s: deadlocked", what)
					}
				}
				if err := pw.Close(); err != nil {
					t.Fatal(err)
				}
				if above.seen.Load() == 2 {
					t.Error("the tap's Read in which its conn was closed returned before the recorder was told")
				}
				if after.early.Load() {
					t.Error("the tap's Close, with no Read under way, returned before the recorder was told")
				}
				tapped, _ := checkEnds(t, file.Bytes(), reg)
				answers := tapped.Counts.Frames[live.ServerToClient][decoder.PSH]
				if mux.M.Yamux() {
					answers = tapped.Counts.TypeFrames[live.ServerToClient][yamux.Data]
				}
				// Closed inside the Read that took the answer, an smux
				// client's mux had asked for its header alone: the tap
				// read the payload ahead, and the mux reads it after the
				// close, not decoded (Conn.Read). yamux asks for 4 KiB.
				wantAnswers, cut, straddled := uint64(1), int64(0), false
				if !mux.M.Yamux() && by != "after" {
					wantAnswers, cut, straddled = 0, 8, true
				}
				if answers != wantAnswers || tapped.Unparsed[live.ServerToClient] != cut {
					t.Errorf("the tap counted %d data frames from the server, %d bytes unparsed; want %d, %d: %+v",
						answers, tapped.Unparsed[live.ServerToClient], wantAnswers, cut, tapped.Counts)
				}
				var s2c uint64
				for _, b := range tapped.Counts.Bytes[live.ServerToClient] {
					s2c += b
				}
				for _, b := range tapped.Counts.TypeBytes[live.ServerToClient] {
					s2c += b
				}
				// Every byte the client read from the socket, but those the
				// mux read after the close.
				if in := cr.in.Load(); int64(s2c)+cut != in && !(straddled && int64(s2c)+cut < in) {
					t.Errorf("the tap counted %d bytes from the server and %d unparsed, the client read %d from the socket", s2c, cut, in)
				}
			})
		}
	}
}

// stuckRead is a conn under the tap whose Reads, once stuck is called,
// never return until end closes, whatever closes the conn (against
// net.Conn's contract: a layer that ignores its conn's close). One under
// way then, waiting on the socket, is woken by a read deadline, and
// stays.
type stuckRead struct {
	net.Conn
	armed  atomic.Bool
	held   chan struct{} // closed as a Read is held
	once   sync.Once
	end    chan struct{}
	closed atomic.Bool
}

// stuck holds the Read under way, and every Read after, until end.
func (c *stuckRead) stuck(t *testing.T) {
	c.armed.Store(true)
	if err := c.Conn.SetReadDeadline(time.Now()); err != nil {
		t.Fatal(err)
	}
	<-c.held
}

func (c *stuckRead) hold() (int, error) {
	c.once.Do(func() { close(c.held) })
	<-c.end
	return 0, net.ErrClosed
}

func (c *stuckRead) Read(p []byte) (int, error) {
	if c.armed.Load() {
		return c.hold()
	}
	n, err := c.Conn.Read(p)
	if n == 0 && errors.Is(err, os.ErrDeadlineExceeded) && c.armed.Load() {
		return c.hold()
	}
	return n, err
}

func (c *stuckRead) Close() error {
	c.closed.Store(true)
	return c.Conn.Close()
}

// TestTapCloseStuckReadStillEndsReal: TestTapCloseStuckReadStillEnds on
// real smux v1, v2 and hashicorp/yamux sessions over loopback TCP. A
// stream's request is answered; then the client mux's Read under the tap
// is held, and closing the conn does not free it. The client's session
// closes (yamux's Close waits for its receive loop, held: it runs until
// the test frees the Read). The tap's Close returns; the recording ends
// at the grace after it, not before and not much later, with both
// directions' ends, the client's first; read through capture, it counts
// what the tap counted.
func TestTapCloseStuckReadStillEndsReal(t *testing.T) {
	for _, mux := range livecaptest.Muxes() {
		t.Run(mux.Name, func(t *testing.T) {
			file, pw, w, reg := endsRecording(t)
			cc, sc := smuxtest.Conns(t)
			sr := &stuckRead{Conn: cc, held: make(chan struct{}), end: make(chan struct{})}
			srv, err := mux.M.Server(sc)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			cli, err := mux.M.Client(tap.Wrap(sr, live.Client, reg, mux.Name, tap.Record(w)))
			if err != nil {
				t.Fatal(err)
			}
			pingPong(t, cli, srv)
			smuxtest.Eventually(t, "the server's answer read", func() bool {
				ss := reg.Snapshot().Sessions
				return len(ss) == 1 && ss[0].Counts.FramesDir(live.ServerToClient) > 0 &&
					sumBytes(ss[0].Counts, live.ServerToClient) == uint64(answerBytes(mux))
			})
			sr.stuck(t)
			closing := time.Now()
			closed := make(chan struct{})
			go func() {
				defer close(closed)
				cli.Close()
			}()
			select {
			case <-w.told:
			case <-time.After(20 * time.Second):
				t.Fatal("the recorder was not told 20 s after the Close")
			}
			told := time.Unix(0, w.at.Load())
			if !sr.closed.Load() {
				t.Error("the recorder was told before the conn was closed")
			}
			if d := told.Sub(closing); d < tapCloseGrace || d > tapCloseGrace+5*time.Second {
				t.Errorf("the recording ended %v after the Close, want at the grace, %v", d, tapCloseGrace)
			}
			if err := pw.Close(); err != nil {
				t.Fatal(err)
			}
			checkEnds(t, file.Bytes(), reg)
			close(sr.end)
			<-closed
		})
	}
}

// sumBytes is every byte counted in dir, smux's and yamux's.
func sumBytes(c live.Counts, dir live.Dir) uint64 {
	var n uint64
	for _, b := range c.Bytes[dir] {
		n += b
	}
	for _, b := range c.TypeBytes[dir] {
		n += b
	}
	return n
}
