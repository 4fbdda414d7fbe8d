package tap_test

import (
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// unreachAfterShut is a TCP conn whose writes after its CloseWrite fail
// as Linux fails them when an ICMP error is pending on the socket:
// tcp_sendmsg returns the socket's error before EPIPE.
type unreachAfterShut struct {
	*net.TCPConn
	shut bool
}

func (c *unreachAfterShut) CloseWrite() error { c.shut = true; return c.TCPConn.CloseWrite() }

func (c *unreachAfterShut) Write(p []byte) (int, error) {
	if c.shut {
		return 0, &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.EHOSTUNREACH)}
	}
	return c.TCPConn.Write(p)
}

// TestWriteAfterCloseWritePathError: a write after this end's CloseWrite
// that fails for the path (no route to host), not for the shutdown, is an
// I/O error, not this end's own close. Since the tap took any failure
// after CloseWrite but ECONNRESET for its own (to cover TLS's), it said
// "local close: a write after its own CloseWrite: … no route to host".
func TestWriteAfterCloseWritePathError(t *testing.T) {
	cc, _ := smuxtest.Conns(t)
	reg := live.New(live.Config{})
	tc := tap.Wrap(&unreachAfterShut{TCPConn: cc.(*net.TCPConn)}, live.Client, reg, "shut")
	if err := tc.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.Write([]byte{1, 2, 3}); err == nil {
		t.Fatal("the write after CloseWrite did not fail")
	}
	s := theSession(t, reg)
	if !s.Ended || s.Reason != live.ReadError {
		t.Fatalf("the session ended %v (%v) %q; want an I/O error", s.Ended, s.Reason, s.Err)
	}
}
