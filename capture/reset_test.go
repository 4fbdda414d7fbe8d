package capture_test

import (
	"io"
	"os"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/live"
)

// TestJoinedResetEndsSession reads tcpdump's capture of one session of
// the demo's --fault mismatch (a v2 client, a v1 server), begun after the
// session opened: the client sends requests the server never answers,
// the server's first keepalive NOP makes the client close (FIN), and the
// server's next NOP is answered by the client's RST. The RST ends the
// connection, as it ends the client's session: VERSION_MISMATCH opens and
// nothing else. Before, the session lived on to the capture's end, waiting
// for the server's FIN: LEAK for the unanswered requests and KEEPALIVE for
// the server's silence after the RST, which the client's tap never opened;
// and the NOPs of the server's direction, too few to chain, were decoded
// only then.
func TestJoinedResetEndsSession(t *testing.T) {
	f, err := os.Open("testdata/joined-reset-v2-v1.pcap")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pr, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	filter, err := capture.ParseFilter("port 36585")
	if err != nil {
		t.Fatal(err)
	}
	cfg := live.FindingsConfig{LeakAfter: 2 * time.Second, UnansweredAfter: 2 * time.Second,
		StallAfter: time.Second, BlockedAfter: time.Second}
	reg := live.New(live.Config{})
	rd := capture.NewReader(capture.Config{Registry: reg, Filter: filter,
		Evaluate: func(now time.Time) { reg.Evaluate(now, cfg) }})
	var last time.Time
	for {
		data, ci, err := pr.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rd.Packet(data, ci, layers.LinkTypeEthernet)
		last = ci.Timestamp
	}
	// The capture went on 6 s past the RST, quiet on this connection.
	rd.Packet(nil, gopacket.CaptureInfo{Timestamp: last.Add(6 * time.Second)}, layers.LinkTypeEthernet)
	rd.Close()
	recs, _ := reg.Frames(live.Query{From: 1}, nil)
	var opened []string
	var ended time.Time
	for _, r := range recs {
		switch r.Kind {
		case live.FindingOpened:
			opened = append(opened, r.Finding.Code.String())
		case live.SessionEnded:
			ended = r.At
		}
	}
	if len(opened) != 1 || opened[0] != "VERSION_MISMATCH" {
		t.Errorf("opened %v, want [VERSION_MISMATCH] alone", opened)
	}
	if !ended.Equal(last) {
		t.Errorf("the session ended at %v, want the RST's time %v", ended, last)
	}
}
