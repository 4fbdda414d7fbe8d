package tap

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/xtaci/smux"
)

// upstream is a TCP server on 127.0.0.1 standing in for the proxy's
// upstream; it runs handle on every conn it accepts.
type upstream struct {
	ln net.Listener
	wg sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// startUpstream listens on 127.0.0.1:0 (or on addr) and serves every conn
// with handle, closing the conn when handle returns. Cleanup closes the
// listener and the conns and waits for the handlers.
func startUpstream(t testing.TB, addr string, handle func(net.Conn)) *upstream {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	u := &upstream{ln: ln, conns: make(map[net.Conn]struct{})}
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u.mu.Lock()
			u.conns[c] = struct{}{}
			u.mu.Unlock()
			u.wg.Add(1)
			go func() {
				defer u.wg.Done()
				defer func() {
					u.mu.Lock()
					delete(u.conns, c)
					u.mu.Unlock()
					c.Close()
				}()
				handle(c)
			}()
		}
	}()
	t.Cleanup(u.close)
	return u
}

func (u *upstream) addr() string { return u.ln.Addr().String() }

// close closes the listener and every conn, and waits for the handlers.
func (u *upstream) close() {
	u.ln.Close()
	u.mu.Lock()
	for c := range u.conns {
		c.Close()
	}
	u.mu.Unlock()
	u.wg.Wait()
}

// smuxConfig is smux's default configuration for version, without
// keepalive: its NOPs would make counts depend on timing, and its
// goroutine would crowd the 500-session test.
func smuxConfig(version int) *smux.Config {
	cfg := smux.DefaultConfig()
	cfg.Version = version
	cfg.KeepAliveDisabled = true
	return cfg
}

// serveSmux returns an upstream handler that runs an smux server on each
// conn and serveStream on each of its streams.
func serveSmux(version int, serveStream func(*smux.Stream)) func(net.Conn) {
	return func(c net.Conn) {
		sess, err := smux.Server(c, smuxConfig(version))
		if err != nil {
			return
		}
		var wg sync.WaitGroup
		defer wg.Wait()
		defer sess.Close()
		for {
			st, err := sess.AcceptStream()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer st.Close()
				serveStream(st)
			}()
		}
	}
}

// startProxy starts a proxy on 127.0.0.1:0 in front of upstream; cleanup
// closes it and waits for it.
func startProxy(t testing.TB, cfg ProxyConfig) *Proxy {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Registry == nil {
		cfg.Registry = live.New(live.Config{})
	}
	p := NewProxy(cfg)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Close()
		p.Wait()
	})
	return p
}

func dialProxy(t testing.TB, p *Proxy) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// endedSession waits until the registry's only session has ended and
// returns its picture.
func endedSession(t testing.TB, reg *live.Registry) *live.SessionSnap {
	t.Helper()
	var ss *live.SessionSnap
	smuxtest.Eventually(t, "the session to end", func() bool {
		snap := reg.Snapshot()
		if len(snap.Sessions) != 1 {
			return false
		}
		ss = snap.Sessions[0]
		return ss.Ended
	})
	return ss
}

// openStream opens a stream on cli and writes msg on it.
func openStream(t testing.TB, cli *smux.Session, msg string) *smux.Stream {
	t.Helper()
	st, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	return st
}

// pingStream opens a stream on cli, writes "ping" on it and reads the
// echo's 4 bytes.
func pingStream(t testing.TB, cli *smux.Session) *smux.Stream {
	t.Helper()
	st := openStream(t, cli, "ping")
	if _, err := io.ReadFull(st, make([]byte, 4)); err != nil {
		t.Fatal(err)
	}
	return st
}

// pshPayload returns the PSH payload bytes counted in direction d.
func pshPayload(c *live.Counts, d live.Dir) uint64 {
	return c.Bytes[d][decoder.PSH] - decoder.HeaderSize*c.Frames[d][decoder.PSH]
}

