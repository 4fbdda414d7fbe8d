package capture_test

import (
	"testing"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/live"
)

// TestResetNamesWho: a session whose connection a RST ended says which
// end reset it, as attach says it ("reset by the client 127.0.0.1:43926"),
// and which end had closed its side before, from the RST and the FIN the
// capture has. Before, read and sniff said only "reset". The captures are
// tcpdump's: testdata/libp2p-nosecurity.pcap of go-libp2p v0.52.0 (TCP,
// NoSecurity, yamux), whose client resets the connection as it exits; and
// testdata/joined-reset-v2-v1.pcap of the demo's --fault mismatch (real
// smux), whose client closes (FIN) and resets at the server's next NOP.
func TestResetNamesWho(t *testing.T) {
	for _, tc := range []struct {
		file string
		port uint16
		want string
	}{
		{"testdata/libp2p-nosecurity.pcap", 7400, "reset by the client 127.0.0.1:36648"},
		{"testdata/joined-reset-v2-v1.pcap", 36585, "reset by the client 127.0.0.1:50078, which had closed its side of the connection 999ms before"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			reg := readEvaluated(readPackets(t, tc.file), capture.Config{Filter: capture.Port(tc.port)}, live.FindingsConfig{})
			snap := reg.Snapshot()
			if len(snap.Sessions) != 1 {
				t.Fatalf("%d sessions, want 1", len(snap.Sessions))
			}
			if s := snap.Sessions[0]; s.Reason != live.Reset || s.Err != tc.want {
				t.Errorf("session ended %v: %q; want reset: %q", s.Reason, s.Err, tc.want)
			}
		})
	}
}
