package tap_test

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/xtaci/smux"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// How a tapped session over a conn other than TCP ends, and what muxtop
// says of it: the peer's half-close and this end's, a peer's close and
// reset, this end's close, a conn with no half-close and one (KCP's) whose
// peer's close never arrives.

// transport returns the transport named name.
func transport(t *testing.T, name string) smuxtest.Transport {
	for _, tr := range append(smuxtest.Transports(), tlsUnix) {
		if tr.Name == name {
			return tr
		}
	}
	t.Fatalf("no transport %q", name)
	return smuxtest.Transport{}
}

// tlsUnix is TLS over a unix socket, as a server serves
// tls.NewListener(a unix listener): no TCP anywhere.
var tlsUnix = smuxtest.Transport{Name: "tls+unix", Conns: smuxtest.TLSUnixConns}

// tappedClient runs a real smux session of cfg over tr's conns, its
// client's conn tapped into a registry of its own; the server echoes every
// stream. It returns the tapped conn, the client's session, the server's
// raw conn and the registry; both sessions close as the test ends.
func tappedClient(t *testing.T, tr smuxtest.Transport, cfg *smux.Config) (*tap.Conn, *smux.Session, net.Conn, *live.Registry) {
	t.Helper()
	cc, sc := tr.Conns(t)
	reg := live.New(live.Config{})
	tc := tap.Wrap(cc, live.Client, reg, tr.Name)
	cli, err := smux.Client(tc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := smux.Server(sc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	smuxtest.EchoSmux(srv)
	t.Cleanup(func() { cli.Close(); srv.Close() })
	echoOnce(t, cli)
	// The stream closed both ways: the server has read all the client
	// sent (a unix socket closed with bytes unread resets its peer).
	smuxtest.Eventually(t, "the echoed stream closed", func() bool { return theSession(t, reg).Open == 0 })
	return tc, cli, sc, reg
}

// echoOnce sends a line on a new stream of cli and reads it back.
func echoOnce(t *testing.T, cli *smux.Session) {
	t.Helper()
	st, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := st.Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(st, make([]byte, 5)); err != nil {
		t.Fatal(err)
	}
}

// theSession returns reg's one session.
func theSession(t *testing.T, reg *live.Registry) live.SessionSnap {
	t.Helper()
	snap := reg.Snapshot()
	if len(snap.Sessions) != 1 {
		t.Fatalf("%d sessions, want 1", len(snap.Sessions))
	}
	return *snap.Sessions[0]
}

// ended waits for reg's one session to end and returns it.
func ended(t *testing.T, reg *live.Registry) live.SessionSnap {
	t.Helper()
	smuxtest.Eventually(t, "the session's end", func() bool { return theSession(t, reg).Ended })
	return theSession(t, reg)
}

// halfCloseDetails returns the details of reg's half-close records.
func halfCloseDetails(reg *live.Registry) []string {
	recs, _ := reg.Frames(live.Query{}, nil)
	var ds []string
	for _, r := range recs {
		if r.Kind == live.SessionHalfClosed {
			ds = append(ds, r.Detail)
		}
	}
	return ds
}

// framing returns reg's session's framing violations.
func framing(t *testing.T, reg *live.Registry) []live.FramingInfo {
	return theSession(t, reg).Framing
}

// TestTransportHalfCloses: over TLS and a unix socket (both have
// CloseWrite), the server half-closes its conn: a TLS close_notify, a
// unix shutdown. The tapped client reads the EOF and records the server's
// half-close in the words of that conn, no "(FIN)": a TLS peer's
// close_notify leaves the TCP under it open, and a unix socket has no FIN;
// the client's side still open; the client's CloseWrite then ends the session by EOF,
// naming the server as first to close.
func TestTransportHalfCloses(t *testing.T) {
	for _, c := range []struct{ name, how string }{
		{"tls", " the TLS connection"},
		{"unix", " the connection"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tc, _, sc, reg := tappedClient(t, transport(t, c.name), smuxtest.Config(2))
			if err := sc.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
				t.Fatal(err)
			}
			smuxtest.Eventually(t, "the server's half-close", func() bool { return len(halfCloseDetails(reg)) > 0 })
			server := nameOf("server", tc.RemoteAddr())
			want := "the " + server + " closed its side of" + c.how + "; the client's side is still open"
			if got := halfCloseDetails(reg); len(got) != 1 || got[0] != want {
				t.Errorf("half-close %q, want %q", got, want)
			}
			if s := theSession(t, reg); s.Ended {
				t.Fatalf("the session ended at the server's half-close: %v %q", s.Reason, s.Err)
			}
			if err := tc.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			s := ended(t, reg)
			if s.Reason != live.EOF || s.Err != "the "+server+" closed first" {
				t.Errorf("ended %v %q, want eof %q", s.Reason, s.Err, "the "+server+" closed first")
			}
		})
	}
}