func TestProxySmux(t *testing.T) {
	for _, version := range []int{1, 2} {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			// The upstream echoes every stream and notes the digest of what it received.
			var received sync.Map // stream id → [sha256.Size]byte
			up := startUpstream(t, "", serveSmux(version, func(st *smux.Stream) {
				h := sha256.New()
				if _, err := io.Copy(io.MultiWriter(st, h), st); err != nil {
					return
				}
				received.Store(st.ID(), [sha256.Size]byte(h.Sum(nil)))
				st.CloseWrite()
			}))
			reg := live.New(live.Config{})
			p := startProxy(t, ProxyConfig{Upstream: up.addr(), Registry: reg})
			cli, err := smux.Client(dialProxy(t, p), smuxConfig(version))
			if err != nil {
				t.Fatal(err)
			}
			defer cli.Close()

			const streams = 50
			seed := [32]byte{byte(version)}
			src := mathrand.NewChaCha8(seed)
			rng := mathrand.New(src)
			sent := make(map[uint32]int, streams)
			var total uint64
			var mu sync.Mutex
			var wg sync.WaitGroup
			errc := make(chan error, streams)
			for range streams {
				data := make([]byte, 1+rng.IntN(128<<10)) // 64 KiB on average: 3.2 MB each way
				src.Read(data)
				total += uint64(len(data))
				wg.Add(1)
				go func() {
					defer wg.Done()
					errc <- echoStream(cli, data, &received, func(id uint32) {
						mu.Lock()
						sent[id] = len(data)
						mu.Unlock()
					})
				}()
			}
			wg.Wait()
			close(errc)
			for err := range errc {
				if err != nil {
					t.Error(err)
				}
			}
			if t.Failed() {
				return
			}
			cli.Close()

			ss := endedSession(t, reg)
			c := &ss.Counts
			for _, tc := range []struct {
				name      string
				got, want uint64
			}{
				{"SYN →", c.Frames[live.ClientToServer][decoder.SYN], streams},
				{"SYN ←", c.Frames[live.ServerToClient][decoder.SYN], 0},
				{"FIN →", c.Frames[live.ClientToServer][decoder.FIN], streams},
				{"FIN ←", c.Frames[live.ServerToClient][decoder.FIN], streams},
				{"NOP", c.Cmd(decoder.NOP), 0},
				{"PSH payload →", pshPayload(c, live.ClientToServer), total},
				{"PSH payload ←", pshPayload(c, live.ServerToClient), total},
				{"streams", ss.Total, streams},
			} {
				if tc.got != tc.want {
					t.Errorf("%s = %d, want %d", tc.name, tc.got, tc.want)
				}
			}
			if upd := c.Cmd(decoder.UPD); (version == 2) != (upd > 0) {
				t.Errorf("UPD frames = %d in v%d", upd, version)
			}
			for id, n := range sent {
				st := ss.Stream(id)
				if st == nil {
					t.Errorf("stream %d not tracked", id)
					continue
				}
				if st.Bytes != [2]uint64{uint64(n), uint64(n)} || st.State != live.Closed || st.Opener != live.Client {
					t.Errorf("stream %d: bytes %v state %v opener %v, want [%d %d] closed client", id, st.Bytes, st.State, st.Opener, n, n)
				}
			}
			if ss.Version != uint8(version) || len(ss.Framing) != 0 || ss.AnomalyCount != 0 || ss.Open != 0 {
				t.Errorf("version %d framing %v anomalies %d open %d, want %d none 0 0", ss.Version, ss.Framing, ss.AnomalyCount, ss.Open, version)
			}
			if ss.Reason != live.EOF || !strings.Contains(ss.Err, "client") {
				t.Errorf("ended with %v %q, want EOF, the client closed first", ss.Reason, ss.Err)
			}
			if ss.Info.Tap != live.Server || ss.Peer() != cli.LocalAddr().String() || ss.Info.Server != up.addr() || ss.Info.Label != DefaultLabel {
				t.Errorf("session info %+v", ss.Info)
			}
		})
	}
}

// echoStream sends data on a new stream of cli, half-closes it, reads the
// echo, and checks that the echo and what the upstream received (noted in
// received by stream id) both hash like data.
func echoStream(cli *smux.Session, data []byte, received *sync.Map, opened func(uint32)) error {
	st, err := cli.OpenStream()
	if err != nil {
		return err
	}
	// Both sides half-close, which closes the stream. A Close on top would
	// race smux's own cleanup and sometimes send a second FIN.
	ok := false
	defer func() {
		if !ok {
			st.Close()
		}
	}()
	opened(st.ID())
	werr := make(chan error, 1)
	go func() {
		_, err := st.Write(data)
		if err == nil {
			err = st.CloseWrite()
		}
		werr <- err
	}()
	h := sha256.New()
	n, err := io.Copy(h, st)
	if err := <-werr; err != nil {
		return fmt.Errorf("stream %d: write: %v", st.ID(), err)
	}
	if err != nil {
		return fmt.Errorf("stream %d: read: %v", st.ID(), err)
	}
	want := sha256.Sum256(data)
	if got := [sha256.Size]byte(h.Sum(nil)); got != want {
		return fmt.Errorf("stream %d: echo of %d bytes differs from the %d sent", st.ID(), n, len(data))
	}
	// The upstream notes its digest before its FIN, which we have read.
	got, found := received.Load(st.ID())
	if !found || got.([sha256.Size]byte) != want {
		return fmt.Errorf("stream %d: the upstream received other bytes than the %d sent", st.ID(), len(data))
	}
	ok = true
	return nil
}

