// Package smuxtest gives muxtop's tests what tests of smux and yamux
// traffic need: an smux client and server over loopback TCP, echo
// services for smux and hashicorp/yamux, a count and a record of a conn's
// bytes, a wait for a condition, a check that no goroutine is left
// behind, a read to EOF that smux does not cut short, and, for the tests
// that run the same traffic over smux and yamux, one Session and one
// Exchange for both.
package smuxtest

import (
	"bytes"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	hyamux "github.com/hashicorp/yamux"
	"github.com/xtaci/smux"
)

// ReadAll reads r to io.EOF, as io.ReadAll does, through r's WriteTo
// where it has one: read an smux stream after its CloseWrite with it, not
// with Read. smux's (v1.5.58) Read looks at the stream's buffer, finds it
// empty, then looks whether the stream is done, without a lock between:
// once the stream half-closed both ways it is done, so the peer's last
// frame and its FIN arriving between the two looks are lost, and Read
// returns io.EOF with that frame unread (the healthy matrix's half-close
// read "19968 bytes, <nil>" of 20 000, 1 run in 400 at load 12; a pause of
// 200 µs there lost the tail of 135 streams of 300). WriteTo waits in
// waitRead, which looks at both under the buffer's lock: with the same
// pause it lost nothing of 300.
func ReadAll(r io.Reader) ([]byte, error) {
	var b bytes.Buffer
	_, err := io.Copy(&b, r)
	return b.Bytes(), err
}

// Conns returns the two ends of a loopback TCP connection: the one that
// dialled and the one that accepted. Both close when the test ends.
func Conns(t testing.TB) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ConnsOn(t, ln)
}

// ConnsOn returns the two ends of a new connection to ln (TCP or unix): the one
// that dialled and the one ln accepted. Both close when the test ends.
func ConnsOn(t testing.TB, ln net.Listener) (client, server net.Conn) {
	t.Helper()
	accepted := make(chan net.Conn, 1)
	go func() { // ends with the Accept: one connection, or the listener's close
		c, _ := ln.Accept()
		accepted <- c
	}()
	cc, err := net.Dial(ln.Addr().Network(), ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc := <-accepted
	if sc == nil {
		cc.Close()
		t.Fatal("smuxtest: accept failed")
	}
	t.Cleanup(func() { cc.Close(); sc.Close() })
	return cc, sc
}

// Pair returns an smux client and server session over a loopback TCP
// connection. wrapClient and wrapServer, if not nil, wrap each end's conn
// before smux gets it: that is where a test taps. Both sessions close when
// the test ends.
func Pair(t testing.TB, cfg *smux.Config, wrapClient, wrapServer func(net.Conn) net.Conn) (cli, srv *smux.Session) {
	t.Helper()
	cc, sc := Conns(t)
	if wrapClient != nil {
		cc = wrapClient(cc)
	}
	if wrapServer != nil {
		sc = wrapServer(sc)
	}
	var err error
	if cli, err = smux.Client(cc, cfg); err != nil {
		t.Fatal(err)
	}
	if srv, err = smux.Server(sc, cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close(); srv.Close() })
	return cli, srv
}

// ClientLeaves runs an smux v1 session, keepalive off, whose server's
// conn wrap taps (a tap.Wrap on the server's side): the client sends a
// request on a stream the server accepts and reads, closes that stream
// both ways unless leaveOpen, and exits. It returns the server's session
// once its AcceptStream has failed on the client's EOF, still open: a
// server that holds a session its client left, its socket in CLOSE-WAIT.
// v1, so that no window update is left unread at the client, whose exit
// would then be a reset rather than a FIN.
func ClientLeaves(t testing.TB, wrap func(net.Conn) net.Conn, leaveOpen bool) *smux.Session {
	t.Helper()
	cc, sc := Conns(t)
	cfg := Config(1)
	cfg.KeepAliveDisabled = true
	srv, err := smux.Server(wrap(sc), cfg)
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
	if _, err := st.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	sst, err := srv.AcceptStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(sst, make([]byte, 4)); err != nil {
		t.Fatal(err)
	}
	if !leaveOpen {
		sst.Close() // the server's FIN, then the client's
		st.CloseWrite()
		io.ReadAll(st) // the server's FIN read: the client's exit is a FIN, not a reset
	}
	cli.Close()
	if _, err := srv.AcceptStream(); err == nil {
		t.Fatal("AcceptStream after the client left returned no error")
	}
	return srv
}

