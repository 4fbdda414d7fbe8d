package tui

import (
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// pluginMuxes are the libraries a go-plugin host runs: smux v1 and v2,
// keepalive off (its NOPs come at times of their own), and
// hashicorp/yamux.
func pluginMuxes() map[string]smuxtest.Mux {
	out := map[string]smuxtest.Mux{"yamux": {}}
	for _, v := range []int{1, 2} {
		cfg := smuxtest.Config(v)
		cfg.KeepAliveDisabled = true
		out["smux v"+strconv.Itoa(v)] = smuxtest.Mux{Smux: cfg}
	}
	return out
}

// TestSetupStreamsOnScreenReal: a go-plugin host on a real smux (v1, v2)
// or yamux session, tapped, holds its four setup streams, and its
// requests' streams come after, one closed, then three more, closed, or
// held (leaked). 45 s later, at
// muxtop's default --leak-after (30 s), the streams pane says "open
// (setup)" of exactly the four streams the test opened as the session
// was set up, no other; the header counts no suspected leak on the
// healthy host, and on the leaking one the leaked requests alone, each
// marked, none "(setup)".
func TestSetupStreamsOnScreenReal(t *testing.T) {
	for name, mux := range pluginMuxes() {
		for _, leak := range []bool{false, true} {
			t.Run(name+map[bool]string{false: " healthy", true: " leaking"}[leak], func(t *testing.T) {
				reg := live.New(live.Config{})
				h := smuxtest.NewPluginHost(t, mux, func(c net.Conn) net.Conn { return tap.Wrap(c, live.Server, reg, "plugin") })
				// A request answered and closed, then 3 more: the first
				// stream closed ends the session's setup (live.SetupWindow),
				// in its first second as the test runs.
				h.Requests(1, false)
				reqs := h.Requests(3, leak)
				// What the tap recorded of the requests: their frames back
				// and, closed, their FINs both ways.
				smuxtest.Eventually(t, "the requests recorded", func() bool {
					ss := reg.Snapshot().Sessions[0]
					return ss.Total == 8 && ss.Open == map[bool]int{false: 4, true: 7}[leak]
				})
				now := time.Now().Add(45 * time.Second)
				cfg := live.FindingsConfig{UnansweredAfter: time.Hour, SilentAfter: time.Hour, Churn: -1}
				reg.Evaluate(now, cfg)
				at := func(o live.SnapshotOptions) *live.Snapshot { o.Now = now; return reg.SnapshotWith(o) }
				m := resize(newModel(reg, Options{NoColor: true, LeakAfter: live.DefaultLeakAfter}, at, time.UTC, 0), 160, 45)
				screen := screenOf(m)
				row := regexp.MustCompile(`^\s*▶?\s*([0-9]+) [cs] +(\S+(?: \(setup\))?)`)
				setup, leaked := map[uint32]bool{}, map[uint32]bool{}
				for _, id := range h.SetupIDs {
					setup[id] = true
				}
				for _, st := range reqs {
					if leak {
						leaked[smuxtest.StreamID(st[0])] = true
					}
				}
				seen := map[uint32]string{}
				for _, l := range paneBox(screen, "Streams of session") {
					m := row.FindStringSubmatch(strings.Trim(l, "│┃ "))
					if m == nil {
						continue
					}
					id, _ := strconv.ParseUint(m[1], 10, 32)
					seen[uint32(id)] = m[2]
					switch {
					case setup[uint32(id)] && m[2] != "open (setup)":
						t.Errorf("setup stream %d says %q, want open (setup): %q", id, m[2], l)
					case !setup[uint32(id)] && strings.Contains(m[2], "(setup)"):
						t.Errorf("stream %d, a request's, says %q: %q", id, m[2], l)
					case leaked[uint32(id)] && !strings.Contains(l, "!"):
						t.Errorf("leaked stream %d not marked a leak: %q", id, l)
					}
				}
				for id := range setup {
					if seen[id] == "" {
						t.Errorf("no row for setup stream %d:\n%s", id, screen)
					}
				}
				head := strings.SplitN(screen, "\n", 2)[0]
				switch {
				case !leak && strings.Contains(head, "leak"):
					t.Errorf("the healthy host's header counts leaks: %q", head)
				case leak && !strings.Contains(head, "3 suspected leaks"):
					t.Errorf("the header does not count the 3 leaked requests: %q", head)
				}
			})
		}
	}
}
