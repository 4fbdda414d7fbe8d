package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	hyamux "github.com/hashicorp/yamux"
	pcap "github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/internal/livecaptest"
	"github.com/muxtop/muxtop/internal/pcaptest"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// joinedSession records, by pcapout as --write does, a real smux v2 (or
// hashicorp/yamux) session seen by a tap on the client, both ends
// keeping alive every 100 ms: stream A carries "FIRST-REQUEST" and its
// answer; then, at cut, it carries three more requests and answers
// ("SECOND-REQUEST-n", "SECOND-ANSWER-n"), stream B opens, asks and is
// answered and closed, and A is left open and idle for 800 ms until the
// recording stops with the session live. It returns the pcapng's
// packets, cut, the server's port and A's id.
func joinedSession(t *testing.T, yam bool) (ps []pcaptest.Packet, cut time.Time, port uint16, sid uint32) {
	t.Helper()
	var buf bytes.Buffer
	w, err := pcapout.New(&buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	reg := live.New(live.Config{})
	name, opt := "smux-v2", tap.Version(2)
	if yam {
		name, opt = "yamux", tap.WithProtocol(tap.Yamux)
	}
	m := livecaptest.RealPair(t, name, reg, livecaptest.PairConfig{
		Keepalive: 100 * time.Millisecond, GiveUp: 10 * time.Second, Tap: []tap.Option{opt, tap.Record(w)},
	})
	port = m.Port()
	cli, srv := m.Cli, m.Srv
	exchange := func(c, s net.Conn, req, ans string) {
		t.Helper()
		if _, err := c.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(s, make([]byte, len(req))); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Write([]byte(ans)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, make([]byte, len(ans))); err != nil {
			t.Fatal(err)
		}
	}
	a, sa := askedStream(t, cli, srv, "FIRST-REQUEST")
	sid = smuxtest.StreamID(a)
	if _, err := sa.Write([]byte("FIRST-ANSWER")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(a, make([]byte, len("FIRST-ANSWER"))); err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond)
	cut = time.Now()
	time.Sleep(30 * time.Millisecond)
	for i := range 3 {
		exchange(a, sa, "SECOND-REQUEST-"+strconv.Itoa(i), "SECOND-ANSWER-"+strconv.Itoa(i))
		time.Sleep(10 * time.Millisecond)
	}
	b, sb := askedStream(t, cli, srv, "B-REQUEST")
	if _, err := sb.Write([]byte("B-ANSWER")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(b, make([]byte, len("B-ANSWER"))); err != nil {
		t.Fatal(err)
	}
	b.Close()
	sb.Close()
	time.Sleep(800 * time.Millisecond) // A idle past --leak-after, keepalives going
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return pcaptest.Read(t, &buf), cut, port, sid
}

// askedStream opens a stream on cli and writes req on it, and accepts
// it on srv and reads req there: the two ends of a stream asked req.
func askedStream(t *testing.T, cli, srv smuxtest.Session, req string) (c, s net.Conn) {
	t.Helper()
	c, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	if s, err = srv.AcceptStream(); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(s, make([]byte, len(req))); err != nil {
		t.Fatal(err)
	}
	return c, s
}

// TestReadJoinedFirstBytesReal: a real smux v2 and yamux session whose
// capture begins after stream A's first request and answer
// (joinedSession, its packets before the cut left out). Read, stream A
// is adopted mid-stream: its first bytes are the first the capture saw,
// "SECOND-REQUEST-0" and "SECOND-ANSWER-0", marked joined in the
// snapshot, in the JSON LEAK's "first" ("joined":true) and in the plain
// line ("(joined mid-stream)", a … before each direction); stream B,
// whose SYN the capture saw, shows its own first bytes unmarked.
func TestReadJoinedFirstBytesReal(t *testing.T) {
	t.Parallel() // sessions, ports and processes of its own, mostly waiting
	for _, yam := range []bool{false, true} {
		name := "smux"
		if yam {
			name = "yamux"
		}
		t.Run(name, func(t *testing.T) {
			all, cut, port, sid := joinedSession(t, yam)
			var ps []pcaptest.Packet
			for _, p := range all {
				if !p.CI.Timestamp.Before(cut) {
					ps = append(ps, p)
				}
			}
			if len(ps) == len(all) || len(ps) == 0 {
				t.Fatalf("%d packets of %d after the cut: nothing cut", len(ps), len(all))
			}
			var buf bytes.Buffer
			pcaptest.Write(t, &buf, ps)
			path := filepath.Join(t.TempDir(), "joined.pcapng")
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}

			// The capture package and the engine.
			reg, _ := pcaptest.ReadAll(t, bytes.NewReader(buf.Bytes()), pcap.Config{Filter: pcap.Port(port)})
			snap := reg.SnapshotWith(live.SnapshotOptions{Streams: func(uint64) bool { return true }})
			if len(snap.Sessions) != 1 || len(snap.Sessions[0].Streams) != 2 {
				t.Fatalf("%d sessions (%v); want 1 with streams A and B", len(snap.Sessions), snap.Sessions)
			}
			sa, sb := snap.Sessions[0].Streams[0], snap.Sessions[0].Streams[1]
			c2s, s2c := sa.Head[live.ClientToServer], sa.Head[live.ServerToClient]
			if !c2s.Joined || !s2c.Joined || !strings.HasPrefix(string(c2s.Bytes()), "SECOND-REQUEST-0") || !strings.HasPrefix(string(s2c.Bytes()), "SECOND-ANSWER-0") {
				t.Errorf("stream A's first bytes %q (joined %v) → %q (joined %v); want the capture's first, SECOND-…, joined",
					c2s.Bytes(), c2s.Joined, s2c.Bytes(), s2c.Joined)
			}
			if h := sb.Head; h[0].Joined || h[1].Joined || string(h[0].Bytes()) != "B-REQUEST" || string(h[1].Bytes()) != "B-ANSWER" {
				t.Errorf("stream B's first bytes %q (joined %v) → %q (joined %v); want its own, not joined", h[0].Bytes(), h[0].Joined, h[1].Bytes(), h[1].Joined)
			}

			// muxtop read, JSON and plain.
			args := []string{"read", path, "--port", strconv.Itoa(int(port)), "--leak-after", "300ms"}
			var stdout, stderr syncBuffer
			if code := run(context.Background(), append(args, "-o", "json"), &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			var leak map[string]any
			for _, r := range parseJSON(t, stdout.String()).other {
				if r["type"] == "finding-opened" && r["code"] == "LEAK" {
					leak = r
				}
			}
			if leak == nil {
				t.Fatalf("no LEAK opened for stream A:\n%s", stdout.String())
			}
			first, _ := leak["first"].(map[string]any)
			c2sHex, _ := first["c2s"].(string)
			if leak["sid"] != float64(sid) || first["joined"] != true || !strings.HasPrefix(c2sHex, fmt.Sprintf("% x", "SECOND-REQUEST-0")) {
				t.Errorf("LEAK %v: want stream A's, its first the capture's, SECOND-REQUEST-0…, joined", leak)
			}
			// Each LEAK the summary lists says its first joined. Under
			// -race the session's requests on stream A came more than
			// --leak-after apart now and then, and the LEAK opened and
			// resolved (in use again) more than once (ci93): true of the
			// capture, and each says the same first bytes.
			sum, _ := parseJSON(t, stdout.String()).summary["findings"].([]any)
			if len(sum) == 0 {
				t.Errorf("summary findings none: want the LEAK, its first joined")
			}
			for _, f := range sum {
				f, _ := f.(map[string]any)
				first, _ := f["first"].(map[string]any)
				if f["code"] != "LEAK" || first["joined"] != true {
					t.Errorf("summary findings %v: want LEAKs, each its first joined", sum)
				}
			}
			stdout, stderr = syncBuffer{}, syncBuffer{}
			if code := run(context.Background(), append(args, "-o", "plain"), &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			want := `(joined mid-stream): …"SECOND-REQUEST-0`
			if out := stdout.String(); !strings.Contains(out, want) || strings.Contains(out, "FIRST-") {
				t.Errorf("plain output lacks %q, or shows A's unseen first bytes:\n%s", want, out)
			}
		})
	}
}

// TestReadJoinedDataBeforeLonePingReal: a real hashicorp/yamux session,
// recorded at its tapped client, whose capture begins just before the
// client's request on a stream it opened before: hashicorp/yamux writes
// the Data frame's header and payload apart, then its Session.Ping, a
// lone ping packet. Read, the client's direction begins at the Data
// frame, nothing skipped: the frames before the lone ping chain up to
// it exactly. Before, the lone ping was taken as the first frame
// boundary (a keepalive ping that came right after a request, in a CI
// run of TestReadJoinedFirstBytesReal): "the capture began inside the
// connection: 28 bytes before the first frame boundary, the end of a
// frame sent before, skipped", and the request was not shown.
func TestReadJoinedDataBeforeLonePingReal(t *testing.T) {
	buf, w, cli, srv, port := lonePingPair(t, live.Client)
	a, sa := askedStream(t, smuxtest.YamuxSession(cli), smuxtest.YamuxSession(srv), "FIRST")
	time.Sleep(20 * time.Millisecond)
	cut := time.Now()
	time.Sleep(20 * time.Millisecond)
	if _, err := a.Write([]byte("SECOND-REQUEST-0")); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Ping(); err != nil { // its SYN right after the request's frame; the server's ACK
		t.Fatal(err)
	}
	if _, err := io.ReadFull(sa, make([]byte, len("SECOND-REQUEST-0"))); err != nil {
		t.Fatal(err)
	}
	if _, err := sa.Write([]byte("SECOND-ANSWER-0")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(a, make([]byte, len("SECOND-ANSWER-0"))); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	recs := readCut(t, buf, cut, port)
	var firstC2S *live.Record
	for i := range recs {
		r := &recs[i]
		if r.Kind == live.ResyncRecord && r.Dir == live.ClientToServer {
			if !strings.Contains(r.Detail, "nothing skipped") {
				t.Errorf("the client's direction: %q; want it to begin at the request's frame", r.Detail)
			}
		}
		if r.Kind == live.FrameRecord && r.Dir == live.ClientToServer && firstC2S == nil {
			firstC2S = r
		}
	}
	if firstC2S == nil || string(firstC2S.Payload) != "SECOND-REQUEST-0" {
		t.Errorf("the client's first frame read: %+v; want the Data frame of SECOND-REQUEST-0", firstC2S)
	}
}

// readCut reads back the capture in buf from cut on, as a capture begun
// then holds it, its connection on port, and returns its records.
func readCut(t *testing.T, buf *bytes.Buffer, cut time.Time, port uint16) []live.Record {
	t.Helper()
	var ps []pcaptest.Packet
	for _, p := range pcaptest.Read(t, buf) {
		if !p.CI.Timestamp.Before(cut) {
			ps = append(ps, p)
		}
	}
	var cutBuf bytes.Buffer
	pcaptest.Write(t, &cutBuf, ps)
	read, _ := pcaptest.ReadAll(t, bytes.NewReader(cutBuf.Bytes()), pcap.Config{Filter: pcap.Port(port)})
	recs, _ := read.Frames(live.Query{From: 1}, nil)
	return recs
}

// lonePingPair starts a yamux session over loopback TCP, keepalive off
// (the one ping is the test's), side's conn tapped and recorded into the
// pcapng buffer it returns, w its writer; port is the server's.
func lonePingPair(t *testing.T, side live.Side) (buf *bytes.Buffer, w *pcapout.Writer, cli, srv *hyamux.Session, port uint16) {
	t.Helper()
	buf = new(bytes.Buffer)
	w, err := pcapout.New(buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	reg := live.New(live.Config{})
	cc, sc := smuxtest.Conns(t)
	port = uint16(sc.LocalAddr().(*net.TCPAddr).Port)
	wrap := func(c net.Conn) net.Conn {
		return tap.Wrap(c, side, reg, "test", tap.WithProtocol(tap.Yamux), tap.Record(w))
	}
	if side == live.Client {
		cc = wrap(cc)
	} else {
		sc = wrap(sc)
	}
	cfg := smuxtest.YamuxConfig()
	cli, srv = smuxtest.YamuxPair(t, cc, sc, cfg, cfg)
	return buf, w, cli, srv, port
}
