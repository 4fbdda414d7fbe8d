package metrics_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/metrics"
	"github.com/muxtop/muxtop/tap"
)

// A yamux stream that its server's full accept backlog resets (RST, in
// a real hashicorp yamux session, tapped at the client) is counted in
// muxtop_streams_closed_total, which is total − open − ended: the help
// text says so, as it said only "a FIN from each side" before. Nothing
// ended with the session: the session is live.
func TestStreamsClosedCountsResets(t *testing.T) {
	reg := live.New(live.Config{})
	cc, sc := smuxtest.Conns(t)
	scfg := smuxtest.YamuxConfig()
	scfg.AcceptBacklog = 1
	cli, _ := smuxtest.YamuxPair(t, tap.Wrap(cc, live.Client, reg, "y"), sc, smuxtest.YamuxConfig(), scfg)
	for range 2 { // the second finds the backlog full: RST
		if _, err := cli.OpenStream(); err != nil {
			t.Fatal(err)
		}
	}
	col := metrics.NewCollector(reg, metrics.Options{})
	smuxtest.Eventually(t, "the RST counted", func() bool {
		return scrape(t, col)["muxtop_streams_closed_total"] == 1
	})
	if m := scrape(t, col); m["muxtop_streams_open"] != 1 || m["muxtop_streams_ended_with_session_total"] != 0 {
		t.Errorf("open %v, ended with session %v; want 1, 0", m["muxtop_streams_open"], m["muxtop_streams_ended_with_session_total"])
	}
	ch := make(chan *prometheus.Desc, 64)
	go func() { col.Describe(ch); close(ch) }()
	described := false
	for d := range ch {
		s := d.String()
		if strings.Contains(s, `"muxtop_streams_closed_total"`) {
			described = true
			if !strings.Contains(s, "reset by an RST") {
				t.Errorf("streams_closed_total's help does not say it counts resets: %s", s)
			}
		}
	}
	if !described {
		t.Error("no description of muxtop_streams_closed_total: its help is not checked")
	}
}
