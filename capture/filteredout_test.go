package capture_test

import (
	"strings"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"github.com/muxtop/muxtop/capture"
	"github.com/muxtop/muxtop/live"
)

// TestFilteredOutIsNotNotMux: real smux v2 traffic read with a filter
// (port 1) that its connection does not match. The status's "skipped"
// counts the connection, and the UI's empty sessions pane says, from
// that count and the notices, "capture read: no smux or yamux session decoded",
// "1 connection skipped, for these reasons:" and lists the notices: a
// skipped connection has a notice saying why (README: each connection
// skipped as neither smux nor yamux is a notice). One the filter left
// out is no such connection: it was smux. Something must say that the
// filter left it out, or it must not count as skipped for want of smux.
func TestFilteredOutIsNotNotMux(t *testing.T) {
	ps := readPackets(t, recordWatched(t, false))
	filter, err := capture.ParseFilter("port 1")
	if err != nil {
		t.Fatal(err)
	}
	reg := live.New(live.Config{})
	rd := capture.NewReader(capture.Config{Registry: reg, Filter: filter})
	for _, p := range ps {
		rd.Packet(p.Data, p.CI, layers.LinkTypeEthernet)
	}
	rd.Close()
	st := rd.Stats()
	snap := reg.Snapshot()
	var notices []string
	for _, n := range snap.Notices {
		notices = append(notices, n.Text)
	}
	t.Logf("stats %+v; %d sessions; notices %q", st, len(snap.Sessions), notices)
	const want = "1 connection skipped as the filter (port 1) does not pick it, smux or not"
	if st.Decoded != 0 || st.Skipped != 1 || len(snap.Sessions) != 0 || len(notices) != 1 || !strings.Contains(notices[0], want) {
		t.Errorf("stats %+v, %d sessions, notices %q; want the one connection skipped and one notice saying %q", st, len(snap.Sessions), notices, want)
	}
	if st.Skipped > 0 && len(notices) == 0 {
		t.Errorf("%d connection(s) counted skipped, no notice says why: the UI reads \"no smux or yamux session decoded, %d connection skipped, for these reasons:\" over smux the filter left out", st.Skipped, st.Skipped)
	}
	for _, n := range notices {
		if strings.Contains(n, "neither smux nor yamux") {
			t.Errorf("notice %q: the connection was smux", n)
		}
	}
}
