package capture_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
)

// TestSnaplenCut: a capture whose snapshot length cut its packets (tcpdump
// -s 96) loses the frames in the bytes cut off; the Reader counts the cut
// packets and says why once, in a notice naming the snapshot length and
// -s 0, rather than leaving the user with a session that shows no data
// and no reason. A whole capture gives neither.
func TestSnaplenCut(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	big := strings.Repeat("x", 4000)
	path := writeCapture(t, func(w *pcapout.Writer) {
		c := w.Conn("127.0.0.1:40007", "127.0.0.1:9000", t0)
		c.Write(live.ClientToServer, t0, []byte(v1("\x00", 3, "")+v1("\x02", 3, "BULK")))
		for i := range 4 {
			c.Write(live.ServerToClient, t0.Add(time.Duration(i+1)*time.Millisecond), []byte(v1("\x02", 3, big)))
		}
	})
	ps := readPackets(t, path)
	for _, cut := range []bool{false, true} {
		reg := live.New(live.Config{})
		rd := capture.NewReader(capture.Config{Registry: reg})
		n := 0
		for _, p := range ps {
			data, ci := p.Data, p.CI
			if cut && len(data) > 96 {
				data, ci.CaptureLength = data[:96], 96
				n++
			}
			rd.Packet(data, ci, layers.LinkTypeEthernet)
		}
		rd.Close()
		if got := rd.Stats().Cut; got != uint64(n) {
			t.Errorf("cut %v: Stats().Cut = %d, want %d", cut, got, n)
		}
		recs, _ := reg.Frames(live.Query{From: 1}, nil)
		var notices []string
		for _, r := range recs {
			if r.Kind == live.NoticeRecord {
				notices = append(notices, r.Detail)
			}
		}
		switch {
		case !cut && len(notices) != 0:
			t.Errorf("a whole capture gave notices %q", notices)
		case cut && (len(notices) != 1 || !strings.Contains(notices[0], "kept only 96 of a packet's") ||
			!strings.Contains(notices[0], "snapshot length (tcpdump -s)") || !strings.Contains(notices[0], "-s 0")):
			t.Errorf("a cut capture gave notices %q, want one naming the snapshot length and -s 0", notices)
		}
	}
}
