package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// smuxCapture records a real smux v1 session over loopback TCP, as
// --write does: the client opens streams the server echoes. It returns
// the capture's path and the server's port.
func smuxCapture(t *testing.T) (string, uint16) {
	t.Helper()
	var buf bytes.Buffer
	w, err := pcapout.New(&buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	var port uint16
	reg := live.New(live.Config{})
	wrap := func(c net.Conn) net.Conn {
		port = uint16(c.RemoteAddr().(*net.TCPAddr).Port)
		return tap.Wrap(c, live.Client, reg, "test", tap.Record(w))
	}
	cli, srv := smuxtest.Pair(t, smuxtest.Config(1), wrap, nil)
	smuxtest.EchoSmux(srv) // ends when the session closes
	for range 3 {
		st, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Write([]byte("RAND")); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 4)
		if _, err := io.ReadFull(st, got); err != nil || string(got) != "RAND" {
			t.Fatalf("the echo: %q, %v", got, err)
		}
		st.Close()
	}
	cli.Close()
	smuxtest.Eventually(t, "the session to end", func() bool { return reg.Snapshot().LiveSessions == 0 })
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "smux.pcapng")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, port
}

// TestReadToldYamuxOnSmux: read --protocol yamux --port N on a capture of
// a working smux session names muxtop's flag, not the ends: both
// directions' first headers are smux's, and one finding, a warning, says
// it for both. Before, both findings said "the two ends use different
// multiplexers" and "fix the client's (server's) address or protocol";
// then two critical findings each said both ends speak smux.
func TestReadToldYamuxOnSmux(t *testing.T) {
	path, port := smuxCapture(t)
	var stdout, stderr syncBuffer
	args := []string{"read", path, "--port", strconv.Itoa(int(port)), "--protocol", "yamux", "-o", "json"}
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	c := parseJSON(t, stdout.String())
	fs := c.summary["findings"].([]any)
	if len(fs) != 1 {
		t.Fatalf("%d findings, want one PROTOCOL warning, the client's, for both ends: %v", len(fs), fs)
	}
	for _, f := range fs {
		f := f.(map[string]any)
		text, advice := f["text"].(string), f["advice"].(string)
		if f["code"] != "PROTOCOL" || f["dir"] != "c2s" || f["severity"] != "warning" ||
			!strings.Contains(text, "both ends speak smux, and muxtop, told --protocol yamux, decoded their connection as yamux") ||
			strings.Contains(text, "different multiplexers") {
			t.Errorf("finding %v %v %v: %q", f["finding"], f["code"], f["dir"], text)
		}
		if !strings.HasPrefix(advice, "nothing is wrong with the two ends: muxtop's --protocol yamux is; drop it") || strings.Contains(advice, "address") {
			t.Errorf("finding %v advice %q", f["finding"], advice)
		}
	}
}
