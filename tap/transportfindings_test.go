package tap_test

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// The faults that open a finding over TCP open it over the other conns a
// program taps: a stream the server never closes (LEAK), a peer that
// stops reading (SESSION_BLOCKED, sign write), a tapped end that stops
// reading (SESSION_BLOCKED, sign read), a server that holds a session its
// client left (CLOSE_WAIT, in words that name no TCP state where there is
// none).

// TestTransportLeak: smuxtest's leaky service, tapped at its server over
// each transport, smux v2 and yamux: the stream it never closes is a LEAK.
func TestTransportLeak(t *testing.T) {
	for _, tr := range smuxtest.Transports() {
		for _, yam := range []bool{false, true} {
			mux := smuxtest.MuxOf(yam)
			name := tr.Name + "/smux v2"
			if yam {
				name = tr.Name + "/yamux"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				_, bad, rec := smuxtest.LeakyLeakOn(t, tr.Conns, mux, func(c net.Conn, reg *live.Registry) net.Conn {
					return tap.Wrap(c, live.Server, reg, tr.Name)
				}, smuxtest.BadRequest)
				if rec.Finding.Stream != bad {
					t.Errorf("LEAK of stream %d, want %d: %s", rec.Finding.Stream, bad, rec.Finding.Text)
				}
			})
		}
	}
}

// readGate passes Reads through until stop is closed; then a Read waits
// until release is closed: a reader that stops reading.
type readGate struct {
	net.Conn
	stop, release chan struct{}
}

func (g *readGate) Read(p []byte) (int, error) {
	select {
	case <-g.stop:
		<-g.release
	default:
	}
	return g.Conn.Read(p)
}

func newGate(c net.Conn) *readGate {
	return &readGate{Conn: c, stop: make(chan struct{}), release: make(chan struct{})}
}

// blockedFinding evaluates reg every 50 ms until a SESSION_BLOCKED of
// direction dir opens and returns it, failing t after 10 s.
func blockedFinding(t *testing.T, reg *live.Registry, dir live.Dir) *live.Finding {
	t.Helper()
	cfg := live.FindingsConfig{BlockedAfter: 500 * time.Millisecond, Churn: -1}
	var found *live.Finding
	smuxtest.Eventually(t, "SESSION_BLOCKED "+dir.Code(), func() bool {
		time.Sleep(50 * time.Millisecond)
		reg.Evaluate(time.Now(), cfg)
		for _, f := range reg.Snapshot().Findings {
			if f.Code == live.CodeSessionBlocked && f.HasDir && f.Dir == dir {
				found = f
				return true
			}
		}
		return false
	})
	return found
}

