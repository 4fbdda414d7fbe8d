//go:build unix

package tap

import (
	"io"
	"net"
	"testing"
	"time"

	hyamux "github.com/hashicorp/yamux"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// yamuxBenchPair returns a yamux client and server session over loopback
// TCP, both ends tapped (into one registry) or neither.
func yamuxBenchPair(b *testing.B, tapped bool) (*hyamux.Session, *hyamux.Session) {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	ac := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		ac <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	s := <-ac
	if tapped {
		reg := live.New(live.Config{})
		warmHistory(reg)
		c, s = Wrap(c, live.Client, reg, "bench"), Wrap(s, live.Server, reg, "bench")
	}
	cli, err := hyamux.Client(c, smuxtest.YamuxConfig())
	if err != nil {
		b.Fatal(err)
	}
	srv, err := hyamux.Server(s, smuxtest.YamuxConfig())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cli.Close(); srv.Close() })
	return cli, srv
}

// yamuxServeRAND answers every stream's RAND with 8 bytes and closes it.
func yamuxServeRAND(srv *hyamux.Session) {
	for {
		st, err := srv.AcceptStream()
		if err != nil {
			return
		}
		go func() {
			defer st.Close()
			var req [4]byte
			if _, err := io.ReadFull(st, req[:]); err != nil {
				return
			}
			st.Write([]byte("\x0b\x5e\x9a\x13\x77\x02\xc1\xaa"))
		}()
	}
}

// yamuxRandChunk runs n RAND requests per chunk, one after the other.
func yamuxRandChunk(n int) func(*testing.B, bool) func() error {
	return func(b *testing.B, tapped bool) func() error {
		cli, srv := yamuxBenchPair(b, tapped)
		go yamuxServeRAND(srv)
		var answer [8]byte
		return func() error {
			for range n {
				st, err := cli.OpenStream()
				if err != nil {
					return err
				}
				if _, err := st.Write([]byte("RAND")); err != nil {
					return err
				}
				if _, err := io.ReadFull(st, answer[:]); err != nil {
					return err
				}
				st.Close()
			}
			return nil
		}
	}
}

// yamuxBulkChunk writes n 64 KiB buffers on one yamux stream per chunk and
// returns when the reader has read them all.
func yamuxBulkChunk(n int) func(*testing.B, bool) func() error {
	return func(b *testing.B, tapped bool) func() error {
		cli, srv := yamuxBenchPair(b, tapped)
		read := make(chan int64, 1)
		go func() {
			st, err := srv.AcceptStream()
			if err != nil {
				return
			}
			buf := make([]byte, 64<<10)
			var got int64
			for {
				k, err := st.Read(buf)
				got += int64(k)
				if got == int64(n)*int64(len(buf)) {
					read <- got
					got = 0
				}
				if err != nil {
					return
				}
			}
		}()
		st, err := cli.OpenStream()
		if err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 64<<10)
		return func() error {
			for range n {
				if _, err := st.Write(buf); err != nil {
					return err
				}
			}
			select {
			case <-read:
				return nil
			case <-time.After(10 * time.Second):
				return io.ErrNoProgress
			}
		}
	}
}