// Config returns smux's default config for protocol version.
func Config(version int) *smux.Config {
	cfg := smux.DefaultConfig()
	cfg.Version = version
	return cfg
}

// Eventually polls cond until it holds, failing t after a minute: what
// it waits for takes milliseconds on a quiet machine, and seconds more
// on a loaded one under -race (ci86: a demo's 1000 streams, 0.5 s at
// its rate, not there 10 s in); only a failing test waits it out.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	EventuallyWithin(t, what, time.Minute, cond)
}

// EventuallyWithin polls cond until it holds, failing t after d: for
// what a loaded machine (-race, a shared CI runner) may take long to
// reach.
func EventuallyWithin(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// NoGoroutinesAbove fails t unless the number of goroutines comes back to
// at most base within 5 s, printing every stack.
func NoGoroutinesAbove(t testing.TB, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= base {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("%d goroutines left, want at most %d as before:\n%s", n, base, buf)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// NoGoroutinesLeft records the number of goroutines now and checks, when
// the test ends, that it comes back down. Call it first, so that its
// cleanup runs after all the others.
func NoGoroutinesLeft(t testing.TB) {
	t.Helper()
	base := runtime.NumGoroutine()
	t.Cleanup(func() { NoGoroutinesAbove(t, base) })
}

// ServeEcho serves smux sessions of cfg on ln until ln is closed, and
// returns Accept's error then: every stream is echoed until its peer
// closes it, then closed.
func ServeEcho(ln net.Listener, cfg *smux.Config) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			s, err := smux.Server(c, cfg)
			if err != nil {
				c.Close()
				return
			}
			defer s.Close()
			for {
				st, err := s.AcceptStream()
				if err != nil {
					return
				}
				go func() {
					defer st.Close()
					io.Copy(st, st)
				}()
			}
		}()
	}
}

// CountingConn counts the bytes a conn wrote (Out) and read (In): what
// crossed the wire, counted apart from any tap or capture.
type CountingConn struct {
	net.Conn
	Out, In atomic.Uint64
}

// Write writes p and counts what went out.
func (c *CountingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.Out.Add(uint64(n))
	return n, err
}

// Read reads into p and counts what came in.
func (c *CountingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.In.Add(uint64(n))
	return n, err
}

// RecordingConn keeps every byte a conn wrote: what went out on the wire,
// recorded apart from any tap or capture.
type RecordingConn struct {
	net.Conn
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write writes p and keeps what went out.
func (c *RecordingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.mu.Lock()
	c.buf.Write(p[:n])
	c.mu.Unlock()
	return n, err
}

// NetConn returns the conn it records, as a *tls.Conn gives the conn
// under it: a tap sees through it to what the conn runs over.
func (c *RecordingConn) NetConn() net.Conn { return c.Conn }

// Bytes returns a copy of what the conn has written so far.
func (c *RecordingConn) Bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.buf.Bytes())
}

// Log is a yamux session's log output (Config.LogOutput), read while
// the session writes to it: what yamux itself did with a frame.
type Log struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p to the log.
func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns what was logged so far.
func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// YamuxConfig returns hashicorp/yamux's default config without keepalive
// pings (which come at times of their own) and without its log.
func YamuxConfig() *hyamux.Config {
	cfg := hyamux.DefaultConfig()
	cfg.EnableKeepAlive = false
	cfg.LogOutput = io.Discard
	return cfg
}

// YamuxPair returns a hashicorp/yamux client session on client, of ccfg,
// and a server session on server, of scfg: Pair's yamux twin for conns the
// test has made and wrapped itself. Both sessions close when the test ends.
func YamuxPair(t testing.TB, client, server net.Conn, ccfg, scfg *hyamux.Config) (cli, srv *hyamux.Session) {
	t.Helper()
	var err error
	if cli, err = hyamux.Client(client, ccfg); err != nil {
		t.Fatal(err)
	}
	if srv, err = hyamux.Server(server, scfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close(); srv.Close() })
	return cli, srv
}