// TestTransportBlockedWrite: the untapped server stops reading its conn
// while the tapped client writes 64 MiB on a stream (smux v1: no stream
// window stops the writer first): once the conn's buffers are full the
// tapped write does not return, SESSION_BLOCKED c2s, sign write, worded
// by what holds a write on that conn: TCP's socket buffer under TLS, a
// unix socket's buffer (and no network path), a pipe's reader itself (it
// has no buffer). Not over the KCP-like conn, whose writes never wait for
// the peer.
func TestTransportBlockedWrite(t *testing.T) {
	for _, name := range []string{"tls", "tls+unix", "unix", "pipe", "message"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cc, sc := transport(t, name).Conns(t)
			gate := newGate(sc)
			reg := live.New(live.Config{})
			cfg := smuxtest.Config(1)
			cli, err := smux.Client(tap.Wrap(cc, live.Client, reg, name), cfg)
			if err != nil {
				t.Fatal(err)
			}
			srv, err := smux.Server(gate, cfg)
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			t.Cleanup(func() { close(gate.release); cli.Close(); srv.Close(); wg.Wait() })
			st, err := cli.OpenStream()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.Write([]byte("hello")); err != nil {
				t.Fatal(err)
			}
			if _, err := srv.AcceptStream(); err != nil {
				t.Fatal(err)
			}
			close(gate.stop)
			wg.Go(func() { st.Write(make([]byte, 64<<20)) })
			f := blockedFinding(t, reg, live.ClientToServer)
			if f.Evidence.Sign != live.SignWrite {
				t.Errorf("sign %s, want write: %s", f.Evidence.Sign.Code(), f.Text)
			}
			// What holds the write, in the conn's words: a pipe has no
			// buffer, and a unix socket no path.
			w := map[string]struct{ want, not string }{
				"tls":  {"the kernel wakes a writer held by a full socket buffer", ""},
				"unix": {"or reads the bytes far slower than the client writes them (the kernel wakes a writer held by a full unix socket buffer", "path"},
				// TLS over a unix socket: the unix socket's buffer holds it.
				"tls+unix": {"or reads the bytes far slower than the client writes them (the kernel wakes a writer held by a full unix socket buffer", "path"},
				// A conn over UDP may be KCP, or DTLS, or another: KCP only as an example.
				"message": {"(over UDP, what holds a write is the protocol the conn runs over it: a KCP session's, for one, waits while its send window is full", "(a KCP session's write"},
				"pipe":    {"or reads the bytes far slower than the client writes them (a net.Pipe holds nothing: each write waits until the reader has read all of it)", "socket"},
			}[name]
			if !strings.Contains(f.Text, w.want) || (w.not != "" && strings.Contains(f.Text, w.not)) {
				t.Errorf("over %s: text %q, want %q and no %q", name, f.Text, w.want, w.not)
			}
		})
	}
}

// TestTransportBlockedRead: the tapped server's smux stops reading (its
// reader held above the tap) while a stream is open: SESSION_BLOCKED
// c2s, sign read, over each transport.
func TestTransportBlockedRead(t *testing.T) {
	for _, tr := range smuxtest.Transports() {
		t.Run(tr.Name, func(t *testing.T) {
			t.Parallel()
			cc, sc := tr.Conns(t)
			reg := live.New(live.Config{})
			gate := newGate(tap.Wrap(sc, live.Server, reg, tr.Name))
			cfg := smuxtest.Config(2)
			cli, err := smux.Client(cc, cfg)
			if err != nil {
				t.Fatal(err)
			}
			srv, err := smux.Server(gate, cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { close(gate.release); cli.Close(); srv.Close() })
			st, err := cli.OpenStream()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.Write([]byte("hello")); err != nil {
				t.Fatal(err)
			}
			if _, err := srv.AcceptStream(); err != nil {
				t.Fatal(err)
			}
			close(gate.stop)
			go st.Write([]byte("more")) // wakes the reader, which stops at its next Read (a pipe's Write waits for it)
			f := blockedFinding(t, reg, live.ClientToServer)
			if f.Evidence.Sign != live.SignRead {
				t.Errorf("sign %s, want read: %s", f.Evidence.Sign.Code(), f.Text)
			}
		})
	}
}

