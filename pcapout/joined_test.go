package pcapout_test

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/decoder"
	"github.com/muxtop/muxtop/internal/pcaptest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
)

// v1Frame is an smux v1 frame: cmd on stream sid carrying payload.
func v1Frame(cmd byte, sid uint32, payload string) []byte {
	b := make([]byte, 8, 8+len(payload))
	b[0], b[1] = 1, cmd
	binary.LittleEndian.PutUint16(b[2:], uint16(len(payload)))
	binary.LittleEndian.PutUint32(b[4:], sid)
	return append(b, payload...)
}

// TestJoinedIsReadAsJoinedMidStream: a connection begun with Joined is
// written as tcpdump begun while it was open sees it: no SYN, no
// handshake, its sequence numbers at a made-up point (not those of the
// connection Conn begins beside it), its first bytes the tail of a frame.
// muxtop's reader takes it so: it skips that tail to the first frame
// boundary, counts every whole frame after it, no violation, and adopts
// the stream it never saw open as joined, where the Conn beside it opens
// with its handshake and its stream from its SYN.
func TestJoinedIsReadAsJoinedMidStream(t *testing.T) {
	var buf bytes.Buffer
	w, err := pcapout.New(&buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	j := w.Joined("127.0.0.1:40000", "127.0.0.1:9000")
	c := w.Conn("127.0.0.1:40001", "127.0.0.1:9000", at).(*pcapout.Conn)
	const tail = "-tail" // the end of a PSH the capture joined inside
	j.Write(live.ClientToServer, at, []byte(tail))
	c.Write(live.ClientToServer, at, v1Frame(0, 5, "")) // SYN of stream 5
	for i := range 4 {
		at = at.Add(time.Millisecond)
		j.Write(live.ClientToServer, at, v1Frame(2, 3, "request-"+string(rune('a'+i))))
		j.Write(live.ServerToClient, at, v1Frame(2, 3, "answer-"+string(rune('a'+i))))
		c.Write(live.ClientToServer, at, v1Frame(2, 5, "hello"))
	}
	at = at.Add(time.Millisecond)
	for _, k := range []*pcapout.Conn{j, c} {
		k.End(live.ClientToServer, at)
		k.End(live.ServerToClient, at)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	ps := pcaptest.Read(t, bytes.NewReader(buf.Bytes()))
	var first [2]uint32 // the first sequence number of the joined conn's directions
	var seen [2]bool
	for _, p := range ps {
		joined := p.TCP.SrcPort == 40000 || p.TCP.DstPort == 40000
		if !joined {
			continue
		}
		if p.TCP.SYN {
			t.Fatalf("the joined connection has a SYN: %+v", p.TCP)
		}
		d := 0
		if p.TCP.SrcPort == 9000 {
			d = 1
		}
		if !seen[d] && len(p.Payload) > 0 {
			first[d], seen[d] = p.TCP.Seq, true
		}
	}
	if !seen[0] || !seen[1] {
		t.Fatalf("the joined connection's data is missing: %v", seen)
	}
	if first[0] == first[1] || first[0] == 1 || first[1] == 1 {
		t.Errorf("the joined connection's first sequence numbers %d and %d: want made-up ones", first[0], first[1])
	}

	reg, st := pcaptest.ReadAll(t, bytes.NewReader(buf.Bytes()), capture.Config{})
	if st.Decoded != 2 {
		t.Fatalf("%d connections decoded, want both", st.Decoded)
	}
	snap := reg.SnapshotWith(live.SnapshotOptions{Streams: func(uint64) bool { return true }})
	for _, ss := range snap.Sessions {
		if len(ss.Framing) != 0 || ss.AnomalyCount != 0 {
			t.Errorf("session %s: violations %v, anomalies %v", ss.Info.Client, ss.Framing, ss.Anomalies)
		}
		psh := decoder.PSH
		switch {
		case strings.HasSuffix(ss.Info.Client, ":40000"):
			if ss.Skipped[0] != int64(len(tail)) || ss.Counts.Frames[0][psh] != 4 || ss.Counts.Frames[1][psh] != 4 {
				t.Errorf("joined: skipped %v, PSH %d and %d; want the %d bytes of the tail skipped and 4 PSH each way",
					ss.Skipped, ss.Counts.Frames[0][psh], ss.Counts.Frames[1][psh], len(tail))
			}
			if len(ss.Streams) != 1 || !ss.Streams[0].Head[0].Joined || !ss.Streams[0].Head[1].Joined {
				t.Errorf("joined: streams %+v; want stream 3, joined mid-stream", ss.Streams)
			}
		case strings.HasSuffix(ss.Info.Client, ":40001"):
			if ss.Skipped != [2]int64{} || ss.Counts.Frames[0][decoder.SYN] != 1 || ss.Counts.Frames[0][psh] != 4 {
				t.Errorf("from its handshake: skipped %v, SYN %d, PSH %d; want nothing skipped, 1 SYN, 4 PSH",
					ss.Skipped, ss.Counts.Frames[0][decoder.SYN], ss.Counts.Frames[0][psh])
			}
			if len(ss.Streams) != 1 || ss.Streams[0].Head[0].Joined {
				t.Errorf("from its handshake: streams %+v; want stream 5, seen open", ss.Streams)
			}
		default:
			t.Errorf("a session between %s and %s", ss.Info.Client, ss.Info.Server)
		}
	}
}
