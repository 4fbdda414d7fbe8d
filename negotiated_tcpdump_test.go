package main

import (
	"io"
	"net"
	"strings"
	"testing"

	hyamux "github.com/hashicorp/yamux"

	"github.com/muxtop/muxtop/internal/smuxtest"
)

// negotiatedSession runs, over a connection to ln, what go-libp2p does on
// a transport without encryption: each end sends multistream-select (its
// header and the muxer's id, "/yamux/1.0.0") and reads the other's, then
// both run a real hashicorp/yamux session; the client echoes a line on
// each of three streams, then resets the connection (a close with
// SO_LINGER 0), as go-libp2p's client did as it exited. It returns the
// client's address.
func negotiatedSession(t *testing.T, ln net.Listener) string {
	t.Helper()
	const hello = "\x13/multistream/1.0.0\n\x0d/yamux/1.0.0\n"
	served := make(chan struct{})
	go func() {
		defer close(served)
		c, err := ln.Accept()
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		if _, err := io.ReadFull(c, make([]byte, len(hello))); err != nil {
			return
		}
		if _, err := io.WriteString(c, hello); err != nil {
			return
		}
		srv, err := hyamux.Server(c, smuxtest.YamuxConfig())
		if err != nil {
			return
		}
		<-smuxtest.EchoYamux(srv)
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, hello); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, len(hello))); err != nil {
		t.Fatal(err)
	}
	cli, err := hyamux.Client(c, smuxtest.YamuxConfig())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		st, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		line := strings.Repeat("x", 10+i) + "\n"
		if _, err := io.WriteString(st, line); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(st, make([]byte, len(line))); err != nil {
			t.Fatal(err)
		}
		st.Close()
	}
	c.(*net.TCPConn).SetLinger(0)
	c.Close() // the reset, under the session
	cli.Close()
	<-served
	return c.LocalAddr().String()
}

// TestTcpdumpNegotiatedYamux: tcpdump's capture of negotiatedSession.
// Read, it is one yamux session found after each end's multistream-select
// (a notice says where), with no finding, ended "reset by the client" and
// its address, as attach says it; read with --port, which decodes from
// the first byte, one PROTOCOL warning naming multistream-select. Before,
// read skipped the connection as neither smux nor yamux, said only
// "reset", and --port gave two critical PROTOCOL findings blaming the two
// healthy ends.
func TestTcpdumpNegotiatedYamux(t *testing.T) {
	bin := tcpdumpPath(t)
	var client string
	file, addr := tcpdumpOf(t, bin, "negotiated.pcap", func(ln net.Listener) { client = negotiatedSession(t, ln) })
	out := readOK(t, file, "-o", "plain")
	for _, want := range []string{
		"yamux after a prefix each end sent first, decoded from there: the client's begins at byte 34, after libp2p's multistream-select; the server's begins at byte 34",
		"#1 session ended: reset: reset by the client " + client,
		"tcp conns 1  mux 1  skipped 0",
		"findings  0 opened",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("read: no %q in:\n%s", want, out)
		}
	}
	_, port, _ := strings.Cut(addr, ":")
	out = readOK(t, file, "--port", port, "-o", "plain")
	if n := strings.Count(out, " FINDING "); n != 1 || !strings.Contains(out, "FINDING 1 PROTOCOL warning: the client sent libp2p's multistream-select, not smux (BAD_VERSION at offset 0), and the server sent it too") {
		t.Errorf("read --port %s: %d findings, want one PROTOCOL warning naming multistream-select:\n%s", port, n, out)
	}
}
