package tap

import (
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	hyamux "github.com/hashicorp/yamux"
	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/xtaci/smux"
)

// closeWaitServe is an smux server behind tap.WrapListener serving one
// conn, the way many are written: it accepts streams until AcceptStream
// fails, its handlers echo and close their stream, and then its accept
// loop returns; with closeOnErr it closes the session there, as it should,
// and without, it holds the session until release is called (or the test
// ends), as a server that never calls Close does. smux does not close its
// conn when its recvLoop reads EOF: with keepalive off, the socket stays
// in TCP CLOSE-WAIT. accepted reports AcceptStream's error. noWrite says
// that the tapped conn it accepted has no Write under way: each write it
// made has been counted done (live.Session.WriteDone), as the findings
// engine sees it.
func closeWaitServe(t *testing.T, reg *live.Registry, cfg *smux.Config, closeOnErr bool, handle ...func(*smux.Stream)) (addr string, accepted <-chan error, release func(), noWrite func() bool) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tl := WrapListener(ln, reg, "svc")
	errc := make(chan error, 1)
	hold := make(chan struct{})
	done := make(chan struct{})
	var tapped atomic.Pointer[Conn]
	go func() {
		defer close(done)
		c, err := tl.Accept()
		ln.Close()
		if err != nil {
			errc <- err
			return
		}
		tapped.Store(c.(*Conn))
		sess, err := smux.Server(c, cfg)
		if err != nil {
			errc <- err
			return
		}
		for {
			st, err := sess.AcceptStream()
			if err != nil {
				if closeOnErr {
					sess.Close()
				}
				errc <- err
				break
			}
			if len(handle) > 0 {
				go handle[0](st)
				continue
			}
			go func() { io.Copy(st, st); st.Close() }()
		}
		<-hold
		sess.Close()
	}()
	var closed bool
	release = func() {
		if !closed {
			closed = true
			close(hold)
			<-done
		}
	}
	t.Cleanup(func() { ln.Close(); release() })
	noWrite = func() bool {
		c := tapped.Load()
		return c != nil && c.wstate.Load() == idle
	}
	return ln.Addr().String(), errc, release, noWrite
}

// writesDone waits until the server's tapped conn has no Write under way
// (noWrite, closeWaitServe's): the tap records a frame before its write,
// and counts the write done after it returns, so a peer can read the
// server's last frame while the server's goroutine has yet to count its
// write done. Evaluations that find it held, seconds apart by an injected
// clock, take the server for stuck in a write (SESSION_BLOCKED's sign),
// which CLOSE_WAIT leaves alone. A frame seen recorded is a write under
// way (Write marks it writing before it records the frame), so noWrite,
// asked after the last frame is seen, waits for that write: before, the
// frame showed first, and noWrite could hold at once, the write not yet
// begun.
func writesDone(t *testing.T, noWrite func() bool) {
	t.Helper()
	smuxtest.Eventually(t, "the server's last write counted done", noWrite)
}