// ServeYamux serves hashicorp/yamux sessions of cfg on ln until ln is
// closed, calling handle in a goroutine of its own for each stream a
// session accepts and closing the stream when handle returns. The wait it
// returns waits, once ln is closed, for the accept loop and every session
// it began (each ends when its peer closes it).
func ServeYamux(ln net.Listener, cfg *hyamux.Config, handle func(st net.Conn)) (wait func()) {
	var served sync.WaitGroup
	served.Add(1)
	go func() { // ends when ln is closed, after its sessions
		defer served.Done()
		var sessions sync.WaitGroup
		defer sessions.Wait()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			sessions.Add(1)
			go func() {
				defer sessions.Done()
				s, err := hyamux.Server(c, cfg)
				if err != nil {
					c.Close()
					return
				}
				defer s.Close()
				for {
					st, err := s.AcceptStream()
					if err != nil {
						return
					}
					go func() {
						defer st.Close()
						handle(st)
					}()
				}
			}()
		}
	}()
	return served.Wait
}

// EchoYamux echoes every stream srv accepts, one after another, each until
// its peer closes it, then closes it. The channel it returns closes when
// srv's session has ended.
func EchoYamux(srv *hyamux.Session) <-chan struct{} { return echo(yamuxSession{srv}) }

// EchoSmux is EchoYamux for an smux session.
func EchoSmux(srv *smux.Session) <-chan struct{} { return echo(smuxSession{srv}) }

// echo is EchoYamux for any Session.
func echo(srv Session) <-chan struct{} {
	done := make(chan struct{})
	go func() { // ends when the session does
		defer close(done)
		for {
			st, err := srv.AcceptStream()
			if err != nil {
				return
			}
			io.Copy(st, st)
			st.Close()
		}
	}()
	return done
}

// Session is one end of a real smux or hashicorp/yamux session, for the
// tests that run the same traffic over both: its streams are net.Conns.
type Session interface {
	OpenStream() (net.Conn, error)
	AcceptStream() (net.Conn, error)
	Close() error
}

// Mux is the library of a Session: smux with the config Smux, or, where
// Smux is nil, hashicorp/yamux with YamuxConfig.
type Mux struct{ Smux *smux.Config }

// MuxOf is hashicorp/yamux if yam, else smux v2 at its defaults.
func MuxOf(yam bool) Mux {
	if yam {
		return Mux{}
	}
	return Mux{Smux: Config(2)}
}

// EchoRoundTrip runs m over client and server, the two ends of one
// connection: the server echoes each stream, and the client opens one,
// writes "hello", reads it back, and closes the stream and its session.
// It returns once the server's session has ended.
func (m Mux) EchoRoundTrip(t testing.TB, client, server net.Conn) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv, err := m.Server(server)
		if err != nil {
			return
		}
		defer srv.Close()
		<-echo(srv) // until the client closes the session
	}()
	cli, err := m.Client(client)
	if err != nil {
		t.Fatal(err)
	}
	st, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 5)
	if _, err := io.ReadFull(st, got); err != nil {
		t.Fatal(err)
	}
	if string(got) != "hello" {
		t.Fatalf("echoed %q, want %q", got, "hello")
	}
	st.Close()
	cli.Close()
	<-done
}

// Yamux reports whether m is hashicorp/yamux.
func (m Mux) Yamux() bool { return m.Smux == nil }

// Client starts m's client session over c.
func (m Mux) Client(c net.Conn) (Session, error) {
	if m.Yamux() {
		s, err := hyamux.Client(c, YamuxConfig())
		if err != nil {
			return nil, err
		}
		return yamuxSession{s}, nil
	}
	s, err := smux.Client(c, m.Smux)
	if err != nil {
		return nil, err
	}
	return smuxSession{s}, nil
}

// Server starts m's server session over c.
func (m Mux) Server(c net.Conn) (Session, error) {
	if m.Yamux() {
		s, err := hyamux.Server(c, YamuxConfig())
		if err != nil {
			return nil, err
		}
		return yamuxSession{s}, nil
	}
	s, err := smux.Server(c, m.Smux)
	if err != nil {
		return nil, err
	}
	return smuxSession{s}, nil
}

// ClientStream starts m's client session over c and opens a stream on
// it. Where it fails the session, if it started, is closed.
func (m Mux) ClientStream(c net.Conn) (Session, net.Conn, error) {
	s, err := m.Client(c)
	if err != nil {
		return nil, nil, err
	}
	return withStream(s, s.OpenStream)
}

// ServerStream starts m's server session over c and accepts a stream on
// it. Where it fails the session, if it started, is closed.
func (m Mux) ServerStream(c net.Conn) (Session, net.Conn, error) {
	s, err := m.Server(c)
	if err != nil {
		return nil, nil, err
	}
	return withStream(s, s.AcceptStream)
}

