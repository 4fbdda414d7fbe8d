package capture_test

import (
	"net"
	"testing"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/pcapout"
	"github.com/muxtop/muxtop/tap"
)

// TestPrefixServerSpeaksFirst: with --prefix 04, a connection on the port
// whose server speaks first (an SSH banner), its client answering with
// its own: not decoded, no finding, whether --port picks it or not.
func TestPrefixServerSpeaksFirst(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	path := writeCapture(t, func(w *pcapout.Writer) {
		cc, sc := smuxtest.ConnsOn(t, ln)
		c := tap.Wrap(cc, live.Client, live.New(live.Config{}), "test", tap.Record(w))
		banner, hello := []byte("SSH-2.0-OpenSSH_9.6\r\n"), []byte("SSH-2.0-Go\r\n")
		deliver(t, sc, c, banner)
		deliver(t, c, sc, hello)
		c.Close()
		sc.Close()
	})
	filter := portFilter(t, ln)
	ps := readPackets(t, path)
	for _, cfg := range []capture.Config{{Prefix: []byte{4}}, {Filter: filter, Prefix: []byte{4}}, {Filter: filter, Protocol: tap.Yamux, Prefix: []byte{4}}} {
		reg := readEvaluated(ps, cfg, live.FindingsConfig{})
		snap := reg.Snapshot()
		if n := protocolCount(reg); n != 0 || snap.Violations != 0 {
			t.Errorf("filter %v, protocol %v: %d PROTOCOL findings, %s; notices %q", cfg.Filter, cfg.Protocol, n, counts(snap), notices(reg))
		}
	}
}
