package capture_test

import (
	"io"
	"net"
	"strings"
	"testing"

	hyamux "github.com/hashicorp/yamux"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/decoder/yamux"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// multistreamYamux is what go-libp2p's two ends each send before yamux
// on a transport without encryption, the security step left out:
// multistream-select's header and the muxer's protocol id, each after its
// length as a varint.
const multistreamYamux = "\x13/multistream/1.0.0\n\x0d/yamux/1.0.0\n"

// negotiatedYamux records, with pcapout as --write does, a real
// hashicorp/yamux v0.1.2 session over loopback TCP on ln behind a
// negotiation: the client sends hello, the server reads it and answers
// with its own, and both then start yamux, as libp2p does after
// multistream-select. The client opens streams streams, each a request the
// server echoes, and closes. It returns the capture's path.
func negotiatedYamux(t *testing.T, ln net.Listener, hello, answer string, streams int) string {
	t.Helper()
	return writeCapture(t, func(w *pcapout.Writer) {
		cc, sc := smuxtest.ConnsOn(t, ln)
		rec := live.New(live.Config{}) // the tap records; what it decodes is not the test's
		c := tap.Wrap(cc, live.Client, rec, "test", tap.Record(w))
		deliver(t, c, sc, []byte(hello))
		deliver(t, sc, c, []byte(answer))
		cfg := smuxtest.YamuxConfig()
		cli, err := hyamux.Client(c, cfg)
		if err != nil {
			t.Fatal(err)
		}
		srv, err := hyamux.Server(sc, cfg)
		if err != nil {
			t.Fatal(err)
		}
		done := smuxtest.EchoYamux(srv)
		for i := range streams {
			st, err := cli.OpenStream()
			if err != nil {
				t.Fatal(err)
			}
			msg := strings.Repeat(string(rune('a'+i)), 10+i)
			if _, err := io.WriteString(st, msg); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(st, make([]byte, len(msg))); err != nil {
				t.Fatal(err)
			}
			st.Close()
			if _, err := st.Read(make([]byte, 1)); err != io.EOF {
				t.Fatalf("stream %d: read after the echo: %v, want EOF", i, err)
			}
		}
		cli.Close()
		srv.Close()
		<-done
		smuxtest.Eventually(t, "the recorded session to end", func() bool { return rec.Snapshot().LiveSessions == 0 })
	})
}

// TestYamuxAfterNegotiation: a real yamux session behind a negotiation
// both ends send first, multistream-select as go-libp2p sends it without
// encryption, or bytes of no protocol muxtop names, is found after it:
// one yamux session, decoded from each direction's first chain of
// headers, its prefixes counted as unparsed bytes, its streams and frames
// all there, no finding, and a notice that says where each direction's
// yamux began and what came before it. Before, the connection was skipped
// as neither smux nor yamux (the README said a mux is found "at its
// start, or anywhere in its first bytes", which only a connection joined
// mid-stream had), and --skip passes only the client's prefix.
func TestYamuxAfterNegotiation(t *testing.T) {
	for _, tc := range []struct {
		name, hello, answer string
		notice              string
	}{
		{"multistream-select", multistreamYamux, multistreamYamux,
			"yamux after a prefix each end sent first, decoded from there: the client's begins at byte 34, after libp2p's multistream-select; the server's begins at byte 34, after libp2p's multistream-select (the prefixes count as unparsed bytes); libp2p negotiates"},
		{"unknown", "\x0cnegotiate/1\n", "\x0cnegotiate/1\n\x03ok\n",
			"yamux after a prefix each end sent first, decoded from there: the client's begins at byte 13, after bytes that begin 0c 6e 65 67 6f 74 69 61; the server's begins at byte 17, after bytes that begin 0c 6e 65 67 6f 74 69 61 (the prefixes count as unparsed bytes)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			const streams = 4
			path := negotiatedYamux(t, ln, tc.hello, tc.answer, streams)
			reg := readEvaluated(readPackets(t, path), capture.Config{}, live.FindingsConfig{})
			snap := reg.Snapshot()
			if len(snap.Sessions) != 1 {
				t.Fatalf("%d sessions, want 1; notices %q", len(snap.Sessions), notices(reg))
			}
			s := snap.Sessions[0]
			if s.Proto != live.Yamux || len(s.Framing) != 0 || s.AnomalyCount != 0 || s.Total != streams {
				t.Errorf("session %v, framing %v, %d anomalies, %d streams; want yamux, none, none, %d", s.Proto, s.Framing, s.AnomalyCount, s.Total, streams)
			}
			if want := [2]int64{int64(len(tc.hello)), int64(len(tc.answer))}; s.Unparsed != want {
				t.Errorf("unparsed %v, want the prefixes %v", s.Unparsed, want)
			}
			if n := protocolCount(reg); n != 0 {
				t.Errorf("%d PROTOCOL findings, want none", n)
			}
			// Each stream: WINDOW_UPDATE SYN, DATA, WINDOW_UPDATE FIN one
			// way; WINDOW_UPDATE ACK, DATA, FIN the other.
			if got := s.Counts.TypeFrames; got[0][yamux.Data] != streams || got[1][yamux.Data] != streams {
				t.Errorf("DATA frames %d and %d, want %d each way", got[0][yamux.Data], got[1][yamux.Data], streams)
			}
			ns := notices(reg)
			if len(ns) != 1 || !strings.Contains(ns[0], tc.notice) {
				t.Errorf("notices %q, want one with %q", ns, tc.notice)
			}
		})
	}
}

