package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestNetErrorsOneClearLine checks that what a user gets wrong about an
// address (a name that does not resolve, an address of another machine,
// https:// to a plain HTTP server, a URL of another scheme) is said in
// words, not as the Go error chain of the dial or the listen.
func TestNetErrorsOneClearLine(t *testing.T) {
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer plain.Close()
	tlsURL := "https://" + plain.Listener.Addr().String() + "/cap"
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"read", "http://nonexist.invalid/x"}, 1, "muxtop: read http://nonexist.invalid/x: host nonexist.invalid does not resolve ("},
		{[]string{"read", tlsURL}, 1, "muxtop: read " + tlsURL + ": the server at " + plain.Listener.Addr().String() + " speaks plain HTTP, not TLS: use http://" + plain.Listener.Addr().String() + "/cap\n"},
		{[]string{"read", "ftp://127.0.0.1/x"}, 2, "muxtop: read ftp://127.0.0.1/x: read fetches http:// and https:// URLs only"},
		{[]string{"demo", "server", "--listen", "nonexist.invalid:0", "-o", "plain"}, 1, "muxtop: --listen: host nonexist.invalid does not resolve ("},
		{[]string{"demo", "server", "--listen", "192.0.2.1:0", "-o", "plain"}, 1, "muxtop: --listen 192.0.2.1:0: this machine has no such address"},
		{[]string{"demo", "--http", "192.0.2.1:0", "-o", "plain"}, 1, "muxtop: --http 192.0.2.1:0: this machine has no such address"},
		{[]string{"demo", "--metrics", "192.0.2.1:0", "-o", "plain"}, 1, "muxtop: --metrics 192.0.2.1:0: this machine has no such address"},
	} {
		var stdout, stderr syncBuffer
		code := run(context.Background(), tc.args, &stdout, &stderr)
		msg := stderr.String()
		if code != tc.code || !strings.HasPrefix(msg, tc.want) || strings.Count(msg, "\n") != 1 {
			t.Errorf("muxtop %q: exit %d, stderr %q; want %d and one line beginning %q", tc.args, code, msg, tc.code, tc.want)
		}
	}
}

// TestStartErrPrivilegedPort checks the line of a port below 1024 that
// needs root, which a test run as root cannot meet for real.
func TestStartErrPrivilegedPort(t *testing.T) {
	err := &net.OpError{Op: "listen", Net: "tcp", Addr: &net.TCPAddr{Port: 80}, Err: os.NewSyscallError("bind", syscall.EACCES)}
	got := startErr(err, "--metrics").Error()
	if want := "--metrics :80: a port below 1024 needs root (or CAP_NET_BIND_SERVICE): use a port above 1023"; got != want {
		t.Errorf("startErr = %q, want %q", got, want)
	}
}

// TestStartErrNoSuchAddress: an address this machine does not have is
// answered with ones it has, as the help words them: a bare :PORT is
// 127.0.0.1's, and every interface is 0.0.0.0:PORT. Before, the line
// offered "none (:PORT, every interface)":
//
//	--listen 1.2.3.4:27001: this machine has no such address: give one of its own, such as 127.0.0.1 (this machine alone) or none (:PORT, every interface)
func TestStartErrNoSuchAddress(t *testing.T) {
	var stdout, stderr syncBuffer
	code := run(context.Background(), []string{"attach", "127.0.0.1:1", "--listen", "192.0.2.1:0", "-o", "plain"}, &stdout, &stderr)
	const want = "muxtop: --listen 192.0.2.1:0: this machine has no such address: give one of its own, such as 127.0.0.1:PORT (this machine alone; a bare :PORT means it too) or 0.0.0.0:PORT (every interface)\n"
	if got := stderr.String(); code != 1 || got != want {
		t.Errorf("exit %d, stderr %q; want 1 and %q", code, got, want)
	}
}

// TestDemoClientNoService checks that demo client with nothing at its
// service's address says so, and what to do, not the dial's error chain.
func TestDemoClientNoService(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // a port just closed refuses connections
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"demo", "client", "--connect", addr, "--http", "127.0.0.1:0", "-o", "plain"}, &stdout, &stderr)
	}()
	want := "; err=demo: no service listens at " + addr + " (connection refused): start muxtop demo server there, or give muxtop demo client --connect the service's address\n"
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(stdout.String(), "redialling with backoff") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	if !strings.Contains(stdout.String(), want) {
		t.Errorf("stdout:\n%s\nwant a notice with %s", stdout.String(), want)
	}
}

// TestLookupTimeoutWords checks that a name lookup that timed out quotes
// a limit only where one applies: attach's upstream (resolveTimeout),
// not read URL's or a listen address's, where the resolver's own timeout
// is what ran out.
func TestLookupTimeoutWords(t *testing.T) {
	timeout := &net.DNSError{Err: "i/o timeout", Name: "db", IsTimeout: true}
	u, _ := url.Parse("http://db:6060/cap")
	for _, tc := range []struct{ what, got, want string }{
		{"read URL", dialFailed(u.String(), u, &url.Error{Op: "Get", URL: u.String(), Err: &net.OpError{Op: "dial", Net: "tcp", Err: timeout}}).Error(),
			"read http://db:6060/cap: host db does not resolve (no answer from the resolver)"},
		{"--listen", startErr(&net.OpError{Op: "listen", Net: "tcp", Err: timeout}, "--listen").Error(),
			"--listen: host db does not resolve (no answer from the resolver): give an IP address, such as 127.0.0.1:PORT, or a name this machine resolves"},
		{"attach's upstream", upstreamWarning("db:9000", nil, timeout, nil),
			"attach: upstream db:9000 does not resolve (no answer within 2s): every client will be closed until it does"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %q, want %q", tc.what, tc.got, tc.want)
		}
	}
}

// TestAttachMetricsOnItsListen: --metrics on attach's own --listen
// address is said as such, before anything listens. Before, a bare
//
//	muxtop: metrics: listen tcp 127.0.0.1:P: bind: address already in use (pick another with --metrics)
func TestAttachMetricsOnItsListen(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close() // a free port, for attach's --listen
	var stdout, stderr syncBuffer
	code := run(context.Background(), []string{"attach", "127.0.0.1:1", "--listen", ":" + port, "--metrics", "127.0.0.1:" + port, "-o", "plain"}, &stdout, &stderr)
	want := "muxtop: attach: --metrics 127.0.0.1:" + port + ": attach's own --listen 127.0.0.1:" + port + " is there: give --metrics another port\n"
	if got := stderr.String(); code == 0 || got != want {
		t.Errorf("exit %d, stderr %q; want an error and %q", code, got, want)
	}
}
