//go:build linux

package tuntest

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
)

// TestPair: 1 MiB each way through a tun pair arrives intact, with no
// capture open: the pair carries a connection on its own. Its packets
// are no bigger than the tun's MTU. The pair's cleanup wakes goroutines
// blocked on its listener and connections, and stops its reflector (the
// cleanup waits for it: were it stuck, the test would hang).
func TestPair(t *testing.T) {
	t.Run("echo", func(t *testing.T) { pairEcho(t, New(t)) })
	t.Run("echo6", func(t *testing.T) { pairEcho(t, New6(t)) })
	t.Run("cleanup", func(t *testing.T) {
		woken := make(chan error, 3)
		blocked := 0 // goroutines started, each to send to woken once
		t.Run("pair", func(t *testing.T) {
			p := New(t)
			c, err := p.Dial()
			if err != nil {
				t.Fatal(err)
			}
			s, err := p.Ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			read := func(c net.Conn) {
				_, err := c.Read(make([]byte, 1))
				woken <- err
			}
			go read(c)
			go read(s)
			go func() {
				_, err := p.Ln.Accept()
				woken <- err
			}()
			blocked = 3
		}) // its cleanup runs here
		if blocked == 0 {
			t.Skip("no tun pair")
		}
		// The accepted end may see the FIN of the dialed one, closed
		// first, before its own close: io.EOF.
		for range blocked {
			if err := <-woken; !errors.Is(err, net.ErrClosed) && err != io.EOF {
				t.Errorf("a goroutine blocked on the pair woke with %v, want %v or EOF", err, net.ErrClosed)
			}
		}
	})
}

func pairEcho(t *testing.T, p *Pair) {
	const size = 1 << 20
	up, down := make([]byte, size), make([]byte, size)
	rand.Read(up)
	rand.Read(down)

	type result struct {
		got []byte
		err error
	}
	served := make(chan result, 1)
	go func() {
		c, err := p.Ln.Accept()
		if err != nil {
			served <- result{err: err}
			return
		}
		defer c.Close()
		if ra := c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap(); ra != p.ClientSide {
			served <- result{err: fmt.Errorf("accepted from %v, want %v", ra, p.ClientSide)}
			return
		}
		wrote := writeThenClose(c, down) // while reading: both directions at once, as the client
		got, err := io.ReadAll(c)
		if werr := <-wrote; err == nil {
			err = werr
		}
		served <- result{got, err}
	}()

	c, err := p.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ra := c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap(); ra != p.ServerSide {
		t.Errorf("dialed %v, want %v", ra, p.ServerSide)
	}
	wrote := writeThenClose(c, up)
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("client read: %v", err)
	}
	if err := <-wrote; err != nil {
		t.Fatalf("client write: %v", err)
	}
	r := <-served
	if r.err != nil {
		t.Fatalf("server: %v", r.err)
	}
	if !bytes.Equal(r.got, up) {
		t.Errorf("server got %d bytes, not the %d the client wrote", len(r.got), len(up))
	}
	if !bytes.Equal(got, down) {
		t.Errorf("client got %d bytes, not the %d the server wrote", len(got), len(down))
	}
	if n := p.Oversized.Load(); n != 0 {
		t.Errorf("%d packets bigger than the MTU (%d) came out of the tun", n, MTU)
	}
	t.Logf("%s: %d packets reflected, %d dropped", p.Ifname, p.Reflected.Load(), p.Dropped.Load())
}

// writeThenClose writes b to the TCP connection c, then closes its
// writing half, in a goroutine of its own; it sends the first error, or
// nil, on the channel it returns.
func writeThenClose(c net.Conn, b []byte) <-chan error {
	wrote := make(chan error, 1)
	go func() {
		_, err := c.Write(b)
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		wrote <- err
	}()
	return wrote
}