// TestLibp2pCapture reads tcpdump's capture of go-libp2p v0.52.0 (TCP,
// NoSecurity, go-yamux v5.1.0): a client that pings a server and opens 20
// echo streams, then exits, resetting the connection. Both ends send 151
// bytes of multistream-select and the plaintext handshake before yamux.
// It is one yamux session with every frame an independent walk of the
// capture's headers counts (DATA 27 and 69, WINDOW_UPDATE 45 and 45, PING
// 2 and 2), 151 bytes of prefix each way, and no finding. Before, it was
// skipped as neither smux nor yamux.
func TestLibp2pCapture(t *testing.T) {
	reg := readEvaluated(readPackets(t, "testdata/libp2p-nosecurity.pcap"), capture.Config{}, live.FindingsConfig{})
	snap := reg.Snapshot()
	if len(snap.Sessions) != 1 {
		t.Fatalf("%d sessions, want 1; notices %q", len(snap.Sessions), notices(reg))
	}
	s := snap.Sessions[0]
	want := [2][yamux.NumTypes]uint64{{27, 45, 2, 0}, {69, 45, 2, 0}}
	if s.Proto != live.Yamux || s.Counts.TypeFrames != want || len(s.Framing) != 0 || s.AnomalyCount != 0 {
		t.Errorf("%v session, frames %v, framing %v, %d anomalies; want yamux, %v, none, none", s.Proto, s.Counts.TypeFrames, s.Framing, s.AnomalyCount, want)
	}
	if s.Unparsed != [2]int64{151, 151} {
		t.Errorf("unparsed %v, want the 151-byte prefixes", s.Unparsed)
	}
	if n := protocolCount(reg); n != 0 || len(snap.Findings) != 0 {
		t.Errorf("%d PROTOCOL findings, findings %v; want none", n, snap.Findings)
	}
}