// echo is an upstream handler that sends back what it reads, then half-closes.
func echo(c net.Conn) {
	io.Copy(c, c)
	c.(*net.TCPConn).CloseWrite()
}

func TestProxyNotSmux(t *testing.T) {
	random := make([]byte, 64<<10)
	mathrand.NewChaCha8([32]byte{7}).Read(random)
	random[0] = 0xa5 // not a version smux speaks
	syn := "\x01" + "\x00" + "\x00\x00" + "\x03\x00\x00\x00"
	http := "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"
	for _, tc := range []struct {
		name   string
		data   []byte
		code   decoder.Code
		offset int64
	}{
		{"http", []byte(http), decoder.BadVersion, 0},
		{"random", random, decoder.BadVersion, 0},
		{"http after a SYN", []byte(syn + http), decoder.BadVersion, 8},
		{"SYN with a length", []byte(syn + "\x01\x00\x05\x00\x05\x00\x00\x00" + "hello"), decoder.LengthNotZero, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := startUpstream(t, "", echo)
			reg := live.New(live.Config{})
			p := startProxy(t, ProxyConfig{Upstream: up.addr(), Registry: reg})
			c := dialProxy(t, p)
			werr := make(chan error, 1)
			go func() {
				_, err := c.Write(tc.data)
				if err == nil {
					err = c.CloseWrite()
				}
				werr <- err
			}()
			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatal(err)
			}
			if err := <-werr; err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.data) {
				t.Fatalf("echo of %d bytes differs from the %d sent", len(got), len(tc.data))
			}
			c.Close()

			ss := endedSession(t, reg)
			if len(ss.Framing) != 2 {
				t.Fatalf("framing violations %+v, want one per direction", ss.Framing)
			}
			for _, f := range ss.Framing {
				if f.Code != tc.code || f.Offset != tc.offset {
					t.Errorf("%v violation %v at %d, want %v at %d", f.Dir, f.Code, f.Offset, tc.code, tc.offset)
				}
				if want := int64(len(tc.data)) - tc.offset; ss.Unparsed[f.Dir] != want {
					t.Errorf("%v unparsed %d, want %d", f.Dir, ss.Unparsed[f.Dir], want)
				}
			}
		})
	}
}

