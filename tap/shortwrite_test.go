package tap

import (
	"context"
	"io"
	"net"
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

// returnedConn notes a failed Write once the tap under it has returned it,
// that is, once the tap has accounted for what it did not send.
type returnedConn struct {
	net.Conn
	failed atomic.Bool
}

func (c *returnedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if err != nil {
		c.failed.Store(true)
	}
	return n, err
}

// shortWriteClient is a real client library's session: open opens a
// stream, and close closes the session.
type shortWriteClient struct {
	open  func() (io.WriteCloser, error)
	close func() error
}

// smuxClient is a real smux client of version over a connection.
func smuxClient(version int) func(*testing.T, net.Conn) shortWriteClient {
	return func(t *testing.T, c net.Conn) shortWriteClient {
		cli, err := smux.Client(c, smuxtest.Config(version))
		if err != nil {
			t.Fatal(err)
		}
		return shortWriteClient{func() (io.WriteCloser, error) { return cli.OpenStream() }, cli.Close}
	}
}

// TestShortWriteMidFrame: a real smux or yamux client opens a stream,
// writes to it and closes it, over a connection that fails a Write after
// limit bytes, for every limit short of the whole: smux writes a frame a
// Write, yamux a frame's header, then its payload. The client's bytes are
// also written again as one Write, as a Write of several frames fails.
// The session must be that of a connection that carried only the bytes
// that went out, then ended: the frames that did not go out whole are
// taken back, and the frame the failure cut is TRUNCATED at its offset,
// with the part of its header that went out, the rest zero, and its bytes
// unparsed.
func TestShortWriteMidFrame(t *testing.T) {
	yamuxClient := func(t *testing.T, c net.Conn) shortWriteClient {
		cli, err := hyamux.Client(c, smuxtest.YamuxConfig())
		if err != nil {
			t.Fatal(err)
		}
		return shortWriteClient{func() (io.WriteCloser, error) { return cli.OpenStream() }, cli.Close}
	}
	for _, tc := range []struct {
		name   string
		client func(*testing.T, net.Conn) shortWriteClient
		proto  Protocol
	}{
		{"smux v1", smuxClient(1), Smux},
		{"smux v2", smuxClient(2), Smux},
		{"yamux", yamuxClient, Yamux},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const frames = 3 // SYN, PSH or Data with the payload, FIN
			wire, _ := streamWrite(t, tc.client, func(c net.Conn) net.Conn { return c }, 1<<20)
			truncated := 0
			for limit := range len(wire) {
				for _, oneWrite := range []bool{false, true} {
					// A small history (endedAfter's too): the default's
					// 100,000 slots, allocated and zeroed twice for each of
					// the 240 cases, were most of the test's time.
					reg := live.New(live.Config{History: 64})
					tapped := func(c net.Conn) net.Conn { return Wrap(c, live.Client, reg, "test") }
					var sent []byte
					var unsent int64
					if oneWrite {
						fc := &failingConn{Conn: &memConn{}, limit: limit}
						tapped(fc).Write(wire)
						sent, unsent = fc.sent, fc.unsent
					} else {
						sent, unsent = streamWrite(t, tc.client, tapped, limit)
					}
					ss := reg.Snapshot().Sessions[0]
					if checkShortWrite(t, ss, endedAfter(tc.proto, sent)) {
						truncated++
					}
					checkUnsentNotice(t, reg, ss, unsent, int64(len(sent)))
					if t.Failed() {
						t.Fatalf("limit %d, one write %v", limit, oneWrite)
					}
				}
			}
			// Every limit but those at a frame's start cuts one.
			if want := 2 * (len(wire) - frames); truncated != want {
				t.Errorf("%d writes cut a frame, want %d", truncated, want)
			}
		})
	}
}