// TestPickedNegotiationOneWarning: the same sessions read with --port,
// which decodes a connection from its first byte: both ends' first bytes
// break the framing, and both are the same protocol, the one finding a
// warning that says so. For multistream-select it names it, says what
// libp2p does with it and that read finds the yamux after it without
// --port; for bytes of no protocol muxtop names, that both ends opened
// with the same bytes. Before, each direction was a critical PROTOCOL
// finding telling the user to fix that end's address or protocol, as
// go-libp2p's capture read with --port 7400 said of its two healthy ends.
func TestPickedNegotiationOneWarning(t *testing.T) {
	for _, tc := range []struct {
		name, hello, answer string
		text, advice        string
	}{
		{"multistream-select", multistreamYamux, multistreamYamux,
			"the client sent libp2p's multistream-select, not smux (BAD_VERSION at offset 0), and the server sent it too: both ends negotiate with multistream-select",
			"read and sniff find the yamux after it by themselves, without --port or a filter"},
		{"unknown", "\x0cnegotiate/1\n", "\x0cnegotiate/1\n\x03ok\n",
			"the client sent unknown bytes, not smux (BAD_VERSION at offset 0), and the server opened with the same bytes (0c 6e 65 67 6f 74 69 61): both ends speak one other protocol to each other",
			"read and sniff find it there without --port or a filter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			path := negotiatedYamux(t, ln, tc.hello, tc.answer, 2)
			reg := readEvaluated(readPackets(t, path), capture.Config{Filter: portFilter(t, ln)}, live.FindingsConfig{})
			var fs []*live.Finding
			recs, _ := reg.Frames(live.Query{From: 1}, nil)
			for _, r := range recs {
				if r.Kind == live.FindingOpened && r.Finding.Code == live.CodeProtocol {
					fs = append(fs, r.Finding)
				}
			}
			if len(fs) != 1 {
				for _, f := range fs {
					t.Logf("%v %v: %s", f.Code, f.Severity, f.Text)
				}
				t.Fatalf("%d PROTOCOL findings, want one", len(fs))
			}
			f := fs[0]
			if f.Severity != live.Warning || !strings.HasPrefix(f.Text, tc.text) || !strings.Contains(f.Advice, tc.advice) {
				t.Errorf("%v: %s — %s\nwant a warning: %s … — … %s", f.Severity, f.Text, f.Advice, tc.text, tc.advice)
			}
		})
	}
}

// TestSkipServerPrefixToo: the libp2p-like session read with --port,
// --protocol yamux and --skip 34, the length of the client's
// multistream-select: the client's yamux is decoded, and the server's
// first bytes, the same negotiation, break the framing. The server's
// finding says that both ends send a prefix, which --skip passes for the
// client alone, a warning, and that read finds the mux without --skip
// and --port. Before, it was critical, telling the user to fix the
// server's address or protocol, as go-libp2p's capture read so said.
func TestSkipServerPrefixToo(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	path := negotiatedYamux(t, ln, multistreamYamux, multistreamYamux, 2)
	cfg := capture.Config{Filter: portFilter(t, ln), Protocol: tap.Yamux, Skip: len(multistreamYamux)}
	reg := readEvaluated(readPackets(t, path), cfg, live.FindingsConfig{})
	var fs []*live.Finding
	recs, _ := reg.Frames(live.Query{From: 1}, nil)
	for _, r := range recs {
		if r.Kind == live.FindingOpened && r.Finding.Code == live.CodeProtocol {
			fs = append(fs, r.Finding)
		}
	}
	if len(fs) != 1 {
		t.Fatalf("%d PROTOCOL findings, want one, the server's", len(fs))
	}
	f := fs[0]
	text := "the server sent libp2p's multistream-select, not yamux (BAD_VERSION at offset 0), the bytes the client's prefix, skipped by --skip 34, began with: both ends send a prefix first (a negotiation), and --skip passes the client's alone"
	advice := "muxtop cannot skip the server's prefix; drop --skip, and --port or the filter: read and sniff find a mux after a prefix both ends send by themselves"
	if f.Dir != live.ServerToClient || f.Severity != live.Warning || f.Text != text || !strings.Contains(f.Advice, advice) {
		t.Errorf("%v %v: %s — %s\nwant the server's, a warning: %s — … %s", f.Dir, f.Severity, f.Text, f.Advice, text, advice)
	}
}