// TestTransportWriteAfterOwnCloseWrite: the tapped client half-closes
// its conn (TLS: close_notify; unix: shutdown), then smux opens a stream,
// whose SYN fails: the conn's own shutdown, which ends the session as
// closed locally, "a write after its own CloseWrite", as over TCP (EPIPE),
// not as an I/O error: TLS fails the write with "tls: protocol is
// shutdown", no EPIPE.
func TestTransportWriteAfterOwnCloseWrite(t *testing.T) {
	for _, name := range []string{"tls", "unix"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tc, cli, _, reg := tappedClient(t, transport(t, name), smuxtest.Config(2))
			if err := tc.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			want := "the " + nameOf("client", tc.LocalAddr()) + " closed its side of the"
			if got := halfCloseDetails(reg); len(got) != 1 || !strings.HasPrefix(got[0], want) {
				t.Errorf("half-close %q, want %q…", got, want)
			}
			if _, err := cli.OpenStream(); err == nil {
				t.Fatal("a stream opened after the conn's CloseWrite")
			}
			s := ended(t, reg)
			if s.Reason != live.LocalClose || !strings.HasPrefix(s.Err, "a write after its own CloseWrite: ") {
				t.Errorf("ended %v %q, want local_close \"a write after its own CloseWrite: …\"", s.Reason, s.Err)
			}
		})
	}
}

// nameOf is how muxtop names the end of role at a: "server 127.0.0.1:9000",
// or the role alone where a names no end: none, an unnamed unix socket's
// "@", a net.Pipe's "pipe".
func nameOf(role string, a net.Addr) string {
	if a == nil || a.String() == "@" || a.String() == "" || a.String() == "pipe" {
		return role
	}
	return role + " " + a.String()
}

// TestTransportTLSPeerReset: the server's TCP under its TLS resets (SO_LINGER
// 0): the tapped client's TLS read fails with the TCP's ECONNRESET, and
// the session ends "reset by the server …", as over TCP.
func TestTransportTLSPeerReset(t *testing.T) {
	t.Parallel()
	rc, rs := smuxtest.Conns(t)
	tr := smuxtest.Transport{Name: "tls", Conns: func(t testing.TB) (net.Conn, net.Conn) { return smuxtest.TLSOver(t, rc, rs) }}
	tc, _, _, reg := tappedClient(t, tr, smuxtest.Config(2))
	rs.(*net.TCPConn).SetLinger(0)
	rs.Close()
	s := ended(t, reg)
	if want := "reset by the server " + tc.RemoteAddr().String(); s.Reason != live.Reset || s.Err != want {
		t.Errorf("ended %v %q, want reset %q", s.Reason, s.Err, want)
	}
}

