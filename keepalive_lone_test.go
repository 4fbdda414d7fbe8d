package main

import (
	"bytes"
	"encoding/binary"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/pcaptest"
)

// loneCapture writes the packets of run's possibly frozen connection
// alone (none of the other session's) that keep picks to a capture file,
// whose path it returns.
func loneCapture(t *testing.T, run yamuxKeepaliveRun, name string, keep func(p pcaptest.Packet) bool) string {
	t.Helper()
	a, err := net.ResolveTCPAddr("tcp", run.client)
	if err != nil {
		t.Fatal(err)
	}
	port := uint16(a.Port)
	var ps []pcaptest.Packet
	for _, p := range run.ps {
		if (uint16(p.TCP.SrcPort) == port || uint16(p.TCP.DstPort) == port) && keep(p) {
			ps = append(ps, p)
		}
	}
	if len(ps) == 0 {
		t.Fatalf("%s: no packet kept", name)
	}
	var buf bytes.Buffer
	pcaptest.Write(t, &buf, ps)
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// serverPing returns the time of the server's last Ping SYN to run's
// client (yamux v0, type 2, flags SYN, stream 0) before until: the time
// of the packet its header begins in. The server-to-client bytes are
// walked frame by frame, as a proxy's read may hold a ping and another
// frame in one packet (ci94, -race: a ping was in no packet of its own,
// and the test found none).
func serverPing(t *testing.T, run yamuxKeepaliveRun, until time.Time) time.Time {
	t.Helper()
	a, err := net.ResolveTCPAddr("tcp", run.client)
	if err != nil {
		t.Fatal(err)
	}
	var (
		ping  time.Time
		head  []byte // the frame header being read, up to 12 bytes
		skip  uint64 // the payload bytes of the frame being read still to come
		begin time.Time
	)
	for _, p := range run.ps {
		if uint16(p.TCP.DstPort) != uint16(a.Port) {
			continue
		}
		for pl := p.TCP.Payload; len(pl) > 0; {
			if skip > 0 {
				n := min(skip, uint64(len(pl)))
				pl, skip = pl[n:], skip-n
				continue
			}
			if len(head) == 0 {
				begin = p.CI.Timestamp
			}
			n := min(12-len(head), len(pl))
			head, pl = append(head, pl[:n]...), pl[n:]
			if len(head) < 12 {
				continue
			}
			if head[1] == 0 { // DATA: its length is its payload's
				skip = uint64(binary.BigEndian.Uint32(head[8:12]))
			}
			if head[0] == 0 && head[1] == 2 && binary.BigEndian.Uint16(head[2:4])&1 != 0 && begin.Before(until) {
				ping = begin
			}
			head = head[:0]
		}
	}
	if ping.IsZero() {
		t.Fatal("no ping of the server's to the client")
	}
	return ping
}

// recordTime returns the capture time of a JSON record.
func recordTime(t *testing.T, m map[string]any) time.Time {
	t.Helper()
	s, _ := m["time"].(string)
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("record %v: its time: %v", m, err)
	}
	return at
}

