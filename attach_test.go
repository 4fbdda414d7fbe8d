package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/xtaci/smux"
)

var attachWhere = regexp.MustCompile(`clients connect to (127\.0\.0\.1:\d+)`)

// attachRun is `muxtop attach upstream --output json`, run in process.
type attachRun struct {
	addr           string // where clients connect
	stdout, stderr syncBuffer
	cancel         context.CancelFunc
	done           chan int // its exit code
}

// runAttach runs `muxtop attach upstream --output json`, with extra, in
// process, listening on a free port, and returns it once it listens. It
// ends when the test does, if stop did not end it before.
func runAttach(t *testing.T, upstream string, extra ...string) *attachRun {
	t.Helper()
	a := &attachRun{done: make(chan int, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	t.Cleanup(cancel) // should the test end before stop
	args := append([]string{"attach", upstream, "--listen", "127.0.0.1:0", "--output", "json"}, extra...)
	go func() { a.done <- run(ctx, args, &a.stdout, &a.stderr) }()
	smuxtest.Eventually(t, "attach's listen address on stderr", func() bool {
		if m := attachWhere.FindStringSubmatch(a.stderr.String()); m != nil {
			a.addr = m[1]
		}
		return a.addr != ""
	})
	return a
}

// stop ends the run as --duration, q or SIGTERM end it, and fails t
// unless it exits 0.
func (a *attachRun) stop(t *testing.T) {
	t.Helper()
	a.cancel()
	if code := <-a.done; code != 0 {
		t.Fatalf("attach exit %d: %s", code, a.stderr.String())
	}
}

// startAttach runs `muxtop attach upstream --output json` in process and
// returns the listen address and a function that waits for the output.
func startAttach(t *testing.T, upstream string, extra ...string) (string, func() (capture, string)) {
	t.Helper()
	a := runAttach(t, upstream, extra...)
	return a.addr, func() (capture, string) {
		// Every session the test opened has ended and been printed.
		smuxtest.Eventually(t, "every session to end in the output", func() bool {
			out := a.stdout.String()
			opened := strings.Count(out, `"type":"session-opened"`)
			return opened > 0 && strings.Count(out, `"type":"session-ended"`) == opened
		})
		a.stop(t)
		return parseJSON(t, a.stdout.String()), a.stdout.String()
	}
}

// echoServer runs an smux server that echoes every stream until the client
// half-closes, then closes. It returns its address.
func echoServer(t *testing.T, version int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	cfg := smux.DefaultConfig()
	cfg.Version = version
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			sess, err := smux.Server(c, cfg)
			if err != nil {
				c.Close()
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
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
						io.Copy(st, st)
					}()
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func TestAttachJSONCountsMatchSmux(t *testing.T) {
	for _, version := range []int{1, 2} {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			upstream := echoServer(t, version)
			addr, finish := startAttach(t, upstream)
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			cfg := smux.DefaultConfig()
			cfg.Version = version
			sess, err := smux.Client(conn, cfg)
			if err != nil {
				t.Fatal(err)
			}
			const streams = 20
			var (
				wg   sync.WaitGroup
				mu   sync.Mutex
				sent int
			)
			for i := range streams {
				wg.Add(1)
				go func() {
					defer wg.Done()
					payload := make([]byte, 1+i*10_000)
					for j := range payload {
						payload[j] = byte(rand.IntN(256))
					}
					st, err := sess.OpenStream()
					if err != nil {
						t.Error(err)
						return
					}
					defer st.Close()
					go func() {
						st.Write(payload)
					}()
					got := make([]byte, len(payload))
					if _, err := io.ReadFull(st, got); err != nil {
						t.Error(err)
						return
					}
					if sha256.Sum256(got) != sha256.Sum256(payload) {
						t.Errorf("stream %d: echoed bytes differ", st.ID())
					}
					mu.Lock()
					sent += len(payload)
					mu.Unlock()
				}()
			}
			wg.Wait()
			sess.Close()
			c, _ := finish()
			if got := c.count("c2s", "SYN"); got != streams {
				t.Errorf("SYN → = %d, want %d", got, streams)
			}
			if got := c.count("s2c", "SYN"); got != 0 {
				t.Errorf("SYN ← = %d, want 0", got)
			}
			var psh [2]int
			for _, f := range c.frames {
				if f["cmd"] == "PSH" {
					i := 0
					if f["dir"] == "s2c" {
						i = 1
					}
					psh[i] += int(f["len"].(float64))
				}
			}
			if psh[0] != sent || psh[1] != sent {
				t.Errorf("PSH payload bytes → %d ← %d, want %d each way", psh[0], psh[1], sent)
			}
			if c.summary["violations"].(float64) != 0 {
				t.Errorf("violations = %v, want 0", c.summary["violations"])
			}
			if got := c.count("c2s", "UPD") + c.count("s2c", "UPD"); (got > 0) != (version == 2) {
				t.Errorf("v%d UPD frames = %d", version, got)
			}
		})
	}
}

func TestAttachFlagsNotSmux(t *testing.T) {
	// A plain echo server: whatever is sent must come back byte for byte.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	addr, finish := startAttach(t, ln.Addr().String())
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	req := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, err := conn.Write(req); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(req))
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(conn, got); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if !bytes.Equal(got, req) {
		t.Errorf("echo = %q, want %q", got, req)
	}
	c, out := finish()
	var codes []string
	for _, o := range c.other {
		if o["type"] == "violation" {
			codes = append(codes, fmt.Sprintf("%v %v@%v %v %v", o["dir"], o["code"], o["offset"], o["not_mux"], o["smux"]))
		}
	}
	slices.Sort(codes)
	// An HTTP request each way from the first byte: no end speaks smux,
	// so no line claims smux's reaction; they are not a mux.
	if want := []string{"c2s BAD_VERSION@0 http-request <nil>", "s2c BAD_VERSION@0 http-request <nil>"}; !slices.Equal(codes, want) {
		t.Errorf("violations = %v, want %v\n%s", codes, want, out)
	}
	if c.summary["violations"].(float64) != 0 || c.summary["not_mux"].(float64) != 2 {
		t.Errorf("summary violations %v, not_mux %v; want 0 and 2", c.summary["violations"], c.summary["not_mux"])
	}
}

