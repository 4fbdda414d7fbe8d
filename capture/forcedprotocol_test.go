package capture_test

import (
	"strings"
	"testing"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// TestForcedProtocolNotice: a connection skipped because --protocol asked
// for the other mux is named as not that protocol, with the flag that
// decodes it: real yamux (and yamux behind Consul's byte) read with
// --protocol smux, the real smux v2 of base-v2 with --protocol yamux.
// The notice said "neither smux nor yamux: the client sent a yamux
// header", which contradicts itself. Read as the notice says, each is
// decoded, with no notice.
func TestForcedProtocolNotice(t *testing.T) {
	yam := writeCapture(t, func(w *pcapout.Writer) { plainYamux(t, w) })
	prefixed := writeCapture(t, func(w *pcapout.Writer) { prefixedYamux(t, w) })
	for _, tc := range []struct {
		name, path string
		cfg        capture.Config
		want       []string
		then       capture.Config
	}{
		{"yamux as smux", yam, capture.Config{Protocol: tap.Smux},
			[]string{"not smux (--protocol smux): the client sent a yamux header; --protocol yamux decodes it (or leave --protocol out"},
			capture.Config{Protocol: tap.Yamux}},
		{"prefixed yamux as smux", prefixed, capture.Config{Protocol: tap.Smux},
			[]string{"not smux (--protocol smux): the client sent a byte and then a yamux header", "--protocol yamux --skip 1 decodes it"},
			capture.Config{Protocol: tap.Yamux, Skip: 1}},
		{"smux as yamux", "testdata/base-v2.pcapng", capture.Config{Protocol: tap.Yamux},
			[]string{"not yamux (--protocol yamux): the client sent an smux v2 header; --protocol smux decodes it (or leave --protocol out"},
			capture.Config{Protocol: tap.Smux}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := readPackets(t, tc.path)
			ns := notices(readEvaluated(ps, tc.cfg, live.FindingsConfig{}))
			if len(ns) != 1 || strings.Contains(ns[0], "neither") {
				t.Fatalf("notices %q, want one saying the connection is not the protocol asked for", ns)
			}
			for _, want := range tc.want {
				if !strings.Contains(ns[0], want) {
					t.Errorf("notice %q does not say %q", ns[0], want)
				}
			}
			reg := readEvaluated(ps, tc.then, live.FindingsConfig{})
			if snap := reg.Snapshot(); len(snap.Sessions) != 1 || snap.StreamsTotal == 0 || snap.Violations != 0 {
				t.Errorf("read as the notice says: %s, want the session and its streams", counts(snap))
			}
			if ns := notices(reg); len(ns) != 0 {
				t.Errorf("read as the notice says, notices %q", ns)
			}
		})
	}
}
