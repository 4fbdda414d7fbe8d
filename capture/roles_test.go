package capture_test

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
)

// withPorts returns ps with the client's port (client) and the server's
// (server) renumbered as cport and sport, checksums fixed.
func withPorts(t *testing.T, ps []pkt, client, server, cport, sport uint16) []pkt {
	t.Helper()
	out := make([]pkt, len(ps))
	for i, p := range ps {
		tcp := *p.TCP
		for _, port := range []*layers.TCPPort{&tcp.SrcPort, &tcp.DstPort} {
			switch uint16(*port) {
			case client:
				*port = layers.TCPPort(cport)
			case server:
				*port = layers.TCPPort(sport)
			default:
				t.Fatalf("packet %d: port %d is neither the client's %d nor the server's %d", i, *port, client, server)
			}
		}
		q := reserialize(t, p, &tcp, p.Payload)
		out[i] = q
	}
	return out
}

// TestRolesFromStreamIDs reads captures that join a connection mid-stream
// with no port to tell the server: the first frame that opens a stream
// tells the client (odd stream ids, in smux and yamux alike), whichever
// end has the higher port. The port guess alone gets one of the two
// numberings wrong: every direction's counts swapped, and every SYN of
// the wrong parity.
func TestRolesFromStreamIDs(t *testing.T) {
	for _, variant := range variants {
		base := readPackets(t, fixture(variant, "base"))
		client, server := uint16(base[0].TCP.SrcPort), uint16(base[0].TCP.DstPort) // the client's SYN
		want, _ := readFile(t, fixture(variant, "midstream"), capture.Port(server))
		mid := readPackets(t, fixture(variant, "midstream"))
		for _, ports := range [][2]uint16{{61000, 1000}, {1000, 61000}} {
			t.Run(variant+"/client="+strconv.Itoa(int(ports[0])), func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "renumbered.pcapng")
				writePackets(t, path, withPorts(t, mid, client, server, ports[0], ports[1]))
				got, _ := readFile(t, path, capture.Filter{})
				if len(got.Sessions) != 1 {
					t.Fatalf("%d sessions, want 1", len(got.Sessions))
				}
				info := got.Sessions[0].Info
				if !strings.HasSuffix(info.Client, ":"+strconv.Itoa(int(ports[0]))) || !strings.HasSuffix(info.Server, ":"+strconv.Itoa(int(ports[1]))) {
					t.Errorf("client %s, server %s; want the client on port %d", info.Client, info.Server, ports[0])
				}
				if counts(got) != counts(want) || got.Anomalies != 0 {
					t.Errorf("\n got %s\nwant %s (read with the server's port)", counts(got), counts(want))
				}
			})
		}
	}
}

// TestRolesGuessed reads a connection joined mid-stream that opens no
// stream: nothing tells the roles, the end with the higher port is taken
// for the client, and the frames held meanwhile are all counted.
func TestRolesGuessed(t *testing.T) {
	for _, ports := range [][2]uint16{{40002, 9000}, {1002, 9000}} {
		path := writeCapture(t, func(w *pcapout.Writer) {
			at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			c := w.Conn("127.0.0.1:"+strconv.Itoa(int(ports[0])), "127.0.0.1:"+strconv.Itoa(int(ports[1])), at)
			for i := range 6 {
				at = at.Add(time.Second) // past orientWait
				c.Write(live.ClientToServer, at, []byte(v1("\x02", 3, "RAND")+v1("\x03", 0, "")))
				c.Write(live.ServerToClient, at, []byte(v1("\x02", 3, strings.Repeat("x", i))))
			}
			c.End(live.ClientToServer, at)
			c.End(live.ServerToClient, at)
		})
		ps := readPackets(t, path)
		writePackets(t, path, ps[3:]) // joined after the handshake, before the first byte
		s, _ := readFile(t, path, capture.Filter{})
		if len(s.Sessions) != 1 {
			t.Fatalf("ports %v: %d sessions, want 1", ports, len(s.Sessions))
		}
		hi, lo := max(ports[0], ports[1]), min(ports[0], ports[1])
		info := s.Sessions[0].Info
		if !strings.HasSuffix(info.Client, ":"+strconv.Itoa(int(hi))) || !strings.HasSuffix(info.Server, ":"+strconv.Itoa(int(lo))) {
			t.Errorf("ports %v: client %s, server %s; want the higher port the client's", ports, info.Client, info.Server)
		}
		// The same frames as read with the server's port to tell the roles,
		// which the guess swaps when the client's port is the lower.
		byPort, _ := readFile(t, path, capture.Port(ports[1]))
		switch {
		case s.Totals.Total() == 0 || s.Totals.Total() != byPort.Totals.Total():
			t.Errorf("ports %v: %d frames, %d read by port", ports, s.Totals.Total(), byPort.Totals.Total())
		case ports[0] > ports[1] && counts(s) != counts(byPort):
			t.Errorf("ports %v:\n got %s\nwant %s", ports, counts(s), counts(byPort))
		}
	}
}