// TestTransportCloseWait: an smux server, tapped, keepalive off, whose
// client closes its session and conn, and which never closes its own:
// CLOSE_WAIT over TCP, TLS, a unix socket and a pipe. Only a TCP socket
// sits in TCP CLOSE-WAIT: the finding says so over TCP, over TLS where the
// client closed its TCP too (a TLS CloseWrite is a close_notify alone),
// and over the others not at all; its advice names `ss -tan state
// close-wait` over TCP and TLS alone. A pipe has no half-close: its client
// closed the connection whole, and the server has not closed its end.
func TestTransportCloseWait(t *testing.T) {
	tcp := smuxtest.Transport{Name: "tcp", Conns: smuxtest.Conns}
	for _, tr := range append([]smuxtest.Transport{tcp, tlsUnix}, smuxtest.Transports()[:3]...) {
		t.Run(tr.Name, func(t *testing.T) {
			t.Parallel()
			cc, sc := tr.Conns(t)
			reg := live.New(live.Config{})
			cfg := smuxtest.Config(2)
			cfg.KeepAliveDisabled = true
			srv, err := smux.Server(tap.Wrap(sc, live.Server, reg, tr.Name), cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Close() })
			cli, err := smux.Client(cc, cfg)
			if err != nil {
				t.Fatal(err)
			}
			st, err := cli.OpenStream()
			if err != nil {
				t.Fatal(err)
			}
			st.Write([]byte("hello"))
			in, err := srv.AcceptStream()
			if err != nil {
				t.Fatal(err)
			}
			in.Read(make([]byte, 5))
			in.Close()
			// The client reads the server's FIN before it leaves: a socket
			// closed with bytes unread in it is reset (TCP sends RST, a unix
			// socket's peer reads ECONNRESET), and the server's session then
			// ends reset, no CLOSE_WAIT. The tap records the FIN as the
			// server writes it; the client's smux may read it much later.
			st.SetReadDeadline(time.Now().Add(10 * time.Second))
			if n, err := st.Read(make([]byte, 1)); err != io.EOF {
				t.Fatalf("the client's stream read %d, %v, want the server's FIN (io.EOF)", n, err)
			}
			st.Close()
			smuxtest.Eventually(t, "the stream closed", func() bool { return theSession(t, reg).Open == 0 })
			cli.Close()
			if _, err := srv.AcceptStream(); err == nil {
				t.Fatal("AcceptStream after the client left returned no error")
			}
			var found *live.Finding
			smuxtest.Eventually(t, "CLOSE_WAIT", func() bool {
				time.Sleep(50 * time.Millisecond)
				reg.Evaluate(time.Now(), live.FindingsConfig{CloseWaitAfter: 300 * time.Millisecond, Churn: -1})
				if s := theSession(t, reg); s.Ended {
					t.Fatalf("the session ended, no CLOSE_WAIT: %v %q", s.Reason, s.Err)
				}
				for _, f := range reg.Snapshot().Findings {
					if f.Code == live.CodeCloseWait {
						found = f
						return true
					}
				}
				return false
			})
			if s := theSession(t, reg); s.Ended {
				t.Fatalf("the session ended: %v %q", s.Reason, s.Err)
			}
			if got, want := theSession(t, reg).Info.Transport, strings.TrimPrefix(tr.Name, "tcp"); got != want {
				t.Errorf("transport %q, want %q", got, want)
			}
			state := map[string]string{
				"tcp": ", its socket in TCP CLOSE-WAIT",
				"tls": ", its TCP socket in CLOSE-WAIT unless the client sent its TLS close_notify alone",
			}[tr.Name]
			want, own := "the client closed its side of the connection ", "the server has not closed its own "
			if tr.Name == "pipe" { // no half-close: the client closed it whole
				want, own = "the client closed the connection (a net.Pipe has no half-close) ", "the server has not closed its end "
			}
			if !strings.HasPrefix(found.Text, want) || !strings.Contains(found.Text, own) || !strings.Contains(found.Text, "still holds session 1"+state+" (smux does not") {
				t.Errorf("over %s: text %q, want %q… %q… still holds session 1%s (smux does not…", tr.Name, found.Text, want, own, state)
			}
			ss := strings.Contains(found.Advice, "ss -tan state close-wait")
			if want := tr.Name == "tcp" || tr.Name == "tls"; ss != want {
				t.Errorf("over %s: advice names ss %v, want %v: %s", tr.Name, ss, want, found.Advice)
			}
			// A TLS peer that sent its close_notify alone left its TCP
			// open: ss lists its socket ESTABLISHED, not in close-wait.
			if hedged := strings.Contains(found.Advice, "still ESTABLISHED there"); hedged != (tr.Name == "tls") {
				t.Errorf("over %s: advice hedges ss for a close_notify alone %v: %s", tr.Name, hedged, found.Advice)
			}
		})
	}
}