// withStream returns s and the stream get gives, or closes s if it gives
// none.
func withStream(s Session, get func() (net.Conn, error)) (Session, net.Conn, error) {
	st, err := get()
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return s, st, nil
}

// Exchange is the traffic of a real session: the client sends Request
// on one stream, the server reads it and answers with Answer, and both
// close the stream; then one side exits, closing its session and so its
// connection (a FIN), while the other keeps its own until it reads the
// EOF: smux does not close on EOF, its owner does (here at once); yamux
// closes at once by itself.
type Exchange struct {
	Request, Answer []byte
	ServerFirst     bool // the server exits first, else the client
	// Crossed, if not nil, is called by the client once it has closed
	// the stream: it waits until the stream's FINs have crossed, so that
	// each side has read everything before either closes.
	Crossed func()
}

// Peers returns the client and the server of e over mux.
func (e Exchange) Peers(t testing.TB, mux Mux) (client, server func(net.Conn)) {
	done := make(chan struct{}) // the stream's FINs have crossed
	client = func(c net.Conn) {
		s, st, err := mux.ClientStream(c)
		if err != nil {
			t.Error(err)
			close(done) // the server fails its reads, not waits for ever
			return
		}
		defer s.Close()
		if _, err := st.Write(e.Request); err != nil {
			t.Error(err)
		}
		if got, err := io.ReadAll(st); err != nil || !bytes.Equal(got, e.Answer) {
			t.Errorf("the client read %d bytes (%.20q), %v; want the answer's %d (%.20q)", len(got), got, err, len(e.Answer), e.Answer)
		}
		st.Close()
		if e.Crossed != nil {
			e.Crossed()
		}
		close(done)
		if e.ServerFirst {
			s.AcceptStream() // until the server's EOF: then yamux, or this owner of smux's, closes
		}
	}
	server = func(c net.Conn) {
		s, st, err := mux.ServerStream(c)
		if err != nil {
			t.Error(err)
			return
		}
		defer s.Close()
		if _, err := io.ReadFull(st, make([]byte, len(e.Request))); err != nil {
			t.Error(err)
		}
		if _, err := st.Write(e.Answer); err != nil {
			t.Error(err)
		}
		if e.ServerFirst && !mux.Yamux() {
			// It exits once it has read the client's last frames, its
			// FIN: a socket closed with bytes unread sends a RST, not a
			// FIN (a tap then rightly says reset).
			st.(*smux.Stream).CloseWrite()
			ReadAll(st)
		}
		st.Close()
		<-done
		if !e.ServerFirst {
			s.AcceptStream() // until the client's EOF: then yamux, or this owner of smux's, closes
		}
	}
	return client, server
}

// StreamID returns the id of st, a stream of a Session.
func StreamID(st net.Conn) uint32 {
	if s, ok := st.(*smux.Stream); ok {
		return s.ID()
	}
	return st.(*hyamux.Stream).StreamID()
}

// SmuxSession returns s as a Session.
func SmuxSession(s *smux.Session) Session { return smuxSession{s} }

// YamuxSession returns s as a Session.
func YamuxSession(s *hyamux.Session) Session { return yamuxSession{s} }

// smuxSession and yamuxSession give a Session's streams as net.Conns, nil
// where there is none.
type smuxSession struct{ *smux.Session }

func (s smuxSession) OpenStream() (net.Conn, error)   { return conn(s.Session.OpenStream()) }
func (s smuxSession) AcceptStream() (net.Conn, error) { return conn(s.Session.AcceptStream()) }

type yamuxSession struct{ *hyamux.Session }

func (s yamuxSession) OpenStream() (net.Conn, error)   { return conn(s.Session.OpenStream()) }
func (s yamuxSession) AcceptStream() (net.Conn, error) { return conn(s.Session.AcceptStream()) }

// conn returns st as a net.Conn, nil if err is not.
func conn[S net.Conn](st S, err error) (net.Conn, error) {
	if err != nil {
		return nil, err
	}
	return st, nil
}

// Stacks returns the stack of every goroutine, one each, as a goroutine
// dump gives them.
func Stacks() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Split(string(buf[:n]), "\n\n")
		}
		buf = make([]byte, 2*len(buf))
	}
}