// closeWaitClient dials addr with smux, echoes one request on a stream
// and, if leaveOpen is false, closes that stream cleanly (CloseWrite, read
// to the server's FIN); then, unless stay, closes its session and its
// conn (FIN), as a client program that exits does. It returns the session,
// open if stay, and its conn. If served, it first echoes a request on a
// stream it closes cleanly: a stream it leaves open is then a request's,
// after the session's setup, not one of its setup streams, which LEAK
// does not count (live.SetupWindow).
func closeWaitClient(t *testing.T, addr string, cfg *smux.Config, leaveOpen, stay bool, served ...bool) (*smux.Session, net.Conn) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := smux.Client(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	exchange := func(close bool) {
		st, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4)
		if _, err := io.ReadFull(st, buf); err != nil {
			t.Fatal(err)
		}
		if close {
			if err := st.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadAll(st); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(served) > 0 && served[0] {
		exchange(true)
	}
	exchange(!leaveOpen)
	if !stay {
		cli.Close() // and its conn: the client's FIN
	}
	return cli, c
}

// shutClient sends the client's FIN by shutting its conn's sending side,
// its smux session (keepalive off) left to read on until the test's
// cleanup closes it. The server sees what a client that exits sends, a
// FIN, but none of the race of an exit: a conn closed with bytes unread
// (a v2 UPD the server sent as its read met EOF, the FIN of a stream its
// handler closed) is reset by the client's kernel, and the server's
// session then ends reset, its CLOSE_WAIT never to be (1 run in 6 of
// TestCloseWaitSmuxServerNeverCloses/v2/stream_left_open on a loaded
// machine timed out waiting for the server's FIN).
func shutClient(t *testing.T, c net.Conn) {
	t.Helper()
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
}

// halfClosedSession returns the snapshot of reg's session once its
// client direction has ended, waiting up to 10 s for it.
func halfClosedSession(t *testing.T, reg *live.Registry) live.SessionSnap {
	t.Helper()
	var ss live.SessionSnap
	smuxtest.Eventually(t, "the server's tap to read the client's EOF", func() bool {
		for _, s := range reg.Snapshot().Sessions {
			if !s.DirEnded[live.ClientToServer].IsZero() {
				ss = *s
				return true
			}
		}
		return false
	})
	return ss
}

// closeWaits returns reg's open CLOSE_WAIT findings.
func closeWaits(reg *live.Registry) []*live.Finding {
	var fs []*live.Finding
	for _, f := range reg.Snapshot().Findings {
		if f.Code == live.CodeCloseWait {
			fs = append(fs, f)
		}
	}
	return fs
}

// openedCloseWaits counts the CLOSE_WAIT findings reg ever opened.
func openedCloseWaits(reg *live.Registry) uint64 {
	var n uint64
	for _, c := range reg.Snapshot().FindingsOpenedBy[live.CodeCloseWait] {
		n += c
	}
	return n
}

func keepAliveOff(version int) *smux.Config {
	cfg := smuxtest.Config(version)
	cfg.KeepAliveDisabled = true
	return cfg
}

// A real smux server, v1 and v2, with keepalive off, whose accept loop
// returns on the client's EOF without closing its session: smux does not
// close its conn when its recvLoop reads EOF, so the server holds the
// session, its socket in TCP CLOSE-WAIT, for ever. CloseWaitAfter after
// the client closed its side, one CLOSE_WAIT opens, on that session (not
// on another client's session that stays connected, idle), naming the
// client as the side that closed and the server as the one holding; the
// server's Close at last resolves it, saying the server let the session
// go. Time is injected: Evaluate at the close plus the threshold.
func TestCloseWaitSmuxServerNeverCloses(t *testing.T) {
	for _, v := range []int{1, 2} {
		for _, leaveOpen := range []bool{false, true} {
			name := fmt.Sprintf("v%d", v)
			if leaveOpen {
				// The client leaves with its stream open: the server's
				// handler reads the error and closes the stream (a FIN
				// written after the client's), then nothing: the server
				// still holds the session.
				name += "/stream left open"
			}
			t.Run(name, func(t *testing.T) { closeWaitNeverCloses(t, v, leaveOpen, false) })
		}
	}
	// The server closes after the last evaluation and the run stops before
	// the next: ResolveEnded words the resolution as that evaluation would.
	t.Run("v2/resolved at the stop", func(t *testing.T) { closeWaitNeverCloses(t, 2, false, true) })
}

func closeWaitNeverCloses(t *testing.T, version int, leaveOpen, atStop bool) {
	reg := live.New(live.Config{})
	cfg := keepAliveOff(version)
	fcfg := live.FindingsConfig{} // the default CloseWaitAfter, 2 min

	// Another client, connected and idle all along: no finding.
	idleAddr, _, _, _ := closeWaitServe(t, reg, cfg, false)
	closeWaitClient(t, idleAddr, cfg, false, true)

	addr, accepted, release, noWrite := closeWaitServe(t, reg, cfg, false)
	_, c := closeWaitClient(t, addr, cfg, leaveOpen, true)
	shutClient(t, c)
	if err := <-accepted; err == nil {
		t.Fatal("AcceptStream returned no error after the client left")
	}
	ss := halfClosedSession(t, reg)
	closed := ss.DirEnded[live.ClientToServer]
	if leaveOpen {
		// The handler's FIN, written after the EOF: the server's last frame.
		smuxtest.Eventually(t, "the server's FIN for the stream the client left open", func() bool {
			for _, s := range reg.Snapshot().Sessions {
				if s.ID == ss.ID {
					return s.Counts.Frames[live.ServerToClient][decoder.FIN] == 1
				}
			}
			return false
		})
	}
	// The server's last write (the handler's FIN) counted done, or the
	// evaluations below, 2 s apart by the injected clock and microseconds
	// apart by the real one, find it held (writesDone). Under -race, 1
	// run in 4 of v2 found it so: the client had read the FIN, and the
	// server's goroutine was between its write's return and the count;
	// a fixed 100 ms pause for it failed where a loaded machine held the
	// goroutine longer.
	writesDone(t, noWrite)

	// Not before the threshold.
	reg.Evaluate(closed.Add(live.DefaultCloseWaitAfter-time.Second), fcfg)
	if fs := closeWaits(reg); len(fs) != 0 {
		t.Fatalf("CLOSE_WAIT open %v after the client closed, before the threshold: %s", live.DefaultCloseWaitAfter-time.Second, fs[0].Text)
	}
	at := time.Now().Add(live.DefaultCloseWaitAfter + time.Second)
	reg.Evaluate(at, fcfg)
	fs := closeWaits(reg)
	if len(fs) != 1 {
		for _, f := range reg.Snapshot().Findings {
			t.Logf("open: %s %s", f.Code, f.Text)
		}
		for _, s := range reg.Snapshot().Sessions {
			t.Logf("session %d: ended %v %v %v, dir ended %v, last %v, open %d", s.ID, s.Ended, s.Reason, s.Err, s.DirEnded, s.Last, s.Open)
		}
		t.Fatalf("%d CLOSE_WAIT findings, want 1", len(fs))
	}
	f := fs[0]
	if f.Session != ss.ID || !f.HasDir || f.Dir != live.ServerToClient || f.Severity != live.Warning {
		t.Errorf("CLOSE_WAIT on session %d dir %v (has %v) %v, want session %d, s2c (the server holds), warning", f.Session, f.Dir, f.HasDir, f.Severity, ss.ID)
	}
	if !f.Since.Equal(closed) {
		t.Errorf("since %v, want the client's close %v", f.Since, closed)
	}
	want := "the client closed its side of the connection 121 s ago, and the server has not closed its own "
	holds := fmt.Sprintf(": it still holds session %d", ss.ID)
	if !strings.HasPrefix(f.Text, want) || !strings.Contains(f.Text, holds) {
		t.Errorf("text %q, want %q... %q", f.Text, want, holds)
	}
	if !strings.Contains(f.Advice, "Close() its smux session when AcceptStream") {
		t.Errorf("advice %q says not to close the session when AcceptStream fails", f.Advice)
	}
	if leaveOpen && (f.Evidence.Count != 1 || !strings.Contains(f.Text, "1 open stream")) {
		t.Errorf("count %d, text %q: want the stream the server still holds", f.Evidence.Count, f.Text)
	}
	for _, o := range reg.Snapshot().Findings {
		if o.Code != live.CodeCloseWait {
			t.Errorf("another finding beside CLOSE_WAIT: %s %s", o.Code, o.Text)
		}
	}

	// The server closes its session at last: the finding resolves.
	release()
	smuxtest.Eventually(t, "the session to end", func() bool {
		for _, s := range reg.Snapshot().Sessions {
			if s.ID == ss.ID {
				return s.Ended
			}
		}
		return true
	})
	if atStop {
		reg.ResolveEnded(at.Add(time.Second), at.Add(time.Second))
	} else {
		reg.Evaluate(at.Add(time.Second), fcfg)
	}
	if fs := closeWaits(reg); len(fs) != 0 {
		t.Fatalf("CLOSE_WAIT still open after the server closed its session: %s", fs[0].Text)
	}
	var why string
	for _, r := range reg.Snapshot().Resolved {
		if r.ID == f.ID {
			why = r.Why
		}
	}
	if want := "the session ended (local close): the server no longer holds the session the client left"; why != want {
		t.Errorf("resolved %q, want %q", why, want)
	}
}

// A client that leaves with a stream open whose server handler neither
// reads nor closes it: the stream has no FIN either way, and LEAK says so
// past --leak-after ("a side forgot Close"); once CLOSE_WAIT holds, the
// stream is the session the server keeps for a client that left, which
// CLOSE_WAIT tells it to close: the LEAK hands over to it, saying so, and
// does not stay open beside it.
func TestCloseWaitTakesOverLeak(t *testing.T) {
	reg := live.New(live.Config{})
	cfg := keepAliveOff(1)
	fcfg := live.FindingsConfig{}
	stuck := make(chan struct{})
	defer close(stuck)
	var streams atomic.Int32
	addr, accepted, _, noWrite := closeWaitServe(t, reg, cfg, false, func(st *smux.Stream) {
		if streams.Add(1) == 1 { // the client's first, which it closes: served and closed
			io.Copy(st, st)
			st.Close()
			return
		}
		buf := make([]byte, 4)
		io.ReadFull(st, buf)
		st.Write(buf)
		<-stuck // and never reads, nor closes, again
	})
	_, c := closeWaitClient(t, addr, cfg, true, true, true) // the stream left open is no setup stream
	shutClient(t, c)
	<-accepted
	ss := halfClosedSession(t, reg)
	writesDone(t, noWrite) // the server's last write counted done, as in closeWaitNeverCloses
	closed := ss.DirEnded[live.ClientToServer]
	reg.Evaluate(closed.Add(live.DefaultLeakAfter+5*time.Second), fcfg)
	fs := reg.Snapshot().Findings
	if len(fs) != 1 || fs[0].Code != live.CodeLeak {
		t.Fatalf("findings %v, want the stream's LEAK", fs)
	}
	leak := fs[0]
	reg.Evaluate(closed.Add(live.DefaultCloseWaitAfter+time.Second), fcfg)
	fs = reg.Snapshot().Findings
	if len(fs) != 1 || fs[0].Code != live.CodeCloseWait || fs[0].Evidence.Count != 1 {
		for _, f := range fs {
			t.Logf("%s %s", f.Code, f.Text)
		}
		t.Fatalf("want CLOSE_WAIT alone, counting the stream")
	}
	var why string
	for _, r := range reg.Snapshot().Resolved {
		if r.ID == leak.ID {
			why = r.Why
		}
	}
	if want := "its streams are still open, in the session the server still holds though the client closed its side of the connection: CLOSE_WAIT says so"; why != want {
		t.Errorf("LEAK resolved %q, want %q", why, want)
	}
}

// Healthy twins, with no CLOSE_WAIT: every way a server lets go of a
// session its client left, and a client that half-closes and reads on.
func TestCloseWaitHealthy(t *testing.T) {
	// smux's default keepalive closes a session that receives nothing for
	// KeepAliveTimeout, a server that never calls Close included: within
	// one to two timeouts of the client's FIN (30 to 60 s at the default
	// 30 s), well inside the default CloseWaitAfter, 2 min. Shortened
	// 100-fold, keepalive and threshold alike: evaluated every 50 ms as
	// the time passes, none opens before the session ends.
	// A client that exits has its kernel answer the server's next NOP with
	// a reset, which ends the session sooner; one that only shuts its
	// sending side (its conn's CloseWrite, its smux keepalive off) reads
	// the NOPs, and the server's KeepAliveTimeout ends it.
	for _, tc := range []struct {
		v     int
		shut  bool
		ended live.CloseReason
	}{{1, false, live.Reset}, {2, false, live.Reset}, {1, true, live.LocalClose}, {2, true, live.LocalClose}} {
		name := fmt.Sprintf("default keepalive v%d, client exits", tc.v)
		if tc.shut {
			name = fmt.Sprintf("default keepalive v%d, client shuts its side", tc.v)
		}
		t.Run(name, func(t *testing.T) {
			v := tc.v
			reg := live.New(live.Config{})
			cfg := smuxtest.Config(v)
			cfg.KeepAliveInterval, cfg.KeepAliveTimeout = 100*time.Millisecond, 300*time.Millisecond
			fcfg := live.FindingsConfig{CloseWaitAfter: live.DefaultCloseWaitAfter / 100}
			addr, accepted, _, _ := closeWaitServe(t, reg, cfg, false) // never closes: keepalive must
			if tc.shut {
				_, c := closeWaitClient(t, addr, keepAliveOff(v), false, true)
				if err := c.(*net.TCPConn).CloseWrite(); err != nil {
					t.Fatal(err)
				}
			} else {
				closeWaitClient(t, addr, cfg, false, false)
			}
			<-accepted
			ss := halfClosedSession(t, reg)
			deadline := time.Now().Add(10 * time.Second)
			for {
				reg.Evaluate(time.Now(), fcfg)
				if n := openedCloseWaits(reg); n != 0 {
					t.Fatalf("%d CLOSE_WAIT opened for a server whose keepalive closes the session: %s", n, closeWaits(reg)[0].Text)
				}
				snap := reg.Snapshot()
				if s := snap.Sessions[len(snap.Sessions)-1]; s.ID == ss.ID && s.Ended {
					if d := s.End.Sub(s.DirEnded[live.ClientToServer]); d > 2*cfg.KeepAliveTimeout+100*time.Millisecond {
						t.Errorf("the session ended %v after the client's FIN, want within two KeepAliveTimeouts", d)
					}
					if s.Reason != tc.ended {
						t.Errorf("the session ended by %v (%s), want %v", s.Reason, s.Err, tc.ended)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the server's keepalive did not end the session in 10 s")
				}
				time.Sleep(50 * time.Millisecond)
			}
			reg.Evaluate(time.Now().Add(live.DefaultCloseWaitAfter), fcfg)
			if n := openedCloseWaits(reg); n != 0 {
				t.Fatalf("%d CLOSE_WAIT opened after the session ended", n)
			}
		})
	}
	// A server that closes its session as AcceptStream fails, keepalive
	// off: the session ends at once.
	for _, v := range []int{1, 2} {
		t.Run(fmt.Sprintf("closes on AcceptStream error v%d", v), func(t *testing.T) {
			reg := live.New(live.Config{})
			cfg := keepAliveOff(v)
			addr, accepted, _, _ := closeWaitServe(t, reg, cfg, true)
			closeWaitClient(t, addr, cfg, false, false)
			<-accepted
			smuxtest.Eventually(t, "the session to end", func() bool {
				s := reg.Snapshot().Sessions
				return len(s) == 1 && s[0].Ended
			})
			reg.Evaluate(time.Now().Add(live.DefaultCloseWaitAfter+time.Minute), live.FindingsConfig{})
			if n := openedCloseWaits(reg); n != 0 {
				t.Fatalf("%d CLOSE_WAIT opened for a server that closed its session", n)
			}
		})
	}
	t.Run("yamux", closeWaitYamux)
	// smux v1 only: a v2 reader sends UPDs as it reads, which a client
	// that shut its sending side cannot (its Read fails with the write's
	// EPIPE after the first bytes).
	t.Run("client half-closes and reads on v1", func(t *testing.T) { closeWaitHalfCloseReads(t, 1) })
}

// A real hashicorp/yamux server, keepalive off, whose accept loop returns
// without Close when its client leaves: yamux closes its session, and
// its conn, itself as its recvLoop reads EOF. No CLOSE_WAIT.
func closeWaitYamux(t *testing.T) {
	reg := live.New(live.Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ycfg := smuxtest.YamuxConfig()
	ycfg.EnableKeepAlive = false
	tl := WrapListener(ln, reg, "svc")
	accepted := make(chan error, 1)
	go func() {
		c, err := tl.Accept()
		if err != nil {
			accepted <- err
			return
		}
		srv, err := hyamux.Server(c, ycfg)
		if err != nil {
			accepted <- err
			return
		}
		for {
			st, err := srv.Accept()
			if err != nil {
				accepted <- err
				return // no srv.Close
			}
			go func() { io.Copy(st, st); st.Close() }()
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	cli, err := hyamux.Client(c, ycfg)
	if err != nil {
		t.Fatal(err)
	}
	st, err := cli.Open()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(st, make([]byte, 4)); err != nil {
		t.Fatal(err)
	}
	st.Close()
	cli.Close()
	<-accepted
	smuxtest.Eventually(t, "yamux to end the session", func() bool {
		s := reg.Snapshot().Sessions
		return len(s) == 1 && s[0].Ended
	})
	reg.Evaluate(time.Now().Add(live.DefaultCloseWaitAfter+time.Minute), live.FindingsConfig{})
	if n := openedCloseWaits(reg); n != 0 {
		t.Fatalf("%d CLOSE_WAIT opened for a yamux server, which closes its session on EOF", n)
	}
}

// A client that half-closes its connection (CloseWrite: it has nothing
// more to ask) and reads on what the server still sends, a frame every
// 20 ms for half a second, after which the server closes its session: a
// half-close protocol, evaluated with the threshold at 200 ms, ten of the
// server's frames, 100 ms after each frame. No CLOSE_WAIT, though the
// client closed its side long before the server did. Evaluated at now, it
// opened one when a loaded machine held the server between two frames
// for 500 ms, which is a server quiet for longer than the threshold.
func closeWaitHalfCloseReads(t *testing.T, version int) {
	reg := live.New(live.Config{})
	cfg := keepAliveOff(version)
	fcfg := live.FindingsConfig{CloseWaitAfter: 200 * time.Millisecond}
	const frames = 25
	sent := make(chan time.Time, frames) // when each frame's write began: the tap stamps it later
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	tl := WrapListener(ln, reg, "svc")
	served := make(chan error, 1)
	go func() {
		c, err := tl.Accept()
		if err != nil {
			served <- err
			return
		}
		sess, err := smux.Server(c, cfg)
		if err != nil {
			served <- err
			return
		}
		defer sess.Close() // once done: the protocol's end
		st, err := sess.AcceptStream()
		if err != nil {
			served <- err
			return
		}
		if _, err := io.ReadFull(st, make([]byte, 4)); err != nil { // the request
			served <- err
			return
		}
		for i := range frames {
			at := time.Now()
			if _, err := fmt.Fprintf(st, "%04d", i); err != nil {
				served <- err
				return
			}
			sent <- at
			time.Sleep(20 * time.Millisecond)
		}
		st.Close()
		served <- nil
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cli, err := smux.Client(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	st, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Write([]byte("feed")); err != nil {
		t.Fatal(err)
	}
	// The request is out: the client half-closes its connection.
	time.Sleep(20 * time.Millisecond)
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got := make(chan int, 1)
	go func() {
		b, _ := io.ReadAll(st)
		got <- len(b)
	}()
	halfClosedSession(t, reg)
	for range frames {
		select {
		case at := <-sent:
			reg.Evaluate(at.Add(100*time.Millisecond), fcfg)
			if n := openedCloseWaits(reg); n != 0 {
				t.Fatalf("%d CLOSE_WAIT opened while the server still sends: %s", n, closeWaits(reg)[0].Text)
			}
		case err := <-served:
			t.Fatalf("the server returned before its last frame: %v", err)
		}
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if n := <-got; n != 4*frames {
		t.Errorf("the client read %d bytes after its half-close, want %d", n, 4*frames)
	}
	smuxtest.Eventually(t, "the session to end", func() bool {
		s := reg.Snapshot().Sessions
		return len(s) == 1 && s[0].Ended
	})
	reg.Evaluate(time.Now().Add(live.DefaultCloseWaitAfter), fcfg)
	if n := openedCloseWaits(reg); n != 0 {
		t.Fatalf("%d CLOSE_WAIT opened after the server closed", n)
	}
}

// Through muxtop attach: an upstream smux server that never closes its
// session after its client left (halfOpenUpstream, keepalive NOPs off),
// whose client's FIN the proxy passes on as a half-close. CLOSE_WAIT
// opens past the threshold, the upstream holding, s2c; its Close at last
// resolves it as the session's end.
func TestCloseWaitThroughProxy(t *testing.T) {
	eof := make(chan error, 1)
	up, release := halfOpenUpstream(t, eof, false)
	reg := live.New(live.Config{})
	p := startProxy(t, ProxyConfig{Upstream: up.addr(), Registry: reg})
	clientLeaves(t, p)
	<-eof
	ss := halfClosedSession(t, reg)
	closed := ss.DirEnded[live.ClientToServer]
	at := closed.Add(live.DefaultCloseWaitAfter + time.Second)
	reg.Evaluate(at, live.FindingsConfig{})
	fs := closeWaits(reg)
	if len(fs) != 1 || fs[0].Session != ss.ID || fs[0].Dir != live.ServerToClient {
		t.Fatalf("CLOSE_WAIT findings %v, want one on session %d, s2c", fs, ss.ID)
	}
	if !strings.HasPrefix(fs[0].Text, "the client closed its side of the connection ") {
		t.Errorf("text %q", fs[0].Text)
	}
	release()
	endedSession(t, reg)
	reg.Evaluate(at.Add(time.Second), live.FindingsConfig{})
	if fs := closeWaits(reg); len(fs) != 0 {
		t.Fatalf("CLOSE_WAIT still open after the upstream closed: %s", fs[0].Text)
	}
}
