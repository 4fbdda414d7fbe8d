package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/muxtop/muxtop/internal/smuxtest"
)

// hold listens on loopback and accepts every conn, and answers with
// answer (nothing, if nil) then holds it open until the test ends: a
// program stopped by SIGSTOP, whose kernel still accepts, or an ssh -L
// tunnel with nothing listening at its far end (answer closes it).
func hold(t *testing.T, answer func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			if answer != nil {
				go answer(c)
			}
		}
	}()
	return ln.Addr().String()
}

// TestReadURLNoAnswer: a server that accepts and never answers is said
// after a second, as read - says a quiet pipe, and --duration then ends
// read as it ends read - with no input: one line, exit 1.
func TestReadURLNoAnswer(t *testing.T) {
	t.Parallel() // mostly waiting, on sessions and ports of its own
	url := "http://" + hold(t, nil) + "/debug/muxtop/capture"
	var stdout, stderr syncBuffer
	if code := run(context.Background(), []string{"read", url, "-o", "plain", "--duration", "2500ms"}, &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	want := "muxtop: read: waiting for " + url + " to answer: connected, no answer yet\n" +
		"muxtop: read: no capture from " + url + " in 2.5s: it never answered\n"
	if got := stderr.String(); got != want {
		t.Errorf("stderr %q, want %q", got, want)
	}
}

// TestReadURLLateAnswer: --duration counts from read's start, the wait
// for the answer included: a server that answers late and then sends
// nothing does not get a fresh --duration for the capture's header.
// Before, the wait for the first packet began anew at the answer, and
// read said "no capture … in 4s" up to 8 s after it began.
func TestReadURLLateAnswer(t *testing.T) {
	t.Parallel() // mostly waiting, on a port of its own
	const d = 4 * time.Second
	release := make(chan struct{})
	var answered atomic.Int64
	url := "http://" + hold(t, func(c net.Conn) {
		<-release
		answered.Store(time.Now().UnixNano())
		fmt.Fprint(c, "HTTP/1.1 200 OK\r\nContent-Type: application/x-pcapng\r\n\r\n")
	}) + "/debug/muxtop/capture"
	var stdout, stderr syncBuffer
	began := time.Now()
	code := make(chan int, 1)
	go func() {
		code <- run(context.Background(), []string{"read", url, "-o", "plain", "--duration", d.String()}, &stdout, &stderr)
	}()
	smuxtest.Eventually(t, "read waiting for the answer", func() bool {
		return strings.Contains(stderr.String(), "read: waiting for "+url+" to answer")
	})
	time.Sleep(time.Until(began.Add(d * 5 / 8))) // an answer late, not too late
	close(release)
	if c := <-code; c != 1 {
		t.Fatalf("exit %d, want 1: %s", c, stderr.String())
	}
	if at := answered.Load(); at != 0 {
		if took := time.Since(time.Unix(0, at)); took >= d {
			t.Errorf("read exited %v after the answer, %v after it began: --duration %v began anew at the answer", took.Round(time.Millisecond), time.Since(began).Round(time.Millisecond), d)
		}
	}
	if want := "muxtop: read: no capture from " + url + " in " + d.String(); !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr %q, want %q", stderr.String(), want)
	}
}

// TestReadURLErrorLines: the URL's password is never repeated, in a hint
// to run curl either, nor where the URL does not parse; an ssh -L
// tunnel with nothing at its far end, a self-signed certificate, a
// status with a reason of 5 000 characters and an answer of multi-byte
// characters are each one short line, cut on a character.
func TestReadURLErrorLines(t *testing.T) {
	tls := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer tls.Close()
	long := hold(t, func(c net.Conn) {
		http.ReadRequest(bufio.NewReader(c))
		fmt.Fprintf(c, "HTTP/1.1 404 %s\r\nContent-Length: 0\r\n\r\n", strings.Repeat("x", 5000))
	})
	accents := hold(t, func(c net.Conn) {
		http.ReadRequest(bufio.NewReader(c))
		body := strings.Repeat("é", 100)
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()
	for _, c := range []struct {
		url, want string
	}{
		{"http://muxtop:s3cret@" + refused + "/x", "read http://muxtop:xxxxx@" + refused + "/x: nothing listens at " + refused},
		{"http://" + hold(t, func(c net.Conn) { c.Close() }) + "/x", "closed the connection with no answer: something accepted it and nothing answered, as an ssh -L tunnel does with nothing listening at its far end"},
		{strings.Replace(tls.URL, "https://", "https://muxtop:s3cret@", 1) + "/x", "curl -k " + strings.Replace(tls.URL, "https://", "https://muxtop:xxxxx@", 1) + "/x | muxtop read -"},
		{"http://muxtop:s3cret@" + refused + "/%zz", "read http://xxxxx@" + refused + "/%zz: "},
		{"http://" + long + "/x", "the server answered 404 " + strings.Repeat("x", 76) + "…, not a capture"},
		{"http://" + accents + "/x", "beginning \"" + strings.Repeat("é", 80) + "…\""},
	} {
		var stdout, stderr syncBuffer
		run(context.Background(), []string{"read", "-o", "plain", c.url}, &stdout, &stderr)
		// Less the notice that read waits, which an answer later than
		// waitNoticeAfter brings: a loaded machine's TLS handshake took
		// more than that.
		var kept []string
		for _, l := range strings.SplitAfter(stderr.String(), "\n") {
			if !strings.HasPrefix(l, "muxtop: read: waiting for ") {
				kept = append(kept, l)
			}
		}
		out := strings.Join(kept, "")
		if strings.Count(out, "\n") != 1 || !strings.Contains(out, c.want) || strings.Contains(stderr.String(), "s3cret") || !utf8.ValidString(out) || len(out) > 600 {
			t.Errorf("read %s: stderr %q; want one line with %q", c.url, out, c.want)
		}
	}
}