func TestProxyUpstreamDown(t *testing.T) {
	// A port that was just closed refuses connections.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	errs := make(chan error, 10)
	reg := live.New(live.Config{})
	p := startProxy(t, ProxyConfig{Upstream: addr, Registry: reg, OnError: func(err error) { errs <- err }})

	c := dialProxy(t, p)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("client read = %d, %v; want the conn closed", n, err)
	}
	select {
	case err := <-errs:
		msg := err.Error()
		want := fmt.Sprintf("attach: upstream %s refused the connection from %s; client closed", addr, c.LocalAddr())
		if msg != want {
			t.Errorf("OnError(%q), want %q", msg, want)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("OnError's error does not wrap ECONNREFUSED: %#v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("OnError not called")
	}
	ss := endedSession(t, reg)
	if ss.Reason != live.ReadError || !strings.Contains(ss.Err, "refused") {
		t.Errorf("session ended with %v %q, want an I/O error saying refused", ss.Reason, ss.Err)
	}
	// The session's end is said after its reason ("session ended: I/O
	// error: ..."), where attach's prefix, the notice's, is noise.
	if want := fmt.Sprintf("upstream %s refused the connection from %s; client closed", addr, c.LocalAddr()); ss.Err != want {
		t.Errorf("session ended with %q, want %q", ss.Err, want)
	}

	// Once the upstream is up, the next client gets through.
	startUpstream(t, addr, echo)
	c = dialProxy(t, p)
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	c.CloseWrite()
	if got, err := io.ReadAll(c); err != nil || string(got) != "hello" {
		t.Fatalf("echo = %q, %v; want hello", got, err)
	}
	if len(errs) != 0 {
		t.Errorf("more errors: %v", <-errs)
	}
}

func TestProxyReset(t *testing.T) {
	// A few smux frames, so that the reset comes mid-stream.
	frames := "\x01\x00\x00\x00\x03\x00\x00\x00" + "\x01\x02\x05\x00\x03\x00\x00\x00" + "hello"
	for _, tc := range []struct {
		name     string
		byClient bool
	}{
		{"client resets", true},
		{"upstream resets", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan int, 1)       // bytes the upstream received
			upErr := make(chan error, 1)   // how the upstream's reads ended
			resetUp := make(chan struct{}) // tells the upstream to reset
			up := startUpstream(t, "", func(c net.Conn) {
				buf := make([]byte, 1024)
				n, err := io.ReadAtLeast(c, buf, len(frames))
				got <- n
				if err != nil {
					upErr <- err
					return
				}
				if !tc.byClient {
					<-resetUp
					c.(*net.TCPConn).SetLinger(0)
					c.Close()
					return
				}
				_, err = c.Read(buf)
				upErr <- err
			})
			reg := live.New(live.Config{})
			p := startProxy(t, ProxyConfig{Upstream: up.addr(), Registry: reg})
			c := dialProxy(t, p)
			if _, err := c.Write([]byte(frames)); err != nil {
				t.Fatal(err)
			}
			if n := <-got; n != len(frames) {
				t.Fatalf("upstream got %d bytes, want %d", n, len(frames))
			}
			var err error
			if tc.byClient {
				c.SetLinger(0)
				c.Close()
				err = <-upErr
			} else {
				close(resetUp)
				_, err = c.Read(make([]byte, 1))
			}
			if !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("the other end's read = %v, want a reset", err)
			}
			ss := endedSession(t, reg)
			who := "upstream"
			if tc.byClient {
				who = "client"
			}
			if ss.Reason != live.Reset || !strings.Contains(ss.Err, who) {
				t.Errorf("session ended with %v %q, want reset by the %s", ss.Reason, ss.Err, who)
			}
			if ss.Counts.Frames[live.ClientToServer][decoder.PSH] != 1 || len(ss.Framing) != 0 {
				t.Errorf("counts %v framing %v, want one PSH and no violation", ss.Counts.Frames, ss.Framing)
			}
		})
	}
}

func TestProxyUpstreamClosesFirst(t *testing.T) {
	up := startUpstream(t, "", func(c net.Conn) { c.Write([]byte("bye")) })
	reg := live.New(live.Config{})
	p := startProxy(t, ProxyConfig{Upstream: up.addr(), Registry: reg})
	c := dialProxy(t, p)
	if got, err := io.ReadAll(c); err != nil || string(got) != "bye" {
		t.Fatalf("read %q, %v; want bye then EOF", got, err)
	}
	c.Close()
	ss := endedSession(t, reg)
	if ss.Reason != live.EOF || !strings.Contains(ss.Err, "upstream") {
		t.Errorf("session ended with %v %q, want EOF, the upstream closed first", ss.Reason, ss.Err)
	}
}

func TestProxyHalfClose(t *testing.T) {
	heard := make(chan string, 1)
	up := startUpstream(t, "", func(c net.Conn) {
		q, err := io.ReadAll(c) // to the client's half-close
		heard <- string(q)
		if err == nil {
			c.Write([]byte("answer"))
		}
	})
	reg := live.New(live.Config{})
	p := startProxy(t, ProxyConfig{Upstream: up.addr(), Registry: reg})
	c := dialProxy(t, p)
	if _, err := c.Write([]byte("question")); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if q := <-heard; q != "question" {
		t.Fatalf("upstream heard %q, want question", q)
	}
	if got, err := io.ReadAll(c); err != nil || string(got) != "answer" {
		t.Fatalf("read %q, %v; want answer then EOF", got, err)
	}
	ss := endedSession(t, reg)
	if ss.Reason != live.EOF || !strings.Contains(ss.Err, "client") {
		t.Errorf("session ended with %v %q, want EOF, the client closed first", ss.Reason, ss.Err)
	}
}

// randServe answers a stream's "RAND" with 8 bytes.
func randServe(st *smux.Stream) {
	var cmd [4]byte
	if _, err := io.ReadFull(st, cmd[:]); err != nil {
		return
	}
	var out [8]byte
	binary.BigEndian.PutUint64(out[:], mathrand.Uint64())
	st.Write(out[:])
}

// randCall opens a stream, asks for a random number, reads it up to the
// server's FIN and closes the stream.
func randCall(cli *smux.Session) error {
	st, err := cli.OpenStream()
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.Write([]byte("RAND")); err != nil {
		return err
	}
	out, err := io.ReadAll(st)
	if err == nil && len(out) != 8 {
		err = fmt.Errorf("stream %d: got %d bytes, want 8", st.ID(), len(out))
	}
	return err
}

