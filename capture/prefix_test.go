package capture_test

import (
	"io"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// raftExchange records, into w, a connection to ln as Consul's raft
// makes on its server's RPC port: the type byte 0x01, then raft's own
// msgpack (an AppendEntries request, and its answer), no mux at all.
func raftExchange(t *testing.T, w *pcapout.Writer, ln net.Listener) (client string) {
	t.Helper()
	cc, sc := smuxtest.ConnsOn(t, ln)
	c := tap.Wrap(cc, live.Client, live.New(live.Config{}), "test", tap.Record(w))
	req := append([]byte{0x01, 0x00, 0x85, 0xa4}, "Term\x01\xa6Leader\xc4\x04node\xacPrevLogEntry\x07\xabPrevLogTerm\x01\xa7Entries\x90"...)
	deliver(t, c, sc, req)
	deliver(t, sc, c, append([]byte{0xa0, 0x83, 0xa4}, "Term\x01\xa7LastLog\x07\xa7Success\xc3"...))
	c.Close()
	sc.Close()
	return cc.LocalAddr().String()
}

// deliver writes p on from and reads it whole on to, the connection's other
// end.
func deliver(t *testing.T, from io.Writer, to io.Reader, p []byte) {
	t.Helper()
	if _, err := from.Write(p); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(to, make([]byte, len(p))); err != nil {
		t.Fatal(err)
	}
}

// portFilter returns the filter of ln's port, as --port gives it.
func portFilter(t *testing.T, ln net.Listener) capture.Filter {
	t.Helper()
	filter, err := capture.ParseFilter("port " + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	if err != nil {
		t.Fatal(err)
	}
	return filter
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
		cc, sc := smuxtest.ConnsOn(t, ln)
		yamuxOn(t, w, cc, sc, []byte{4})
		raft = raftExchange(t, w, ln)
	})
	filter := portFilter(t, ln)
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

// TestPickedHTTPBothEnds: an HTTP exchange that --port (here a filter,
// host 127.0.0.1) picks is decoded as smux: one PROTOCOL finding, a
// warning, saying both ends speak HTTP and that the filter picked a
// connection with no mux on it. Before, two critical findings blamed the
// client's address and the server's.
func TestPickedHTTPBothEnds(t *testing.T) {
	path := writeCapture(t, func(w *pcapout.Writer) { httpExchange(t, w) })
	filter, err := capture.ParseFilter("host 127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	reg := readEvaluated(readPackets(t, path), capture.Config{Filter: filter}, live.FindingsConfig{})
	var fs []*live.Finding
	recs, _ := reg.Frames(live.Query{From: 1}, nil)
	for _, r := range recs {
		if r.Kind == live.FindingOpened && r.Finding.Code == live.CodeProtocol {
			fs = append(fs, r.Finding)
		}
	}
	if len(fs) != 1 {
		snap := reg.Snapshot()
		t.Fatalf("%d PROTOCOL findings, want 1; %s %v", len(fs), counts(snap), notices(reg))
	}
	f := fs[0]
	if f.Severity != live.Warning || !strings.Contains(f.Text, "both ends speak HTTP, and the connection carries no smux") ||
		!strings.Contains(f.Advice, "muxtop's --port or filter picks connections to ") || !strings.Contains(f.Advice, "which speaks HTTP, not smux; give the smux server's port") {
		t.Errorf("%v: %s — %s", f.Severity, f.Text, f.Advice)
	}
}

// TestWrongSkipNotice: read --skip 1 of a plain yamux session, whose
// client sends no prefix: the skip cuts its first header, and the
// connection, chaining up as neither smux nor yamux, is skipped. Before,
// the notice said "the client's first bytes are 01 00 01 00 …" and to
// try --port; it says the skipped byte begins a yamux header, and to drop
// --skip.
func TestWrongSkipNotice(t *testing.T) {
	var client, server string
	path := writeCapture(t, func(w *pcapout.Writer) { client, server = plainYamux(t, w) })
	reg := readEvaluated(readPackets(t, path), capture.Config{Skip: 1}, live.FindingsConfig{})
	want := "skipped " + client + " → " + server + ", neither smux nor yamux past --skip 1: the client's first byte, skipped by --skip 1, begins a yamux header; drop --skip 1, the client sends no prefix"
	ns := notices(reg)
	if len(ns) == 1 && ns[0] == want {
		return
	}
	// Where the server's first packet holds two frames (its ACK and its
	// echo coalesced, about 1 run in 20), they chain up as yamux before
	// the client's bytes are judged, and the connection is decoded: then
	// its one PROTOCOL finding, a warning, says the same.
	recs, _ := reg.Frames(live.Query{From: 1}, nil)
	var fs []*live.Finding
	for _, r := range recs {
		if r.Kind == live.FindingOpened {
			fs = append(fs, r.Finding)
		}
	}
	if len(ns) != 0 || len(fs) != 1 || fs[0].Code != live.CodeProtocol || fs[0].Severity != live.Warning ||
		!strings.Contains(fs[0].Text, "skipped by --skip 1, begins a yamux header") || !strings.HasPrefix(fs[0].Advice, "drop --skip 1") {
		t.Errorf("notices %q, want %q; or, decoded, one PROTOCOL warning that says to drop --skip 1: %v", ns, want, fs)
	}
}