// streamWrite runs client over wrap of a connection that sends only the
// first limit bytes written to it: it opens a stream, writes to it and
// closes it. It returns what went out, once a Write has failed, or once
// the stream closed, and how many bytes of the failed Write did not.
func streamWrite(t *testing.T, client func(*testing.T, net.Conn) shortWriteClient, wrap func(net.Conn) net.Conn, limit int) ([]byte, int64) {
	cc, _ := smuxtest.Conns(t) // for the client's reads, which wait: its writes stop at fc
	fc := &failingConn{Conn: cc, limit: limit}
	rc := &returnedConn{Conn: wrap(fc)}
	cli := client(t, rc)
	defer cli.close()
	closed := false
	if st, err := cli.open(); err == nil {
		if _, err := st.Write([]byte("0123456789")); err == nil {
			closed = st.Close() == nil
		}
	}
	if !closed {
		smuxtest.Eventually(t, "the failed write", rc.failed.Load)
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return fc.sent, fc.unsent
}

// endedAfter returns the session of a connection, decoded as proto, that
// carried sent from the client and then ended.
func endedAfter(proto Protocol, sent []byte) *live.SessionSnap {
	reg := live.New(live.Config{History: 64}) // a few frames: as TestShortWriteMidFrame's
	at := time.Unix(1000, 0)
	sess := reg.Open(live.SessionInfo{Client: "a:1", Server: "b:2", Tap: live.Client}, at)
	c2s, _ := NewFeeders(sess, 0, proto, 0)
	c2s.Feed(sent, at)
	c2s.End(at, true)
	return reg.Snapshot().Session(sess.ID())
}

// checkShortWrite checks the session of a failed Write against want, that
// of a connection that carried what went out, and reports whether the
// failure cut a frame.
func checkShortWrite(t *testing.T, ss, want *live.SessionSnap) bool {
	t.Helper()
	c2s := live.ClientToServer
	if ss.Counts != want.Counts || ss.WireBytes(c2s) != want.WireBytes(c2s) || ss.Unparsed != want.Unparsed || !ss.Ended {
		t.Errorf("counts %v, wire bytes %d, unparsed %v, ended %v; want %v, %d, %v, ended",
			ss.Counts, ss.WireBytes(c2s), ss.Unparsed, ss.Ended, want.Counts, want.WireBytes(c2s), want.Unparsed)
	}
	if len(ss.Framing) != len(want.Framing) {
		t.Errorf("framing %+v, want %+v", ss.Framing, want.Framing)
		return len(want.Framing) > 0
	}
	for i, got := range ss.Framing {
		if got.Code != decoder.Truncated && got.YamuxCode != yamux.Truncated {
			t.Errorf("violation %+v, want TRUNCATED", got)
		}
		// Want is for the version codes: End's TRUNCATED has the
		// decoder's, a failed Write's none.
		got.At, got.Want = want.Framing[i].At, want.Framing[i].Want
		if got != want.Framing[i] {
			t.Errorf("violation %+v\nwant %+v", got, want.Framing[i])
		}
	}
	return len(want.Framing) > 0
}

// TestProxyShortWrite: the attach proxy forwards a real smux client's
// stream to an upstream whose connection fails a Write after limit bytes,
// for every limit short of the whole. The session must be that of a
// connection that carried only the bytes that reached the upstream, with
// one notice of what did not, as for a tapped Conn's failed Write.
func TestProxyShortWrite(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	wire, _ := streamWrite(t, smuxClient(1), func(c net.Conn) net.Conn { return c }, 1<<20)
	up := startUpstream(t, "", func(c net.Conn) { io.Copy(io.Discard, c) })
	for limit := range len(wire) {
		reg := live.New(live.Config{})
		p := NewProxy(ProxyConfig{Listen: "127.0.0.1:0", Upstream: up.addr(), Registry: reg})
		var fc *failingConn
		var d net.Dialer
		p.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			fc = &failingConn{Conn: c, limit: limit}
			return fc, nil
		}
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		c := dialProxy(t, p)
		if _, err := c.Write(wire); err != nil {
			t.Fatal(err)
		}
		ss := endedSession(t, reg)
		fc.mu.Lock()
		sent, unsent := fc.sent, fc.unsent
		fc.mu.Unlock()
		checkShortWrite(t, ss, endedAfter(Smux, sent))
		checkUnsentNotice(t, reg, ss, unsent, int64(len(sent)))
		c.Close()
		p.Close()
		p.Wait()
		if t.Failed() {
			t.Fatalf("limit %d", limit)
		}
	}
}