func TestProxyManySessions(t *testing.T) {
	const sessions, calls = 500, 2
	up := startUpstream(t, "", serveSmux(1, randServe))
	reg := live.New(live.Config{})
	// No dial timeout: 500 dials at once on a loaded machine ran past the
	// default 5 s, though the upstream's kernel had accepted each (its
	// goroutines ran too seldom to see it), and the proxy closed clients.
	p := startProxy(t, ProxyConfig{Upstream: up.addr(), Registry: reg, DialTimeout: -1,
		OnError: func(err error) { t.Log(err) }})
	addr := p.Addr().String()

	start := make(chan struct{})
	errc := make(chan error, sessions)
	var wg sync.WaitGroup
	for range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errc <- func() error {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					return err
				}
				defer c.Close()
				cli, err := smux.Client(c, smuxConfig(1))
				if err != nil {
					return err
				}
				defer cli.Close()
				for range calls {
					if err := randCall(cli); err != nil {
						return err
					}
				}
				return nil
			}()
		}()
	}
	close(start)
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatal(err)
		}
	}

	var snap *live.Snapshot
	smuxtest.Eventually(t, "every session to end", func() bool {
		snap = reg.Snapshot()
		return snap.LiveSessions == 0 && len(snap.Sessions)+int(snap.Forgotten.Sessions) == sessions
	})
	c := &snap.Totals
	const n = sessions * calls
	for _, tc := range []struct {
		name      string
		got, want uint64
	}{
		{"SYN →", c.Frames[live.ClientToServer][decoder.SYN], n},
		{"FIN →", c.Frames[live.ClientToServer][decoder.FIN], n},
		{"FIN ←", c.Frames[live.ServerToClient][decoder.FIN], n},
		{"PSH payload →", pshPayload(c, live.ClientToServer), 4 * n},
		{"PSH payload ←", pshPayload(c, live.ServerToClient), 8 * n},
		{"streams", snap.StreamsTotal, n},
		{"violations", snap.Violations, 0},
		{"anomalies", snap.Anomalies, 0},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %d, want %d", tc.name, tc.got, tc.want)
		}
	}
}

// TestProxyIdleSessionCost holds many idle sessions open and checks that
// each costs exactly two proxy goroutines and far less memory than two
// full-size copy buffers.
func TestProxyIdleSessionCost(t *testing.T) {
	const sessions = 500
	up := startUpstream(t, "", echo)
	p := startProxy(t, ProxyConfig{Upstream: up.addr()})

	heap0, stack0 := memInUse()
	conns := make([]*net.TCPConn, sessions)
	// More than the idle buffer: borrows a full-size one. Not zeros, which
	// are valid yamux frames (DATA, stream 0, length 0) since the proxy
	// detects yamux: bytes that are neither protocol, as before.
	msg := bytes.Repeat([]byte{'x'}, 3000)
	got := make([]byte, len(msg))
	for i := range conns {
		c := dialProxy(t, p)
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatal(err)
		}
		conns[i] = c
	}
	// Each session's echo came back through both copy goroutines, so they
	// all exist; the accept loop is the proxy's one more.
	if n := countStacks("tap.(*Proxy)."); n != 2*sessions+1 {
		t.Errorf("%d proxy goroutines for %d sessions, want %d", n, sessions, 2*sessions+1)
	}
	heap, stack := memInUse()
	heap, stack = (heap-heap0)/sessions, (stack-stack0)/sessions
	// The test's own conns and the upstream's are in there too.
	t.Logf("an idle session costs %d bytes of heap and %d of stacks, ends and upstream included", heap, stack)
	if heap > 24<<10 {
		t.Errorf("an idle session costs %d bytes of heap, want < 24 KiB", heap)
	}
}

// memInUse returns the bytes of live heap and of goroutine stacks.
func memInUse() (heap, stack int) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int(ms.HeapAlloc), int(ms.StackInuse)
}

// countStacks counts the goroutines whose stack mentions fn.
func countStacks(fn string) int {
	n := 0
	for _, g := range smuxtest.Stacks() {
		if strings.Contains(g, fn) {
			n++
		}
	}
	return n
}