// TestTransportPeerCloses: the server closes its session, and so its
// conn, and the client writes on. Over TLS (close_notify, then the TCP's
// FIN) and a unix socket, the client's read records the server's side
// closed, and its writes then fail as over TCP: EPIPE or ECONNRESET,
// "reset by the server …, which had closed its side of the connection …
// before". A net.Pipe has no half-close: its peer's Close is an EOF to
// the client's read (its words must not say the client's side is still
// open: it can no longer write), and the next write fails with
// io.ErrClosedPipe, an I/O error with the pipe's words: the server had
// closed the connection, not its side of it.
func TestTransportPeerCloses(t *testing.T) {
	for _, c := range []struct {
		name      string
		half      string // the half-close's detail after the server's name
		reason    live.CloseReason
		errPrefix string // after the server's name, where it begins with it
	}{
		{"tls", " closed its side of the TLS connection; the client's side is still open", live.Reset, "reset by the "},
		{"unix", " closed its side of the connection; the client's side is still open", live.Reset, "reset by the "},
		{"pipe", " closed the connection (a net.Pipe has no half-close): the client can no longer write", live.ReadError, "io: read/write on closed pipe; the "},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tc, cli, sc, reg := tappedClient(t, transport(t, c.name), smuxtest.Config(2))
			sc.Close()
			smuxtest.Eventually(t, "the server's close read", func() bool { return len(halfCloseDetails(reg)) > 0 })
			server := nameOf("server", tc.RemoteAddr())
			if got := halfCloseDetails(reg); len(got) != 1 || got[0] != "the "+server+c.half {
				t.Errorf("half-close %q, want %q", got, "the "+server+c.half)
			}
			deadline := time.Now().Add(10 * time.Second)
			for !theSession(t, reg).Ended && time.Now().Before(deadline) {
				cli.OpenStream() // a SYN; TCP's first may still go out
				time.Sleep(5 * time.Millisecond)
			}
			s := ended(t, reg)
			want := c.errPrefix + server
			switch {
			case c.reason == live.Reset:
				want += ", which had closed its side of the connection "
			case c.name == "pipe": // no half-close: the server closed it whole
				want += " had closed the connection "
			default:
				want += " had closed its side of the connection "
			}
			if s.Reason != c.reason || !strings.HasPrefix(s.Err, want) || !strings.HasSuffix(s.Err, " before") {
				t.Errorf("ended %v %q, want %v %q… before", s.Reason, s.Err, c.reason, want)
			}
		})
	}
}

// TestTransportLocalCloseMidFrame: the peer has sent half a frame's
// header (a raw writer, as a frame cut by the peer's end would be), and
// the program closes its session, and so its tapped conn. The tapped
// end stopped reading by its own close: no TRUNCATED (that is for a
// frame the peer's end cut short), and the session ended local_close.
// Over a net.Pipe and a KCP-like conn the Read that smux's reader is in
// fails with io.ErrClosedPipe, not net.ErrClosed as a TCP's, TLS's or
// unix socket's does.
func TestTransportLocalCloseMidFrame(t *testing.T) {
	for _, tr := range smuxtest.Transports() {
		t.Run(tr.Name, func(t *testing.T) {
			t.Parallel()
			cc, sc := tr.Conns(t)
			cnt := &smuxtest.CountingConn{Conn: cc}
			reg := live.New(live.Config{})
			cli, err := smux.Client(tap.Wrap(cnt, live.Client, reg, tr.Name), smuxtest.Config(1))
			if err != nil {
				t.Fatal(err)
			}
			defer cli.Close()
			go sc.Write([]byte{1, 3, 0, 0}) // half a v1 NOP's header
			smuxtest.Eventually(t, "the client's read of half a header", func() bool { return cnt.In.Load() == 4 })
			cli.Close()
			s := ended(t, reg)
			time.Sleep(50 * time.Millisecond) // smux's reader's Read fails meanwhile
			if s.Reason != live.LocalClose || s.Err != "" {
				t.Errorf("ended %v %q, want local_close", s.Reason, s.Err)
			}
			if f := framing(t, reg); len(f) > 0 {
				t.Errorf("framing violations after this end's own close: %+v", f)
			}
			for _, f := range reg.Snapshot().Findings {
				t.Errorf("finding after this end's own close: %s %s", f.Code, f.Text)
			}
		})
	}
}

// TestTransportNoCloseWrite: a net.Pipe end and a KCP-like conn have no
// CloseWrite: the tapped conn's says so (errors.ErrUnsupported), records
// no half-close, and the session goes on.
func TestTransportNoCloseWrite(t *testing.T) {
	for _, name := range []string{"pipe", "message"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tc, cli, _, reg := tappedClient(t, transport(t, name), smuxtest.Config(2))
			if err := tc.CloseWrite(); !errors.Is(err, errors.ErrUnsupported) {
				t.Errorf("CloseWrite: %v, want errors.ErrUnsupported", err)
			}
			echoOnce(t, cli)
			if d := halfCloseDetails(reg); len(d) > 0 {
				t.Errorf("half-closes %q on a conn with no CloseWrite", d)
			}
			if s := theSession(t, reg); s.Ended {
				t.Errorf("ended %v %q", s.Reason, s.Err)
			}
		})
	}
}

