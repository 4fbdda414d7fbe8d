package capture_test

import (
	"testing"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// TestJoinedStreamsHaveNoLatency reads captures that joined real sessions
// mid-stream: testdata/goplugin-joined.pcap, tcpdump's capture of
// hashicorp/go-plugin v1.8.0 over hashicorp/yamux v0.1.2 begun after the
// session and its one stream (the plugin's stdout, which carries a log
// line every 7 s) opened; and the midstream fixtures (real smux and yamux
// echo traffic, the capture begun half-way). A stream adopted from a frame
// other than its SYN has no first-reply time: its SYN went by unseen, so
// the time from it to the first reply is unknown. Before, the time from
// its adoption to its first reply was taken for it: the go-plugin capture
// read `latency first reply p50 1µs p99 1µs over 1 streams`.
func TestJoinedStreamsHaveNoLatency(t *testing.T) {
	for _, tc := range []struct {
		file, filter string
		proto        tap.Protocol
		wantAdopted  bool
	}{
		{"testdata/goplugin-joined.pcap", "port 7700", tap.Yamux, true},
		{fixture("v2", "midstream"), "", tap.Detect, true},
		{fixture("yamux", "midstream"), "", tap.Yamux, true},
	} {
		t.Run(tc.file, func(t *testing.T) {
			filter, err := capture.ParseFilter(tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			reg := readEvaluated(readPackets(t, tc.file), capture.Config{Filter: filter, Protocol: tc.proto}, live.FindingsConfig{})
			snap := reg.SnapshotWith(live.SnapshotOptions{Streams: func(uint64) bool { return true }, Latency: true})
			var adopted, replied uint64
			for _, ss := range snap.Sessions {
				for _, st := range ss.Streams {
					joined := st.Head[0].Joined || st.Head[1].Joined
					if joined {
						adopted++
						if st.FirstReply != 0 {
							t.Errorf("session %d stream %d, its SYN unseen: first reply %v, want none (unknown)", ss.ID, st.ID, st.FirstReply)
						}
					} else if st.FirstReply > 0 {
						replied++
					}
				}
			}
			if tc.wantAdopted && adopted == 0 {
				t.Fatalf("no stream adopted mid-stream: the capture does not test it")
			}
			if snap.Latency.N != replied {
				t.Errorf("latency over %d streams (p50 %v), want %d: those whose SYN the capture saw and that got a reply", snap.Latency.N, snap.Latency.P50, replied)
			}
		})
	}
}