func TestProxyShutdown(t *testing.T) {
	base := runtime.NumGoroutine()
	func() {
		up := startUpstream(t, "", serveSmux(2, func(st *smux.Stream) { io.Copy(st, st) }))
		defer up.close()
		reg := live.New(live.Config{})
		p := NewProxy(ProxyConfig{Listen: "127.0.0.1:0", Upstream: up.addr(), Registry: reg})
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		const sessions = 20
		var streams []*smux.Stream
		for range sessions {
			c, err := net.Dial("tcp", p.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			cli, err := smux.Client(c, smuxConfig(2))
			if err != nil {
				t.Fatal(err)
			}
			defer cli.Close()
			streams = append(streams, pingStream(t, cli))
		}

		if err := p.Close(); err != nil {
			t.Errorf("Close = %v", err)
		}
		waited := make(chan error, 1)
		go func() { waited <- p.Wait() }()
		select {
		case err := <-waited:
			if err != nil {
				t.Errorf("Wait = %v, want nil after Close", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Wait did not return after Close")
		}
		if err := p.Close(); err != nil {
			t.Errorf("second Close = %v", err)
		}
		for _, st := range streams {
			st.SetReadDeadline(time.Now().Add(2 * time.Second))
			if _, err := st.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("stream read after shutdown = %v, want the session gone", err)
			}
		}
		snap := reg.Snapshot()
		for _, ss := range snap.Sessions {
			if !ss.Ended || ss.Reason != live.Shutdown {
				t.Errorf("session %d: ended %v reason %v, want shutdown", ss.ID, ss.Ended, ss.Reason)
			}
		}
		if len(snap.Sessions) != sessions {
			t.Errorf("%d sessions, want %d", len(snap.Sessions), sessions)
		}
		if _, err := net.Dial("tcp", p.Addr().String()); err == nil {
			t.Error("the proxy still accepts after Close")
		}
	}()
	smuxtest.NoGoroutinesAbove(t, base)
}

func TestProxyServe(t *testing.T) {
	base := runtime.NumGoroutine()
	func() {
		up := startUpstream(t, "", echo)
		defer up.close()
		p := NewProxy(ProxyConfig{Listen: "127.0.0.1:0", Upstream: up.addr(), Registry: live.New(live.Config{})})
		ctx, cancel := context.WithCancel(context.Background())
		served := make(chan error, 1)
		go func() { served <- p.Serve(ctx) }()
		smuxtest.Eventually(t, "the proxy to listen", func() bool { return p.Addr() != nil })
		c, err := net.Dial("tcp", p.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
		cancel()
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("Serve = %v, want nil after cancel", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Serve did not return after cancel")
		}
		if n, err := c.Read(make([]byte, 1)); err == nil {
			t.Errorf("client read %d bytes after Serve returned, want the conn closed", n)
		}
	}()
	smuxtest.NoGoroutinesAbove(t, base)
}

func TestProxyListenInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p := NewProxy(ProxyConfig{Listen: ln.Addr().String(), Upstream: "127.0.0.1:1", Registry: live.New(live.Config{})})
	start := time.Now()
	err = p.Start()
	if err == nil {
		p.Close()
		t.Fatal("Start succeeded on an address in use")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Start took %v", d)
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("Start = %v, does not wrap EADDRINUSE", err)
	}
	want := "attach: cannot listen on " + ln.Addr().String() + ": address already in use"
	if err.Error() != want {
		t.Errorf("Start = %q, want %q", err, want)
	}
	if err := p.Wait(); err != nil {
		t.Errorf("Wait after a failed Start = %v", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("Close after a failed Start = %v", err)
	}
}

func TestProxyStartTwice(t *testing.T) {
	p := startProxy(t, ProxyConfig{Upstream: "127.0.0.1:1"})
	if err := p.Start(); err == nil {
		t.Error("second Start succeeded")
	}
	p.Close()
	if err := p.Start(); err == nil {
		t.Error("Start after Close succeeded")
	}
}

// freeAddr returns a 127.0.0.1 address with a port that was just free.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// notices collects what a proxy reports through OnError.
type notices struct {
	mu   sync.Mutex
	msgs []string
}

func (n *notices) add(err error) {
	n.mu.Lock()
	n.msgs = append(n.msgs, err.Error())
	n.mu.Unlock()
}

func (n *notices) all() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.msgs)
}

// sessionsSeen counts the sessions the registry ever opened: one per
// client the proxy accepted.
func sessionsSeen(reg *live.Registry) int {
	snap := reg.Snapshot()
	return len(snap.Sessions) + int(snap.Forgotten.Sessions)
}

// refused checks that the proxy closed c without forwarding anything.
func refused(t testing.TB, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("client read = %d, %v; want the conn closed", n, err)
	}
}

