package tui

import (
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	hyamux "github.com/hashicorp/yamux"

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
	c := dialProxy(t, tap.ProxyConfig{Upstream: ln.Addr().String(), Registry: reg})
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
	if !regexp.MustCompile(`1\.0KiB +1\.0KiB .*not smux`).MatchString(row) {
		t.Errorf("the session row does not show 1.0KiB (1024 bytes) each way and not smux: %q\n%s", row, screen)
	}
	if bar := strings.Split(screen, "\n")[1]; !strings.Contains(bar, "→1.0KiB ←1.0KiB") {
		t.Errorf("the counts bar does not show the wire bytes: %q", bar)
	}
}

// dialProxy starts a proxy of cfg on a loopback port and dials it; the
// proxy and the connection close when the test ends.
func dialProxy(t *testing.T, cfg tap.ProxyConfig) net.Conn {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	p := tap.NewProxy(cfg)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	c, err := net.Dial("tcp", p.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestWireBytesInCountsBar: through attach's proxy told to skip a
// one-byte prefix before yamux, as Consul's RPC port sends, the counts
// bar and the session row show the bytes the two ends wrote, the prefix
// included: the wire bytes the summary and the metrics give too
// (TestWireBytesAgree in package main).
func TestWireBytesInCountsBar(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := smuxtest.YamuxConfig()
	served := make(chan uint64, 1)
	go func() { // serves one connection: its prefix, then yamux echoing each stream
		c, err := ln.Accept()
		if err != nil {
			served <- 0
			return
		}
		defer c.Close()
		cc := &smuxtest.CountingConn{Conn: c}
		defer func() { served <- cc.Out.Load() }()
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
			return
		}
		s, err := hyamux.Server(cc, cfg)
		if err != nil {
			return
		}
		defer s.Close()
		<-smuxtest.EchoYamux(s)
	}()
	reg := live.New(live.Config{})
	cc := &smuxtest.CountingConn{Conn: dialProxy(t, tap.ProxyConfig{Upstream: ln.Addr().String(), Registry: reg, Protocol: tap.Yamux, Skip: 1})}
	if _, err := cc.Write([]byte{4}); err != nil {
		t.Fatal(err)
	}
	cli, err := hyamux.Client(cc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		st, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		st.Write([]byte("0123456789"))
		st.Close()
		if got, err := io.ReadAll(st); err != nil || string(got) != "0123456789" {
			t.Fatalf("echo %q: %v", got, err)
		}
	}
	cli.Close()
	c2s, s2c := cc.Out.Load(), <-served
	smuxtest.Eventually(t, "the session to end", func() bool {
		ss := reg.Snapshot().Sessions
		return len(ss) == 1 && ss[0].Ended
	})
	if c2s >= 1000 || s2c >= 1000 {
		t.Fatalf("the ends wrote %d and %d bytes: more than the bar shows exactly", c2s, s2c)
	}
	m := resize(newModel(reg, Options{NoColor: true}, reg.SnapshotWith, time.UTC, 0), 100, 24)
	screen := screenOf(m)
	want := fmt.Sprintf("→%dB ←%dB", c2s, s2c)
	if bar := strings.Split(screen, "\n")[1]; !strings.Contains(bar, want) {
		t.Errorf("the counts bar does not show the %s the ends wrote: %q", want, bar)
	}
	row := cursorRow(paneBox(screen, "Sessions"))
	if !regexp.MustCompile(fmt.Sprintf(`\b%dB +%dB\b`, c2s, s2c)).MatchString(row) {
		t.Errorf("the session row does not show %dB and %dB: %q\n%s", c2s, s2c, row, screen)
	}
}
