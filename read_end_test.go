package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// httpCapture serves real HTTP over loopback, records what passes, as
// --write does, and returns the capture's path and the server's port: n
// requests of curl's kind, each on a connection of its own that ends,
// recorded at the client, which reads the response to the server's FIN
// and then closes.
func httpCapture(t *testing.T, n int) (string, uint16) {
	t.Helper()
	var buf bytes.Buffer
	w, err := pcapout.New(&buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "<html>a directory listing</html>\n")
	})}
	served := make(chan struct{})
	go func() { // the server; ends when it is closed
		defer close(served)
		srv.Serve(l)
	}()
	reg := live.New(live.Config{})
	for range n {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		tc := tap.Wrap(c, live.Client, reg, "http", tap.Record(w))
		if _, err := io.WriteString(tc, "GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\nConnection: close\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := io.ReadAll(tc)
		if err != nil || !strings.HasPrefix(string(resp), "HTTP/1.1 200 OK") {
			t.Fatalf("the response: %q, %v", resp, err)
		}
		tc.Close()
	}
	srv.Close()
	<-served
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "http.pcapng")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, uint16(l.Addr().(*net.TCPAddr).Port)
}

// TestReadEndResolvesEndedSessions: read's last evaluation, at the
// capture's end, resolves the findings of sessions that ended, as the
// next evaluation does live ("the session ended"). An HTTP capture read
// as a mux, all of it within one evaluation step, left its PROTOCOL
// findings open: "6 opened, 6 open at the end (6 critical, 0 warning)"
// though every session had ended. (Both ends speak HTTP: one finding per
// session now, a warning, where there were two.)
func TestReadEndResolvesEndedSessions(t *testing.T) {
	path, port := httpCapture(t, 3)
	p := strconv.Itoa(int(port))

	var stdout, stderr syncBuffer
	if code := run(context.Background(), []string{"read", path, "--port", p, "-o", "plain"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	out := stdout.String()
	if !strings.Contains(out, "findings  3 opened, 0 open at the end (0 critical, 0 warning)") {
		t.Errorf("the summary keeps findings of ended sessions open:\n%s", out)
	}
	if n := strings.Count(out, "RESOLVED"); n != 3 {
		t.Errorf("%d RESOLVED lines, want one per finding, 3:\n%s", n, out)
	}
	if n := strings.Count(out, ": the session ended (EOF)"); n != 3 {
		t.Errorf("%d findings resolved for their session's end, want 3:\n%s", n, out)
	}

	stdout, stderr = syncBuffer{}, syncBuffer{}
	if code := run(context.Background(), []string{"read", path, "--port", p, "-o", "json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	c := parseJSON(t, stdout.String())
	open := c.summary["findings_open"].(map[string]any)
	if open["critical"] != 0.0 || open["warning"] != 0.0 {
		t.Errorf("findings_open %v, want none", open)
	}
	fs := c.summary["findings"].([]any)
	if len(fs) != 3 {
		t.Fatalf("%d findings in the summary, want 3: %v", len(fs), fs)
	}
	for _, f := range fs {
		f := f.(map[string]any)
		if f["code"] != "PROTOCOL" || f["resolved"] == nil || f["detail"] != "the session ended (EOF)" {
			t.Errorf("finding %v %v: resolved %v, detail %q; want PROTOCOL resolved as its session ended", f["finding"], f["code"], f["resolved"], f["detail"])
		}
	}
}