// TestProxyUpstreamIsItself points the upstream at the proxy's own listen
// address. Each dial lands on the proxy as a new client, which dials
// again: without a check, one client becomes thousands of conns a second
// until file descriptors run out. With it, each client is refused, the
// user hears it once, and the count of accepted conns stays small.
func TestProxyUpstreamIsItself(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	addr := freeAddr(t)
	var got notices
	reg := live.New(live.Config{})
	p := startProxy(t, ProxyConfig{Listen: addr, Upstream: addr, Registry: reg, OnError: got.add})
	const clients = 5
	for range clients {
		c := dialProxy(t, p)
		// A storm is fast: stop at the first sign of one rather than
		// wait for it to exhaust the race detector's goroutines.
		deadline := time.Now().Add(2 * time.Second)
		for sessionsSeen(reg) <= 2*clients && time.Now().Before(deadline) {
			if sessionsSeen(reg) > 0 && reg.Snapshot().LiveSessions == 0 {
				break
			}
			time.Sleep(time.Millisecond)
		}
		if n := sessionsSeen(reg); n > 2*clients {
			t.Fatalf("%d conns accepted for one client: the proxy is dialling itself", n)
		}
		refused(t, c)
	}
	smuxtest.Eventually(t, "every session to end", func() bool { return reg.Snapshot().LiveSessions == 0 })
	// Until the proxy has seen a dial reach itself, the far end of one can
	// be accepted before that dial returns, and dial once more: a link or
	// two, which may come late if its goroutine does. A storm would be
	// hundreds by now.
	time.Sleep(100 * time.Millisecond)
	n := sessionsSeen(reg)
	t.Logf("%d conns accepted for %d clients", n, clients)
	if n > 2*clients {
		var seen []string
		for _, ss := range reg.Snapshot().Sessions {
			seen = append(seen, fmt.Sprintf("%d %s→%s %v %q", ss.ID, ss.Info.Client, ss.Info.Server, ss.Reason, ss.Err))
		}
		t.Errorf("%d conns accepted for %d clients, want at most %d:\n%s", n, clients, 2*clients, strings.Join(seen, "\n"))
	}
	want := "attach: upstream " + addr + " is this proxy's own listen address; refusing to connect to myself"
	if msgs := got.all(); len(msgs) != 1 || msgs[0] != want {
		t.Errorf("OnError got %q, want once %q", msgs, want)
	}
	for _, ss := range reg.Snapshot().Sessions {
		if ss.Reason != live.LocalClose || !strings.Contains(ss.Err, "refusing to connect to myself") {
			t.Errorf("session %d ended with %v %q, want a local close saying why", ss.ID, ss.Reason, ss.Err)
		}
	}
}

// TestProxyUpstreamTurnsIntoItself has the upstream's name resolve to the
// proxy for a while, as a changed DNS record or a port forward would: the
// proxy refuses those clients without a storm and serves the next ones.
func TestProxyUpstreamTurnsIntoItself(t *testing.T) {
	smuxtest.NoGoroutinesLeft(t)
	up := startUpstream(t, "", echo)
	var got notices
	reg := live.New(live.Config{})
	p := NewProxy(ProxyConfig{Listen: "127.0.0.1:0", Upstream: up.addr(), Registry: reg, OnError: got.add})
	var (
		loop  atomic.Bool
		dials atomic.Int32
		d     net.Dialer
	)
	loop.Store(true)
	p.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		if loop.Load() {
			addr = p.Addr().String()
		}
		return d.DialContext(ctx, network, addr)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(); p.Wait() })

	const clients = 5
	for range clients {
		c := dialProxy(t, p)
		deadline := time.Now().Add(2 * time.Second)
		for dials.Load() <= 2*clients && time.Now().Before(deadline) {
			if dials.Load() > 0 && reg.Snapshot().LiveSessions == 0 {
				break
			}
			time.Sleep(time.Millisecond)
		}
		if n := dials.Load(); n > 2*clients {
			t.Fatalf("%d dials for one client: the proxy is dialling itself", n)
		}
		refused(t, c)
	}
	smuxtest.Eventually(t, "every session to end", func() bool { return reg.Snapshot().LiveSessions == 0 })
	time.Sleep(100 * time.Millisecond)
	t.Logf("%d dials for %d clients", dials.Load(), clients)
	if n := dials.Load(); n > 2*clients {
		t.Errorf("%d dials for %d clients, want at most %d", n, clients, 2*clients)
	}
	want := fmt.Sprintf("attach: upstream %s reaches this proxy's own listen address %s; refusing to connect to myself", up.addr(), p.Addr())
	if msgs := got.all(); len(msgs) != 1 || msgs[0] != want {
		t.Errorf("OnError got %q, want once %q", msgs, want)
	}

	// The upstream is itself again: the next client gets through.
	loop.Store(false)
	c := dialProxy(t, p)
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	c.CloseWrite()
	if b, err := io.ReadAll(c); err != nil || string(b) != "hello" {
		t.Fatalf("echo = %q, %v; want hello", b, err)
	}
}

