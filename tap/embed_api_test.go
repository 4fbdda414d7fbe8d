package tap

import (
	"crypto/tls"
	"io"
	"net"
	"testing"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// TestCloseWriteFailedEndsNothing: a CloseWrite that fails shut nothing —
// crypto/tls refuses one before its handshake completes, and the conn
// writes on — so the tap decodes on what this end writes after it. Before,
// the direction ended at the failed call: the 10 NOPs the client wrote
// after it, which the server read, were never counted (frames c2s 0).
func TestCloseWriteFailedEndsNothing(t *testing.T) {
	cc, sc := smuxtest.Conns(t)
	ccfg, scfg := smuxtest.TLSConfigs(t)
	ts := tls.Server(sc, scfg)
	got := make(chan int64, 1)
	go func() {
		n, _ := io.Copy(io.Discard, ts)
		got <- n
	}()
	reg := live.New(live.Config{})
	c := Wrap(tls.Client(cc, ccfg), live.Client, reg, "c")
	if err := c.CloseWrite(); err == nil {
		t.Fatal("CloseWrite before the handshake: no error; the test needs crypto/tls to refuse it")
	}
	nop := decoder.MakeHeader(1, decoder.NOP, 0, 0)
	for range 10 {
		if _, err := c.Write(nop[:]); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	if n := <-got; n != 80 {
		t.Fatalf("the server read %d bytes, want the 10 NOPs' 80", n)
	}
	snap := reg.Snapshot()
	if n := snap.Sessions[0].Counts.Frames[live.ClientToServer][decoder.NOP]; n != 10 {
		t.Errorf("NOPs counted c2s: %d, want the 10 the server read", n)
	}
}

// TestNetConnIsTheWrappedConn: a tapped conn's own methods (a TCP conn's
// SetNoDelay, a TLS conn's ConnectionState, a KCP session's tuning) are
// its NetConn's, as a *tls.Conn gives its own conn; before, the only way
// in was the embedded field, which no doc named.
func TestNetConnIsTheWrappedConn(t *testing.T) {
	cc, _ := smuxtest.Conns(t)
	c := Wrap(cc, live.Client, live.New(live.Config{}), "c")
	var under net.Conn = c
	u, ok := under.(interface{ NetConn() net.Conn })
	if !ok || u.NetConn() != cc {
		t.Fatalf("NetConn: %v, want the wrapped conn %v", ok, cc)
	}
	if _, ok := u.NetConn().(*net.TCPConn); !ok {
		t.Fatalf("NetConn is a %T, want the *net.TCPConn", u.NetConn())
	}
}
