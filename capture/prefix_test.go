package capture_test

import (
	"io"
	"net"
	"strconv"
	"testing"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// connsOn returns the client's and the server's ends of a new loopback
// TCP connection to ln.
func connsOn(t *testing.T, ln net.Listener) (client, server net.Conn) {
	t.Helper()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	cc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc := <-accepted
	if sc == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { cc.Close(); sc.Close() })
	return cc, sc
}

// raftExchange records, into w, a connection to ln as Consul's raft
// makes on its server's RPC port: the type byte 0x01, then raft's own
// msgpack (an AppendEntries request, and its answer), no mux at all.
func raftExchange(t *testing.T, w *pcapout.Writer, ln net.Listener) (client string) {
	t.Helper()
	cc, sc := connsOn(t, ln)
	c := tap.Wrap(cc, live.Client, live.New(live.Config{}), "test", tap.Record(w))
	req := append([]byte{0x01, 0x00, 0x85, 0xa4}, "Term\x01\xa6Leader\xc4\x04node\xacPrevLogEntry\x07\xabPrevLogTerm\x01\xa7Entries\x90"...)
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(sc, make([]byte, len(req))); err != nil {
		t.Fatal(err)
	}
	answer := append([]byte{0xa0, 0x83, 0xa4}, "Term\x01\xa7LastLog\x07\xa7Success\xc3"...)
	if _, err := sc.Write(answer); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, len(answer))); err != nil {
		t.Fatal(err)
	}
	c.Close()
	sc.Close()
	return cc.LocalAddr().String()
}

// TestPrefixOtherProtocols: a Consul server's RPC port carries yamux
// behind its client's 0x04 and other protocols told apart by their first
// byte (raft's 0x01). The README's advice, --port 8300 --protocol yamux
// --skip 1, made each raft connection two critical PROTOCOL findings with
// wrong advice ("fix the client's address"). With --prefix 04 the yamux
// session is decoded and the raft connection skipped with a notice that
// names its first byte: no finding.
func TestPrefixOtherProtocols(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var raft string
	path := writeCapture(t, func(w *pcapout.Writer) {
		cc, sc := connsOn(t, ln)
		prefixedYamuxOn(t, w, cc, sc)
		raft = raftExchange(t, w, ln)
	})
	port := ln.Addr().(*net.TCPAddr).Port
	filter, err := capture.ParseFilter("port " + strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	ps := readPackets(t, path)

	// The old advice: the raft connection is decoded as yamux, and blamed.
	reg := readEvaluated(ps, capture.Config{Filter: filter, Protocol: tap.Yamux, Skip: 1}, live.FindingsConfig{})
	if n := protocolCount(reg); n == 0 {
		t.Fatalf("--protocol yamux --skip 1: no PROTOCOL finding; the raft connection is no longer what this test shows")
	}

	for _, proto := range []tap.Protocol{tap.Detect, tap.Yamux} {
		reg = readEvaluated(ps, capture.Config{Filter: filter, Protocol: proto, Prefix: []byte{0x04}}, live.FindingsConfig{})
		snap := reg.Snapshot()
		if len(snap.Sessions) != 1 || snap.Sessions[0].Proto != live.Yamux || snap.StreamsTotal != 1 || snap.Violations != 0 {
			t.Errorf("--prefix 04 --protocol %v: %s, want the yamux session alone", proto, counts(snap))
		}
		if n := protocolCount(reg); n != 0 {
			t.Errorf("--prefix 04 --protocol %v: %d PROTOCOL findings, want none", proto, n)
		}
		ns := notices(reg)
		want := "skipped " + raft + " → " + ln.Addr().String() + ", another protocol on the port: its client began with 01, not --prefix 04"
		if len(ns) != 1 || ns[0] != want {
			t.Errorf("--prefix 04 --protocol %v: notices %q, want %q", proto, ns, want)
		}
	}
}

// protocolCount returns how many PROTOCOL findings reg opened.
func protocolCount(reg *live.Registry) int {
	n := 0
	recs, _ := reg.Frames(live.Query{From: 1}, nil)
	for _, r := range recs {
		if r.Kind == live.FindingOpened && r.Finding.Code == live.CodeProtocol {
			n++
		}
	}
	return n
}
