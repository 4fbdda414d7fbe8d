package smuxtest

import (
	"io"
	"net"
	"testing"
	"time"

	hyamux "github.com/hashicorp/yamux"
)

// PacedConn writes at most Rate bytes a second, 32 KiB at a time: a slow
// path, beneath a tap, that the tapped end's writes go out through.
type PacedConn struct {
	net.Conn
	Rate int
}

// Write writes p 32 KiB at a time, each after the time Rate gives it.
func (c PacedConn) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := min(32<<10, len(p)-n)
		time.Sleep(time.Duration(k) * time.Second / time.Duration(c.Rate))
		w, err := c.Conn.Write(p[n : n+k])
		n += w
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// YamuxTransfer sends size bytes on one new stream of cli, closed after
// them, which srv accepts and reads to its end: a transfer over a slow
// path (PacedConn) for the tests of big writes. The channel gets the
// bytes srv read, -1 if it accepted no stream.
func YamuxTransfer(t testing.TB, cli, srv *hyamux.Session, size int64) <-chan int64 {
	t.Helper()
	got := make(chan int64, 1)
	go func() {
		st, err := srv.AcceptStream()
		if err != nil {
			got <- -1
			return
		}
		n, _ := io.Copy(io.Discard, st)
		got <- n
	}()
	st, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	go func() { st.Write(make([]byte, size)); st.Close() }()
	return got
}
