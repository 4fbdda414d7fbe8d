package smuxtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"io"
	"math/big"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/xtaci/smux"
)

// Transport makes the two ends of a connection that is not loopback TCP,
// as programs hand smux or yamux one: the end that dialled and the end
// that accepted, both closed when the test ends.
type Transport struct {
	Name  string
	Conns func(t testing.TB) (client, server net.Conn)
}

// Transports are the conns other than TCP that a program wraps with
// tap.Wrap: a TLS conn over loopback TCP, a unix socket, a net.Pipe end,
// and a message conn as KCP's (MessageConns).
func Transports() []Transport {
	return []Transport{
		{Name: "tls", Conns: TLSConns},
		{Name: "unix", Conns: UnixConns},
		{Name: "pipe", Conns: PipeConns},
		{Name: "message", Conns: MessageConns},
	}
}

// TLSConfigs returns a server config with a self-signed certificate for
// 127.0.0.1, made here, and a client config that trusts it.
func TLSConfigs(t testing.TB) (client, server *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "muxtop test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	client = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	return client, server
}

// TLSConns returns the two ends of a TLS connection over loopback TCP,
// handshaken: *tls.Conn both.
func TLSConns(t testing.TB) (client, server net.Conn) {
	t.Helper()
	cc, sc := Conns(t)
	return TLSOver(t, cc, sc)
}

// TLSOver runs TLS over the two ends cc and sc of a connection and
// returns the *tls.Conn ends once both handshakes are done.
func TLSOver(t testing.TB, cc, sc net.Conn) (client, server net.Conn) {
	t.Helper()
	ccfg, scfg := TLSConfigs(t)
	tc, ts := tls.Client(cc, ccfg), tls.Server(sc, scfg)
	done := make(chan error, 1)
	go func() { done <- ts.Handshake() }()
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tc.Close(); ts.Close() })
	return tc, ts
}

// TLSUnixConns returns the two ends of a TLS connection over a unix
// socket (UnixConns), handshaken: *tls.Conn both.
func TLSUnixConns(t testing.TB) (client, server net.Conn) {
	t.Helper()
	cc, sc := UnixConns(t)
	return TLSOver(t, cc, sc)
}

// UnixConns returns the two ends of a unix stream socket in a
// t.TempDir(): *net.UnixConn both.
func UnixConns(t testing.TB) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ConnsOn(t, ln)
}

// PipeConns returns the two ends of a net.Pipe: no half-close, and a
// peer's Close is an io.EOF to this end's Read and io.ErrClosedPipe to its
// Write.
func PipeConns(t testing.TB) (client, server net.Conn) {
	t.Helper()
	c, s := net.Pipe()
	t.Cleanup(func() { c.Close(); s.Close() })
	return c, s
}

// MessageConns returns the two ends of a message conn that behaves as a
// KCP session (kcp-go's UDPSession, stream mode off) does for the bytes it
// carries: each Write is one message, a Read returns at most one message
// (what a short buffer leaves of it, the next Read), and nothing of the
// peer's Close reaches this end, which goes on waiting as KCP does over
// UDP until its own Close (or the mux's keepalive). It has no CloseWrite;
// after its own Close its Read and Write fail with io.ErrClosedPipe,
// wrapped as kcp-go wraps it, no syscall error; a passed deadline fails a
// Read with a timeout. Its addresses are UDP ones, as a UDPSession's are
// its socket's (made up here: no socket is opened).
func MessageConns(t testing.TB) (client, server net.Conn) {
	t.Helper()
	ab, ba := make(chan []byte, 1024), make(chan []byte, 1024)
	ca, sa := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40001}, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40002}
	c := &MessageConn{in: ba, out: ab, done: make(chan struct{}), local: ca, remote: sa}
	s := &MessageConn{in: ab, out: ba, done: make(chan struct{}), local: sa, remote: ca}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c, s
}

// MessageConn is one end of MessageConns.
type MessageConn struct {
	in, out       chan []byte
	rest          []byte // what a short Read left of a message
	rmu           sync.Mutex
	done          chan struct{}
	once          sync.Once
	dmu           sync.Mutex
	deadline      time.Time
	local, remote net.Addr
}

// errKCPClosed is io.ErrClosedPipe wrapped, as kcp-go's errors.WithStack
// wraps it.
type errKCPClosed struct{}

func (errKCPClosed) Error() string { return io.ErrClosedPipe.Error() }
func (errKCPClosed) Unwrap() error { return io.ErrClosedPipe }

// kcpTimeout is KCP's timeout, a net.Error of its own.
type kcpTimeout struct{}

func (kcpTimeout) Error() string   { return "timeout" }
func (kcpTimeout) Timeout() bool   { return true }
func (kcpTimeout) Temporary() bool { return true }

