package main

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	hyamux "github.com/hashicorp/yamux"
)

// recConn records the bytes written to a conn.
type recConn struct {
	net.Conn
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *recConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.mu.Lock()
	c.buf.Write(p[:n])
	c.mu.Unlock()
	return n, err
}

func (c *recConn) bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.buf.Bytes())
}

func quietYamux() *hyamux.Config {
	cfg := hyamux.DefaultConfig()
	cfg.EnableKeepAlive = false
	cfg.LogOutput = io.Discard
	return cfg
}

// serveYamuxOnce listens on loopback and serves the first connection to
// it as a hashicorp/yamux server (quietYamux), calling serve with the
// session and its conn; served is closed once serve returns. The listener
// closes when the test ends.
func serveYamuxOnce(t *testing.T, serve func(sess *hyamux.Session, c net.Conn)) (addr string, served <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		sess, err := hyamux.Server(c, quietYamux())
		if err != nil {
			c.Close()
			return
		}
		serve(sess, c)
	}()
	return ln.Addr().String(), done
}

// yamuxStream dials addr and opens a stream of a new hashicorp/yamux
// client session over the connection. Both close when the test ends.
func yamuxStream(t *testing.T, addr string) (*hyamux.Session, *hyamux.Stream) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	cli, err := hyamux.Client(c, quietYamux())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	st, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	return cli, st
}

// yamuxEchoServer runs an unmodified yamux server that echoes every
// stream until the client half-closes. It returns its address and the
// recorded bytes of each conn it served, once they are done.
func yamuxEchoServer(t *testing.T) (string, chan *recConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan *recConn, 4)
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			rc := &recConn{Conn: c}
			wg.Go(func() {
				defer func() { served <- rc }()
				sess, err := hyamux.Server(rc, quietYamux())
				if err != nil {
					return
				}
				defer sess.Close()
				var streams sync.WaitGroup
				defer streams.Wait()
				for {
					st, err := sess.AcceptStream()
					if err != nil {
						return
					}
					streams.Go(func() {
						defer st.Close()
						io.Copy(st, st)
					})
				}
			})
		}
	})
	return ln.Addr().String(), served
}

// TestAttachYamux runs `muxtop attach` in front of an unmodified yamux
// server and checks its JSON against the bytes both programs wrote:
// frames per direction and type, data bytes, wire bytes, pings.
func TestAttachYamux(t *testing.T) {
	upstream, served := yamuxEchoServer(t)
	addr, finish := startAttach(t, upstream)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	rc := &recConn{Conn: c}
	cli, err := hyamux.Client(rc, quietYamux())
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{4, 1000, 400_000} {
		st, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		req := bytes.Repeat([]byte{'y'}, size)
		go func() {
			st.Write(req)
			st.Close()
		}()
		resp, err := io.ReadAll(st)
		if err != nil || len(resp) != size {
			t.Fatalf("echo of %d bytes: %d, %v", size, len(resp), err)
		}
	}
	if _, err := cli.Ping(); err != nil {
		t.Fatal(err)
	}
	cli.Close()
	srv := <-served
	got0, _ := finish()

	raw := map[string][]byte{"c2s": rc.bytes(), "s2c": srv.bytes()}
	type key struct{ dir, cmd string }
	want, got := map[key]int{}, map[key]int{}
	wantData, gotData := map[string]int{}, map[string]int{}
	names := []string{"DATA", "WINDOW_UPDATE", "PING", "GO_AWAY"}
	for dir, b := range raw {
		for len(b) >= 12 {
			size := 12
			if b[1] == 0 {
				size += int(binary.BigEndian.Uint32(b[8:]))
				wantData[dir] += size - 12
			}
			want[key{dir, names[b[1]]}]++
			b = b[size:]
		}
	}
	for _, f := range got0.frames {
		if f["proto"] != "yamux" {
			t.Fatalf("frame without proto yamux: %v", f)
		}
		k := key{f["dir"].(string), f["cmd"].(string)}
		got[k]++
		if k.cmd == "DATA" {
			gotData[k.dir] += int(f["len"].(float64))
		}
	}
	if len(got) != len(want) {
		t.Errorf("frames by direction and type: %v, the wire has %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%v: %d frames in the output, %d on the wire", k, got[k], n)
		}
	}
	for dir := range raw {
		if gotData[dir] != wantData[dir] {
			t.Errorf("%s: %d DATA bytes in the output, %d on the wire", dir, gotData[dir], wantData[dir])
		}
	}
	bytesOut := got0.summary["bytes"].(map[string]any)
	for dir, b := range raw {
		if int(bytesOut[dir].(float64)) != len(b) {
			t.Errorf("summary bytes %s = %v, the wire carried %d", dir, bytesOut[dir], len(b))
		}
	}
	first := got0.frames[0]
	if first["cmd"] != "WINDOW_UPDATE" || first["flags"] != "SYN" || first["sid"].(float64) != 1 {
		t.Errorf("first frame %v, want the client's WINDOW_UPDATE SYN on stream 1", first)
	}
	for _, o := range got0.other {
		if o["type"] == "session-ended" && o["proto"] != "yamux" {
			t.Errorf("session-ended: %v", o)
		}
	}
}

// TestAttachWriteThenReadYamux runs attach with --write in front of an
// unmodified yamux echo server, sends streams of up to 400 kB and a ping
// through it, and reads the file: muxtop read must count exactly what
// attach counted, and tcpdump must read the file without complaint.
func TestAttachWriteThenReadYamux(t *testing.T) {
	file := filepath.Join(t.TempDir(), "attach.pcapng")
	upstream, served := yamuxEchoServer(t)
	addr, finish := startAttach(t, upstream, "--write", file)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := hyamux.Client(c, quietYamux())
	if err != nil {
		t.Fatal(err)
	}
	for i, size := range []int{4, 1000, 60_000, 400_000} {
		st, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		req := bytes.Repeat([]byte{byte(i)}, size)
		go func() {
			st.Write(req)
			st.Close()
		}()
		if resp, err := io.ReadAll(st); err != nil || len(resp) != size {
			t.Fatalf("echo of %d bytes: %d, %v", size, len(resp), err)
		}
	}
	if _, err := cli.Ping(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the last FINs cross
	cli.Close()
	<-served
	_, out := finish()
	want := countsOf(t, out)
	if !regexp.MustCompile(`"WINDOW_UPDATE":[1-9]`).MatchString(want) {
		t.Fatalf("attach counted no yamux frames: %s", want)
	}
	checkWritten(t, file, want)
}
