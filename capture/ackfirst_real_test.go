package capture_test

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/live"
)

// ackFirst returns ps with the first segment of the other end that
// acknowledges the whole of data packet i moved to just before it,
// stamped skew earlier (or half way from the packet before, if that is
// later): as a capture merged from two interfaces whose
// clocks differ a little, or taken on a multi-queue host, shows an ACK
// before the data it acknowledges (Wireshark's "ACKed unseen segment").
// It returns false if the other end's next segment does not acknowledge
// exactly its bytes: each end's segments stay in their order, and the
// ACK does not come before other bytes it acknowledges.
func ackFirst(ps []pkt, i int, skew time.Duration) ([]pkt, bool) {
	p := ps[i]
	end := p.TCP.Seq + uint32(len(p.Payload))
	for j := i + 1; j < len(ps); j++ {
		q := ps[j]
		if q.TCP.SrcPort != p.TCP.DstPort {
			continue
		}
		if !q.TCP.ACK || q.TCP.Ack != end {
			return nil, false // it does not acknowledge the packet, or bytes sent after it too
		}
		q.CI.Timestamp = p.CI.Timestamp.Add(-skew)
		if i > 0 && !q.CI.Timestamp.After(ps[i-1].CI.Timestamp) {
			// in the file's time order, just before the data
			q.CI.Timestamp = ps[i-1].CI.Timestamp.Add(p.CI.Timestamp.Sub(ps[i-1].CI.Timestamp) / 2)
		}
		out := append([]pkt(nil), ps[:i]...)
		out = append(out, q, p)
		out = append(out, ps[i+1:j]...)
		return append(out, ps[j+1:]...), true
	}
	return nil, false
}

// TestAckBeforeItsData: real smux v2 and yamux sessions' captures with
// an ACK moved before the data it acknowledges, each data segment's in
// turn, and with the server's clock 200 µs behind the client's (the two
// halves of an asymmetric route merged by time). The capture
// holds every byte: nothing is lost, the counts are whole and the frames
// those of the capture as it was. The reader took such an ACK for proof
// that the capture lost the bytes, counted them lost and threw them away
// when they came: INCOMPLETE, lost bytes, streams left open (muxtop read
// of a 600-stream smux v2 capture with one ACK 40 µs early: "capture lost
// 8 bytes", a stream's FIN, "600 opened, 599 closed").
func TestAckBeforeItsData(t *testing.T) {
	eachWatched(t, func(t *testing.T, yam bool, hs int64, tapped []pkt, placedPs []placed, frames [2][]wholeFrame) {
		// As tcpdump captured it: a tap's capture says its ACKs are
		// exact, so that one behind the bytes shows a failed write.
		ps := append([]pkt(nil), tapped...)
		for i := range ps {
			ps[i].CI.AncillaryData = nil
		}
		whole := readEvaluated(ps, capture.Config{}, live.FindingsConfig{}).Snapshot()
		if len(whole.Sessions) != 1 || whole.Incomplete != 0 {
			t.Fatalf("the capture as it was: %s", counts(whole))
		}
		check := func(what string, ps []pkt) {
			t.Helper()
			s := readEvaluated(ps, capture.Config{}, live.FindingsConfig{}).Snapshot()
			if len(s.Sessions) != 1 {
				t.Fatalf("%s: %d sessions", what, len(s.Sessions))
			}
			ss := s.Sessions[0]
			if ss.Lost != [2]int64{} || ss.Incomplete || s.Totals != whole.Totals {
				t.Errorf("%s: lost %v, incomplete %v, counts %v; want nothing lost and the capture's %v", what, ss.Lost, ss.Incomplete, s.Totals, whole.Totals)
			}
		}
		moved := 0
		for i, p := range ps {
			if len(p.Payload) == 0 || p.TCP.SYN {
				continue
			}
			out, ok := ackFirst(ps, i, 40*time.Microsecond)
			if !ok {
				continue
			}
			moved++
			check(fmt.Sprintf("ACK of packet %d (%d bytes) 40µs before it", i, len(p.Payload)), out)
		}
		if moved == 0 {
			t.Fatalf("only %d data segments acknowledged", moved)
		}
		server := ps[0].TCP.DstPort
		for _, skew := range []time.Duration{200 * time.Microsecond} {
			out := append([]pkt(nil), ps...)
			for i := range out {
				if out[i].TCP.SrcPort == server {
					out[i].CI.Timestamp = out[i].CI.Timestamp.Add(-skew)
				}
			}
			sort.SliceStable(out, func(a, b int) bool { return out[a].CI.Timestamp.Before(out[b].CI.Timestamp) })
			check(fmt.Sprintf("the server's clock %v behind", skew), out)
		}
	})
}