// Read returns the rest of a message a short Read left, or the next
// message, as much of it as p holds.
func (c *MessageConn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if len(c.rest) == 0 {
		c.dmu.Lock()
		d := c.deadline
		c.dmu.Unlock()
		var timeout <-chan time.Time
		if !d.IsZero() {
			tm := time.NewTimer(time.Until(d))
			defer tm.Stop()
			timeout = tm.C
		}
		select {
		case <-c.done:
			return 0, errKCPClosed{}
		case m := <-c.in:
			c.rest = m
		case <-timeout:
			return 0, kcpTimeout{}
		}
	}
	select {
	case <-c.done:
		return 0, errKCPClosed{}
	default:
	}
	n := copy(p, c.rest)
	c.rest = c.rest[n:]
	return n, nil
}

// Write sends p as one message.
func (c *MessageConn) Write(p []byte) (int, error) {
	select {
	case <-c.done:
		return 0, errKCPClosed{}
	default:
	}
	select {
	case c.out <- append([]byte(nil), p...):
		return len(p), nil
	case <-c.done:
		return 0, errKCPClosed{}
	}
}

// Close closes this end alone: the peer learns nothing of it.
func (c *MessageConn) Close() error {
	first := false
	c.once.Do(func() { close(c.done); first = true })
	if !first {
		return errKCPClosed{}
	}
	return nil
}

// LocalAddr returns this end's made-up UDP address.
func (c *MessageConn) LocalAddr() net.Addr { return c.local }

// RemoteAddr returns the peer's.
func (c *MessageConn) RemoteAddr() net.Addr { return c.remote }

// SetDeadline sets the read deadline; writes never block long here.
func (c *MessageConn) SetDeadline(d time.Time) error { return c.SetReadDeadline(d) }

// SetReadDeadline sets when a waiting Read fails with a timeout.
func (c *MessageConn) SetReadDeadline(d time.Time) error {
	c.dmu.Lock()
	c.deadline = d
	c.dmu.Unlock()
	return nil
}

// SetWriteDeadline does nothing: Write never waits for the peer.
func (c *MessageConn) SetWriteDeadline(time.Time) error { return nil }

// WireCount is an independent count of a mux's raw bytes, one direction's,
// parsed here with nothing of muxtop's decoder: frames and bytes (header
// and payload) by smux command or yamux type, and the stream ids opened
// (an smux SYN, a yamux SYN flag) and closed (FIN, a yamux FIN or RST flag).
type WireCount struct {
	Frames, Bytes [5]uint64
	Opened        map[uint32]bool
	Fins          map[uint32]bool
	Rest          int // bytes after the last whole frame
}

// CountWire counts the frames of b, one direction of an smux (yam false)
// or hashicorp/yamux session.
func CountWire(b []byte, yam bool) WireCount {
	w := WireCount{Opened: map[uint32]bool{}, Fins: map[uint32]bool{}}
	for {
		if !yam {
			if len(b) < 8 {
				break
			}
			cmd, n, sid := b[1], int(binary.LittleEndian.Uint16(b[2:])), binary.LittleEndian.Uint32(b[4:])
			if len(b) < 8+n {
				break
			}
			if cmd < 5 {
				w.Frames[cmd]++
				w.Bytes[cmd] += uint64(8 + n)
			}
			switch cmd {
			case 0:
				w.Opened[sid] = true
			case 1:
				w.Fins[sid] = true
			}
			b = b[8+n:]
			continue
		}
		if len(b) < 12 {
			break
		}
		typ, flags, sid, n := b[1], binary.BigEndian.Uint16(b[2:]), binary.BigEndian.Uint32(b[4:]), int(binary.BigEndian.Uint32(b[8:]))
		size := 12
		if typ == 0 {
			size += n
		}
		if len(b) < size {
			break
		}
		if typ < 4 {
			w.Frames[typ]++
			w.Bytes[typ] += uint64(size)
		}
		if sid != 0 && flags&1 != 0 {
			w.Opened[sid] = true
		}
		if sid != 0 && flags&(4|8) != 0 {
			w.Fins[sid] = true
		}
		b = b[size:]
	}
	w.Rest = len(b)
	return w
}

// UnixServed runs an smux v2 echo server on a unix listener in a
// t.TempDir(), the listener wrapped by wrap (as tap.WrapListener), and
// returns a client session dialled to it, whose socket has no name (the
// server sees "@"), the server's session and the listener's path. The
// client, the server and the listener close as the test ends, or as it
// fails on the way: each is given to t.Cleanup as soon as it exists.
func UnixServed(t testing.TB, wrap func(net.Listener) net.Listener) (cli, srv *smux.Session, path string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "s")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	wl := wrap(ln)
	accepted := make(chan *smux.Session, 1)
	go func() {
		defer close(accepted)
		c, err := wl.Accept()
		if err != nil {
			return
		}
		srv, err := smux.Server(c, Config(2))
		if err != nil {
			c.Close()
			return
		}
		EchoSmux(srv)
		accepted <- srv
	}()
	// Closing the listener ends an Accept still waiting; the server's
	// session, if one was made and never taken, closes with it.
	t.Cleanup(func() {
		wl.Close()
		if srv, ok := <-accepted; ok {
			srv.Close()
		}
	})
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	cli, err = smux.Client(c, Config(2))
	if err != nil {
		c.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	srv = <-accepted
	if srv == nil {
		t.Fatal("smuxtest: the unix server did not start")
	}
	t.Cleanup(func() { srv.Close() })
	return cli, srv, path
}
