package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	hyamux "github.com/hashicorp/yamux"

	"github.com/muxtop/muxtop/decoder/yamux"
)

// TestAttachWriteUnsent: a write of attach's proxy that fails leaves its
// bytes unsent, and attach's --write file must say what went over each
// wire, as attach counted it. A hand-written client opens a stream of a
// real hashicorp/yamux server and sends a DATA header past the stream's
// window: the server sends its GO_AWAY and closes. The client, once it
// has read that close, sends the frame's payload: the proxy's first
// write of it reaches the closed socket, whose RST fails the next: those
// bytes never went out (attach's notice, `unsent`). The file must not
// count them, must hold no FIN from the client, which sent none, and
// must end with the upstream's RST: muxtop read of it gives attach's
// byte counts, its TRUNCATED frame and its session end, reset by the
// upstream after its close.
func TestAttachWriteUnsent(t *testing.T) {
	upstream, served := serveYamuxOnce(t, func(sess *hyamux.Session, _ net.Conn) {
		go func() {
			for {
				st, err := sess.AcceptStream()
				if err != nil {
					return
				}
				go io.Copy(io.Discard, st)
			}
		}()
		<-sess.CloseChan() // the window exceeded: GO_AWAY, and the conn closed
	})
	file := filepath.Join(t.TempDir(), "unsent.pcapng")
	addr, finish := startAttach(t, upstream, "--write", file)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const window = yamux.InitialWindow
	syn := yamux.MakeHeader(yamux.WindowUpdate, yamux.SYN, 1, 0) // stream 1
	data := yamux.MakeHeader(yamux.Data, 0, 1, window+1)         // past the window
	c.Write(syn[:])
	c.Write(data[:])
	io.Copy(io.Discard, c) // the server's GO_AWAY and its close, passed on
	<-served
	body := make([]byte, window+1)
	c.Write(body[:2048]) // out to the closed socket, which answers with a RST
	time.Sleep(100 * time.Millisecond)
	c.Write(body[2048:]) // the proxy's write of it fails: unsent
	time.Sleep(100 * time.Millisecond)
	c.Close()
	live, out := finish()

	unsent := dirCount(live.summary, "unsent", "c2s")
	if unsent == 0 {
		t.Fatalf("attach counted no unsent bytes: the proxy's write did not fail as the test means\n%s", out)
	}
	var rout, rerr syncBuffer
	if code := run(context.Background(), []string{"read", file, "-o", "json"}, &rout, &rerr); code != 0 {
		t.Fatalf("read %s: exit %d: %s", file, code, rerr.String())
	}
	read := parseJSON(t, rout.String())
	for _, dir := range []string{"c2s", "s2c"} {
		if a, r := dirCount(live.summary, "bytes", dir), dirCount(read.summary, "bytes", dir); a != r {
			t.Errorf("bytes %s: attach %v, read of its --write file %v", dir, a, r)
		}
	}
	if r := dirCount(read.summary, "unsent", "c2s"); r != unsent {
		t.Errorf("unsent c2s: attach %v, read of its --write file %v", unsent, r)
	}
	if a, r := truncated(live), truncated(read); a == "" || a != r {
		t.Errorf("TRUNCATED: attach %q, read of its --write file %q", a, r)
	}
	le, re := ended(live), ended(read)
	if le["reason"] != "reset" || re["reason"] != "reset" {
		t.Errorf("session end: attach %v (%v), read of its --write file %v (%v); want reset both", le["reason"], le["detail"], re["reason"], re["detail"])
	}
	want := regexp.MustCompile(`^reset by the server ` + regexp.QuoteMeta(upstream) + `, which had closed its side of the connection \S+ before$`)
	if d, _ := re["detail"].(string); !want.MatchString(d) {
		t.Errorf("read of attach's --write file ends the session %q, want %s (attach: %q)", d, want, le["detail"])
	}

	msg, err := exec.Command(tcpdumpPath(t), "-nr", file).CombinedOutput()
	if err != nil {
		t.Fatalf("tcpdump -r: %v\n%s", err, msg)
	}
	cli := c.LocalAddr().(*net.TCPAddr)
	fromClient := fmt.Sprintf("%s.%d > ", cli.IP, cli.Port)
	for _, line := range strings.Split(string(msg), "\n") {
		if strings.Contains(line, fromClient) && strings.Contains(line, "Flags [F") {
			t.Errorf("tcpdump -r shows a FIN from the client, which sent none:\n%s", msg)
		}
	}
	up := netip.MustParseAddrPort(upstream)
	if !regexp.MustCompile(regexp.QuoteMeta(fmt.Sprintf("%s.%d > ", up.Addr(), up.Port())) + `.*Flags \[R`).Match(msg) {
		t.Errorf("tcpdump -r shows no RST from the upstream %s:\n%s", upstream, msg)
	}
}

// dirCount is the summary's count key of direction dir, 0 if none.
func dirCount(summary map[string]any, key, dir string) float64 {
	m, _ := summary[key].(map[string]any)
	n, _ := m[dir].(float64)
	return n
}

// truncated is the detail of the capture's TRUNCATED violation, "" if none.
func truncated(c capture) string {
	for _, m := range append(c.other, c.frames...) {
		if code, _ := m["code"].(string); code == "TRUNCATED" {
			d, _ := m["detail"].(string)
			return d
		}
	}
	return ""
}

// ended is the capture's one session-ended record.
func ended(c capture) map[string]any {
	for _, m := range c.other {
		if m["type"] == "session-ended" {
			return m
		}
	}
	return nil
}