// TestEndWhileProbing reads a connection picked by its port that ends
// before a whole frame came: its cut header is TRUNCATED, as a tap
// reports it, though the probe still held its bytes when it ended.
func TestEndWhileProbing(t *testing.T) {
	path := writeCapture(t, func(w *pcapout.Writer) {
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		c := w.Conn("127.0.0.1:40003", "127.0.0.1:9000", at)
		c.Write(live.ClientToServer, at, []byte(v1("\x00", 3, "")[:5]))
		c.End(live.ClientToServer, at)
		c.End(live.ServerToClient, at)
	})
	s, _ := readFile(t, path, capture.Port(9000))
	if len(s.Sessions) != 1 {
		t.Fatalf("%d sessions, want 1", len(s.Sessions))
	}
	fr := s.Sessions[0].Framing
	if len(fr) != 1 || fr[0].Code != decoder.Truncated || fr[0].Dir != live.ClientToServer {
		t.Fatalf("framing %+v; want the client's cut header TRUNCATED", fr)
	}
}

// TestRolesSettledInTime feeds, packet by packet, a connection joined
// mid-stream that opens no stream and then falls quiet, beside another
// that goes on: the quiet one's session is shown once orientWait (2 s of
// capture time) has passed, not only when the capture ends.
func TestRolesSettledInTime(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	path := writeCapture(t, func(w *pcapout.Writer) {
		quiet := w.Conn("127.0.0.1:40004", "127.0.0.1:9000", at)
		busy := w.Conn("127.0.0.1:40005", "127.0.0.1:9001", at)
		quiet.Write(live.ClientToServer, at, []byte(v1("\x02", 3, "RAND")+v1("\x03", 0, "")+v1("\x02", 3, "RAND")))
		for i := range 8 {
			busy.Write(live.ClientToServer, at.Add(time.Duration(i)*time.Second), []byte(v1("\x03", 0, "")))
		}
	})
	var ps []pkt
	for _, p := range readPackets(t, path) {
		if !p.TCP.SYN || p.TCP.DstPort != 9000 && p.TCP.SrcPort != 9000 {
			ps = append(ps, p) // the quiet connection joined after its handshake
		}
	}
	reg := live.New(live.Config{})
	rd := capture.NewReader(capture.Config{Registry: reg})
	shown := time.Time{}
	for _, p := range ps {
		rd.Packet(p.Data, p.CI, layers.LinkTypeEthernet)
		for _, ss := range reg.Snapshot().Sessions {
			if strings.HasSuffix(ss.Info.Server, ":9000") && shown.IsZero() {
				shown = p.CI.Timestamp
			}
		}
	}
	if shown.IsZero() || shown.Sub(at) < 2*time.Second || shown.Sub(at) > 4*time.Second {
		t.Errorf("the quiet connection's session shown at %v after its bytes, want 2–4 s (zero: not before the end)", shown.Sub(at))
	}
	rd.Close()
}