// TestYamuxKeepaliveLonePing: the capture of one real hashicorp/yamux
// session whose client froze, cut to begin after the client's last byte,
// with no other connection in it to move capture time on: it holds the
// server's ping (a packet of its own, the session's only frame), the
// server's FIN 6 s later as its yamux gives up, and the client host's
// RST 3 s after that. A connection joined mid-stream used to be decided
// only on a chain of three frame headers, which a lone ping and a FIN
// never make: the session reached the registry only as the connection
// ended, and KEEPALIVE opened never (with the RST: the session had ended
// at the first evaluation that saw it) or at the capture's end (without
// it). A packet that is one whole yamux ping decides the connection, and
// the session opens at that packet's time, so KEEPALIVE opens 5 s after
// the ping, the session's end saying what happened in order. Cut before
// the RST, KEEPALIVE opens 5 s after the ping too, not at the capture's
// end. The healthy twin, cut likewise to its connection alone, begun
// just before a ping alone in its packet, is decoded from its first
// packet and opens none: its pings are answered.
func TestYamuxKeepaliveLonePing(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a frozen yamux session for 11 s")
	}
	t.Parallel() // mostly waiting, on sessions and ports of its own
	run := runYamuxKeepalive(t, true)
	if run.serverFIN.IsZero() {
		t.Fatal("no FIN of the server's")
	}
	ping := serverPing(t, run, run.serverFIN)
	if !ping.After(run.lastClient) {
		// The scenario did not arise: a loaded machine (CI's race run)
		// delayed the client's last byte past the server's last ping.
		t.Skipf("the server's last ping at %v, before the client's last byte at %v: no lone ping to test", ping, run.lastClient)
	}
	for _, tc := range []struct {
		name string
		rst  bool
	}{{"lone-rst.pcapng", true}, {"lone-fin.pcapng", false}} {
		path := loneCapture(t, run, tc.name, func(p pcaptest.Packet) bool {
			at := p.CI.Timestamp
			return at.After(run.lastClient) && (tc.rst || !at.After(run.serverFIN.Add(time.Second)))
		})
		out := readOut(t, path, "json")
		id := sessionOf(t, out, run.client)
		c := parseJSON(t, out)
		opened := keepalives(c, "finding-opened")
		if len(opened) != 1 || opened[0]["session"] != id {
			t.Errorf("%s: KEEPALIVE opened %v; want one, of session %v", tc.name, opened, id)
			continue
		}
		at := recordTime(t, opened[0])
		if at.Before(ping.Add(5*time.Second)) || at.After(ping.Add(5500*time.Millisecond)) {
			t.Errorf("%s: KEEPALIVE opened at %v, %v after the server's ping; want 5 s after it, within the evaluation step", tc.name, at.Format(time.RFC3339Nano), at.Sub(ping))
		}
		if k := opened[0]; k["dir"] != "c2s" || k["unheard"] != true {
			t.Errorf("%s: KEEPALIVE %v; want the client's, unheard", tc.name, k)
		}
		if !tc.rst {
			continue
		}
		ended := records(c, "session-ended", id)
		if len(ended) != 1 {
			t.Fatalf("%s: session-ended records %v", tc.name, ended)
		}
		if detail, _ := ended[0]["detail"].(string); ended[0]["reason"] != "reset" ||
			!pingGaveUp.MatchString(detail) {
			t.Errorf("%s: session-ended %v; want a reset after the server closed its side, its ping unanswered for about 6 s", tc.name, ended[0])
		}
	}

	healthy := runYamuxKeepalive(t, false)
	a, err := net.ResolveTCPAddr("tcp", healthy.client)
	if err != nil {
		t.Fatal(err)
	}
	port := uint16(a.Port)
	// From the connection's packet before its first ping alone in its
	// packet, either side's, after the client's first payload: the
	// capture joins with that ping among its first frames, and its answer
	// after it.
	var from, prev, first time.Time
	sent := false
	for _, p := range healthy.ps {
		tcp := p.TCP
		if uint16(tcp.SrcPort) != port && uint16(tcp.DstPort) != port {
			continue
		}
		if pl := tcp.Payload; sent && len(pl) == 12 && pl[0] == 0 && pl[1] == 2 && pl[3] == 1 {
			from = prev
			break
		}
		sent = sent || uint16(tcp.SrcPort) == port && len(tcp.Payload) > 0
		prev = p.CI.Timestamp
	}
	if from.IsZero() {
		t.Fatal("no ping alone in its packet in the healthy capture")
	}
	path := loneCapture(t, healthy, "healthy-lone.pcapng", func(p pcaptest.Packet) bool {
		if p.CI.Timestamp.After(from) && first.IsZero() {
			first = p.CI.Timestamp
		}
		return p.CI.Timestamp.After(from)
	})
	out := readOut(t, path, "json")
	id := sessionOf(t, out, healthy.client)
	c := parseJSON(t, out)
	if ks := keepalives(c, "finding-opened"); len(ks) != 0 {
		t.Errorf("pings the client answers opened KEEPALIVE: %v", ks)
	}
	for _, m := range c.other {
		if m["type"] == "session-opened" && m["session"] == id {
			if at := recordTime(t, m); !at.Equal(first) {
				t.Errorf("the healthy session opened at %v; want its first packet's time %v", at, first)
			}
		}
	}
}