func TestAttachUpstreamDown(t *testing.T) {
	dead := freePort(t) // nothing listens here now
	addr, finish := startAttach(t, dead)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read from a client whose upstream is down: %v, want the proxy to close it", err)
	}
	conn.Close()
	c, out := finish()
	found := false
	for _, o := range c.other {
		if o["type"] == "notice" && strings.Contains(o["text"].(string), "refused") {
			found = true
		}
	}
	if !found {
		t.Errorf("no notice that the upstream refused:\n%s", out)
	}
}

func TestAttachAddresses(t *testing.T) {
	if got, _ := nextPort("127.0.0.1:9000"); got != "127.0.0.1:9001" {
		t.Errorf("nextPort = %q, want 127.0.0.1:9001", got)
	}
	// The default listen port taken: one line naming --listen.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, port, _ := net.SplitHostPort(busy.Addr().String())
	var p int
	fmt.Sscan(port, &p)
	var stdout, stderr syncBuffer
	code := run(context.Background(), []string{"attach", fmt.Sprintf(":%d", p-1), "-o", "plain"}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "--listen") || strings.Count(stderr.String(), "\n") != 1 {
		t.Errorf("exit %d, stderr %q: want 1 and one line pointing at --listen", code, stderr.String())
	}
}

// TestAttachPortZero: port 0 names no server to dial; attach says so in
// one line, exit status 2, with or without --listen. It said there was
// no default listen address before, as if --listen would help.
func TestAttachPortZero(t *testing.T) {
	for _, args := range [][]string{{"attach", ":0"}, {"attach", "127.0.0.1:0", "--listen", ":0"}} {
		var stdout, stderr syncBuffer
		code := run(context.Background(), append(args, "-o", "plain"), &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), "port 0 is no server's") || strings.Count(stderr.String(), "\n") != 1 {
			t.Errorf("%q: exit %d, stderr %q: want 2 and one line saying port 0 is no server's", args, code, stderr.String())
		}
	}
}

// TestAttachRefusesItself gives attach a listen address that is its
// upstream, spelled in the ways a user might. Each must be one line and
// exit status 2, before anything listens. The port is held on 127.0.0.1
// meanwhile, so that a check that let one through fails to listen (exit
// 1) rather than bind every interface or dial itself.
func TestAttachRefusesItself(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	_, port, _ := net.SplitHostPort(held.Addr().String())
	at := func(host string) string { return net.JoinHostPort(host, port) }
	cases := [][2]string{ // upstream, --listen
		{":" + port, ":" + port},
		{port, at("127.0.0.1")},
		{at("127.0.0.1"), at("0.0.0.0")},
		{at("0.0.0.0"), ":" + port},
		{":" + port, at("::")},
		{at("localhost"), ":" + port},
		{":" + port, at("localhost")},
		{at("127.0.0.7"), at("0.0.0.0")},
		{at("::1"), at("0.0.0.0")},
	}
	if ip := interfaceIP(); ip != "" {
		cases = append(cases, [2]string{at(ip), at("0.0.0.0")})
		if l, err := net.Listen("tcp", at(ip)); err == nil { // held too
			defer l.Close()
			cases = append(cases, [2]string{at(ip), at(ip)})
		}
	}
	for _, tc := range cases {
		t.Run(tc[0]+" via "+tc[1], func(t *testing.T) {
			var stdout, stderr syncBuffer
			code := run(context.Background(), []string{"attach", tc[0], "--listen", tc[1], "-o", "plain", "--duration", "1s"}, &stdout, &stderr)
			msg := stderr.String()
			if code != 2 || !strings.Contains(msg, "would connect to itself") || strings.Count(msg, "\n") != 1 {
				t.Errorf("exit %d, stderr %q: want 2 and one line saying attach would connect to itself", code, msg)
			}
		})
	}
}

// interfaceIP returns an IPv4 address of one of this machine's interfaces
// other than loopback, or "".
func interfaceIP() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return ""
}

func TestSelfUpstream(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		listen, upstream string
		loops            bool
	}{
		{"127.0.0.1:9001", "127.0.0.1:9001", true},
		{"0.0.0.0:9001", "localhost:9001", true},
		{"[::]:9001", "127.0.0.1:9001", true},
		{"localhost:9001", "127.0.0.1:9001", true},
		{"127.0.0.1:9001", "127.0.0.1:9000", false},
		{"0.0.0.0:9001", "localhost:9000", false},
		{"127.0.0.1:0", "127.0.0.1:9000", false},
		{"127.0.0.1:9001", "127.0.0.2:9001", false},
		{"127.0.0.1:9001", "nonexistent.invalid:9001", false}, // the dial will say it does not resolve
	} {
		err := selfUpstream(ctx, tc.listen, tc.upstream)
		if (err != nil) != tc.loops {
			t.Errorf("selfUpstream(%s, %s) = %v, want loops %v", tc.listen, tc.upstream, err, tc.loops)
		}
	}
}
