package tui

import (
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// Item 10: through attach, traffic that is not smux still counts: the
// session row and the header show the wire bytes, and the session says
// "not smux".
func TestItem10WireBytesOfNotSmux(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // ends when the listener closes
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { // an echo server, not smux; ends with its conn
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	reg := live.New(live.Config{})
	p := tap.NewProxy(tap.ProxyConfig{Listen: "127.0.0.1:0", Upstream: ln.Addr().String(), Registry: reg})
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	request := "GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-Pad: 0123456789\r\n", 60) + "\r\n"
	request = request[:1024]
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, len(request))); err != nil {
		t.Fatal(err)
	}
	smuxtest.Eventually(t, "1 KB each way counted", func() bool {
		ss := reg.Snapshot().Sessions
		return len(ss) == 1 && ss[0].WireBytes(live.ClientToServer) == 1024 && ss[0].WireBytes(live.ServerToClient) == 1024
	})
	m := resize(newModel(reg, Options{NoColor: true}, reg.SnapshotWith, time.UTC, 0), 80, 24)
	screen := screenOf(m)
	row := cursorRow(paneBox(screen, "Sessions"))
	if !regexp.MustCompile(`1\.0kB +1\.0kB .*not smux`).MatchString(row) {
		t.Errorf("the session row does not show 1.0kB each way and not smux: %q\n%s", row, screen)
	}
	if bar := strings.Split(screen, "\n")[1]; !strings.Contains(bar, "→1.0kB ←1.0kB") {
		t.Errorf("the counts bar does not show the wire bytes: %q", bar)
	}
}