// TestTransportKCPPeerGone: a KCP-like conn's peer closes, and nothing of
// it arrives (UDP): the tapped client's session stays live until smux's
// keepalive gives up and closes it, local_close; no half-close is
// recorded, and no TRUNCATED.
func TestTransportKCPPeerGone(t *testing.T) {
	t.Parallel()
	cfg := smuxtest.Config(2)
	cfg.KeepAliveInterval, cfg.KeepAliveTimeout = 50*time.Millisecond, 400*time.Millisecond
	_, _, sc, reg := tappedClient(t, transport(t, "message"), cfg)
	closed := time.Now()
	sc.Close()
	time.Sleep(50 * time.Millisecond)
	if s := theSession(t, reg); s.Ended {
		t.Fatalf("the session ended %v %q %v after the peer's close, which cannot arrive; want it live until the keepalive gives up", s.Reason, s.Err, time.Since(closed))
	}
	s := ended(t, reg)
	if s.Reason != live.LocalClose || s.Err != "" {
		t.Errorf("ended %v %q, want local_close", s.Reason, s.Err)
	}
	// smux's keepalive checks every KeepAliveTimeout: it gives up on a
	// session that heard nothing for a whole period, not at the close.
	if d := s.End.Sub(closed); d < cfg.KeepAliveTimeout/2 {
		t.Errorf("the session ended %v after the peer's close; want the keepalive's doing, %v or more", d, cfg.KeepAliveTimeout/2)
	}
	if d := halfCloseDetails(reg); len(d) > 0 {
		t.Errorf("half-closes %q where no close arrived", d)
	}
	if f := framing(t, reg); len(f) > 0 {
		t.Errorf("framing violations: %+v", f)
	}
}

// TestTransportPeerClosesYamux: the yamux server closes its session, and
// so its conn; yamux's client closes its own as it reads the EOF. Over
// TLS, a unix socket and a pipe the tapped client records the server's
// close in that conn's words, then ends local_close, saying the server had
// closed its side before.
func TestTransportPeerClosesYamux(t *testing.T) {
	for _, c := range []struct{ name, half string }{
		{"tls", " closed its side of the TLS connection; the client's side is still open"},
		{"unix", " closed its side of the connection; the client's side is still open"},
		{"pipe", " closed the connection (a net.Pipe has no half-close): the client can no longer write"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cc, sc := transport(t, c.name).Conns(t)
			reg := live.New(live.Config{})
			tc := tap.Wrap(cc, live.Client, reg, c.name)
			cli, srv := smuxtest.YamuxPair(t, tc, sc, smuxtest.YamuxConfig(), smuxtest.YamuxConfig())
			smuxtest.EchoYamux(srv)
			st, err := cli.OpenStream()
			if err != nil {
				t.Fatal(err)
			}
			st.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := st.Write([]byte("ping\n")); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(st, make([]byte, 5)); err != nil {
				t.Fatal(err)
			}
			st.Close()
			smuxtest.Eventually(t, "the echoed stream closed", func() bool { return theSession(t, reg).Open == 0 })
			srv.Close()
			s := ended(t, reg)
			server := nameOf("server", tc.RemoteAddr())
			if got := halfCloseDetails(reg); len(got) != 1 || got[0] != "the "+server+c.half {
				t.Errorf("half-close %q, want %q", got, "the "+server+c.half)
			}
			want := "the " + server + " had closed its side of the connection "
			if c.name == "pipe" { // no half-close: the server closed it whole
				want = "the " + server + " had closed the connection "
			}
			if s.Reason != live.LocalClose || !strings.HasPrefix(s.Err, want) || !strings.HasSuffix(s.Err, " before") {
				t.Errorf("ended %v %q, want local_close %q… before", s.Reason, s.Err, want)
			}
		})
	}
}