func TestLoopsBack(t *testing.T) {
	var iface netip.Addr // an IPv4 address of this machine that is not loopback, if any
	mine := map[netip.Addr]bool{}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				ip, _ := netip.AddrFromSlice(n.IP)
				mine[ip.Unmap()] = true
				if !iface.IsValid() && !n.IP.IsLoopback() && n.IP.To4() != nil {
					iface = ip.Unmap()
				}
			}
		}
	}
	ap := netip.MustParseAddrPort
	for _, tc := range []struct {
		listen, dst string
		want        bool
	}{
		{"127.0.0.1:9000", "127.0.0.1:9000", true},
		{"127.0.0.1:9000", "127.0.0.1:9001", false},
		{"127.0.0.1:9000", "127.0.0.2:9000", false},
		{"0.0.0.0:9000", "127.0.0.1:9000", true},
		{"0.0.0.0:9000", "127.0.0.5:9000", true},
		{"[::]:9000", "127.0.0.1:9000", true},
		{"[::]:9000", "[::1]:9000", true},
		{"0.0.0.0:9000", "[::1]:9000", true}, // Go listens on both families
		{"127.0.0.1:9000", "0.0.0.0:9000", true},
		{"127.0.0.1:9000", "[::ffff:127.0.0.1]:9000", true},
		{"[::ffff:0.0.0.0]:9000", "127.0.0.1:9000", true},
		{"0.0.0.0:9000", "0.0.0.0:9000", true},
		{"0.0.0.0:9000", "198.51.100.77:9000", false}, // TEST-NET-2: not this machine (checked below)
		{"0.0.0.0:0", "127.0.0.1:0", false},
		{"[::1]:9000", "127.0.0.1:9000", false},
	} {
		if d := ap(tc.dst).Addr(); d.Is4() && !d.IsLoopback() && !d.IsUnspecified() && mine[d] {
			t.Fatalf("%s is an address of this machine: pick another for the test", d)
		}
		if got := LoopsBack(ap(tc.listen), ap(tc.dst)); got != tc.want {
			t.Errorf("LoopsBack(%s, %s) = %v, want %v", tc.listen, tc.dst, got, tc.want)
		}
	}
	if iface.IsValid() {
		dst := netip.AddrPortFrom(iface, 9000)
		if !LoopsBack(ap("0.0.0.0:9000"), dst) || !LoopsBack(ap("[::]:9000"), dst) || LoopsBack(ap("127.0.0.1:9000"), dst) {
			t.Errorf("LoopsBack with this machine's %s is wrong", dst)
		}
	}
}

// TestProxyCloseMeansStopAndWait pins what Close means, the same as
// demo.Demo's Close: it stops the proxy and waits for it, is safe to call
// again, and returns what Wait returns, the failure that stopped the proxy
// if one did before Close.
func TestProxyCloseMeansStopAndWait(t *testing.T) {
	up := startUpstream(t, "", echo)
	defer up.close()
	reg := live.New(live.Config{})
	p := startProxy(t, ProxyConfig{Upstream: up.addr(), Registry: reg})
	c := dialProxy(t, p)
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("Close = %v, want nil", err)
	}
	// Close waited: the client's session has ended, its goroutines are done.
	if ss := reg.Snapshot().Sessions; len(ss) != 1 || !ss[0].Ended {
		t.Errorf("after Close the session has not ended: %+v", ss)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}

	// A listener that fails for good stops the proxy; Close then says why.
	q := startProxy(t, ProxyConfig{Upstream: up.addr()})
	q.mu.Lock()
	ln := q.ln
	q.mu.Unlock()
	ln.Close()
	smuxtest.Eventually(t, "the proxy to stop", q.isClosed)
	err := q.Close()
	if err == nil || !strings.Contains(err.Error(), "accepting clients") {
		t.Errorf("Close after the listener failed = %v, want the accept failure", err)
	}
	if werr := q.Wait(); werr != err {
		t.Errorf("Wait = %v, Close = %v: want the same", werr, err)
	}
}
