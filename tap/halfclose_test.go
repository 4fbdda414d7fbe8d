package tap

import (
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/xtaci/smux"
)

// halfOpenUpstream is an smux server that, like many, runs its session
// until AcceptStream fails and never calls Close: smux's Session does not
// close its conn when it reads EOF (recvLoop only records the error), so
// the server's side of the TCP connection stays open, in CLOSE-WAIT, until
// its keepalive writes or its own timeout closes it. The handler reports
// the EOF on eof and holds the conn until release is called or the test
// ends; then it closes the session, and its conn, as Close or the
// keepalive's timeout would. With nops, after the EOF it writes a NOP
// every few milliseconds until a write fails, as smux's keepalive does
// every KeepAliveInterval (the NOPs are written on the conn, so that none
// comes before the EOF and races the client's close).
func halfOpenUpstream(t *testing.T, eof chan<- error, nops bool) (*upstream, func()) {
	cfg := smuxConfig(1)
	hold := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(hold) }) }
	up := startUpstream(t, "", func(c net.Conn) {
		sess, err := smux.Server(c, cfg)
		if err != nil {
			eof <- err
			return
		}
		for {
			st, err := sess.AcceptStream()
			if err != nil {
				eof <- err
				break
			}
			go func() { io.Copy(st, st); st.Close() }()
		}
		for nops {
			if _, err := c.Write([]byte{1, 3, 0, 0, 0, 0, 0, 0}); err != nil { // v1 NOP, sid 0
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		<-hold // no sess.Close until then: the application does not close it
		sess.Close()
	})
	t.Cleanup(release)
	return up, release
}

// clientLeaves runs an smux client through the proxy: one echoed stream,
// then the client closes its session, which closes its conn, as a client
// program that exits does.
func clientLeaves(t *testing.T, p *Proxy) string {
	t.Helper()
	c := dialProxy(t, p)
	cli, err := smux.Client(c, smuxConfig(1))
	if err != nil {
		t.Fatal(err)
	}
	st := pingStream(t, cli)
	// The client closes its half of the stream and reads to the server's
	// FIN, so that it closes its conn with nothing unread: its kernel
	// sends FIN, not a reset.
	if err := st.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(st); err != nil {
		t.Fatal(err)
	}
	cli.Close()
	return c.LocalAddr().String()
}

// A client that leaves while the upstream keeps its side open: the proxy
// passes the client's FIN on as a half-close, which the upstream reads as
// EOF, and keeps the session live for as long as the upstream's side is
// open, as the connection is. The session shows which side has closed,
// and a shutdown that ends it says the client had left.
func TestProxyClientLeftUpstreamOpen(t *testing.T) {
	eof := make(chan error, 1)
	up, _ := halfOpenUpstream(t, eof, false)
	reg := live.New(live.Config{})
	p := startProxy(t, ProxyConfig{Upstream: up.addr(), Registry: reg})
	from := clientLeaves(t, p)

	// The upstream reads EOF: the proxy passed the client's close on.
	if err := <-eof; err == nil {
		t.Fatal("AcceptStream returned no error")
	}
	snap := reg.Snapshot()
	if len(snap.Sessions) != 1 {
		t.Fatalf("%d sessions, want 1", len(snap.Sessions))
	}
	// The upstream's side is open: the session is too.
	ss := snap.Sessions[0]
	if ss.Ended {
		t.Fatalf("session ended (%v: %s) while the upstream's side of its connection is open", ss.Reason, ss.Err)
	}
	// It says which side has closed: the client's direction has ended
	// (the TUI's state says "client closed"), the upstream's has not.
	if ss.DirEnded[live.ClientToServer].IsZero() || !ss.DirEnded[live.ServerToClient].IsZero() {
		t.Errorf("DirEnded = %v, want the client's direction ended, not the upstream's", ss.DirEnded)
	}

	p.Close()
	ss = reg.Snapshot().Sessions[0]
	if !ss.Ended || ss.Reason != live.Shutdown {
		t.Fatalf("ended %v reason %v, want shutdown", ss.Ended, ss.Reason)
	}
	want := "the client " + from + " had closed its side of the connection "
	if !strings.HasPrefix(ss.Err, want) || !strings.HasSuffix(ss.Err, "before; the upstream "+up.addr()+" had not closed its") {
		t.Errorf("shutdown's detail = %q, want %q... before; the upstream %s had not closed its", ss.Err, want, up.addr())
	}
}

// A client that left, and an upstream that writes to it later (smux's
// keepalive NOPs): the proxy's write fails, since the client's end is gone, and
// the proxy resets the upstream. The session ends as a reset by the
// client, and says the client had closed its side before.
func TestProxyUpstreamWritesToClientThatLeft(t *testing.T) {
	eof := make(chan error, 1)
	up, _ := halfOpenUpstream(t, eof, true)
	reg := live.New(live.Config{})
	p := startProxy(t, ProxyConfig{Upstream: up.addr(), Registry: reg})
	from := clientLeaves(t, p)
	<-eof

	ss := endedSession(t, reg) // after the upstream wrote to the client that left
	if ss.Reason != live.Reset {
		t.Fatalf("reason %v (%s), want reset", ss.Reason, ss.Err)
	}
	want := "reset by the client " + from + ", which had closed its side of the connection "
	if !strings.HasPrefix(ss.Err, want) || !strings.HasSuffix(ss.Err, " before") {
		t.Errorf("detail = %q, want %q... before", ss.Err, want)
	}
}

// The half-open pair costs its two goroutines and two conns only while
// the upstream keeps its side open: once the upstream closes it (smux's
// keepalive timeout, or the application's Close), the proxy closes both
// conns and ends the session as an EOF the client began, and nothing of
// it is left. This pins that the proxy waits for the connection, not
// forever.
func TestProxyHalfOpenEndsWhenUpstreamCloses(t *testing.T) {
	base := runtime.NumGoroutine()
	func() {
		eof := make(chan error, 1)
		up, release := halfOpenUpstream(t, eof, false)
		defer up.close()
		defer release() // before up.close, which waits for the handler
		reg := live.New(live.Config{})
		p := NewProxy(ProxyConfig{Listen: "127.0.0.1:0", Upstream: up.addr(), Registry: reg})
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		from := clientLeaves(t, p)
		<-eof
		release()

		ss := endedSession(t, reg) // after the upstream closed its side
		if ss.Reason != live.EOF || ss.Err != "the client "+from+" closed first" {
			t.Errorf("ended with %v %q, want EOF, the client closed first", ss.Reason, ss.Err)
		}
		p.mu.Lock()
		pairs := len(p.pairs)
		p.mu.Unlock()
		if pairs != 0 {
			t.Errorf("%d pairs still served after both sides closed", pairs)
		}
	}()
	smuxtest.NoGoroutinesAbove(t, base)
}
