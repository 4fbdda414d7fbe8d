package live_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/live"
)

// TestYamuxAppPingsThenSilentReal: a real hashicorp/yamux session,
// keepalive off at both ends (EnableKeepAlive false), whose client's
// application calls Session.Ping() once, or twice 300 ms apart; the
// server answers each, then accepts none of the client's 2 streams: its
// yamux sends no ACK, and the server sends nothing at all. Evaluated at
// the machine's clock: UNANSWERED of a silent side opens for the
// client's streams whatever the pings, since no ping asked the server
// anything after the SYNs, and nothing calls the server frozen: it
// answered every ping it got. With one ping its words are that muxtop
// has seen no keepalive ping; with two, which give keepalive a cadence
// (the client's), that the client's pings, the latest answered, came
// before the SYN, not that muxtop saw none. Only the client's own
// KEEPALIVE may say "pings came every", as two pings did come, and then
// of the interval between them. Before, two pings turned the silent-side
// rule off (keepalive counted as on for the session), and KEEPALIVE
// opened for the server, on the client's cadence, saying it had not
// answered a keepalive ping and was frozen.
func TestYamuxAppPingsThenSilentReal(t *testing.T) {
	const gap = 300 * time.Millisecond
	for _, pings := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d-pings", pings), func(t *testing.T) {
			t.Parallel()
			reg := live.New(live.Config{})
			m, _ := kaPair(t, "yamux", reg, 0)
			cli := m.cli.(slowYamux).Session
			var first, last time.Time
			for i := range pings {
				if i > 0 {
					time.Sleep(gap) // the application's second ping, gap later
				}
				last = time.Now()
				if i == 0 {
					first = last
				}
				if _, err := cli.Ping(); err != nil {
					t.Fatal(err)
				}
			}
			requests(t, m, 2) // the server accepts neither
			opened := func() bool {
				o, _ := silentRecords(reg, live.CodeUnanswered)
				return len(o) > 0
			}
			for end := time.Now().Add(15 * time.Second); !opened() && time.Now().Before(end); {
				reg.Evaluate(time.Now(), silentFixCfg)
				time.Sleep(50 * time.Millisecond)
			}
			evalFor(reg, silentFixCfg, 1500*time.Millisecond) // what opens beside it
			o, _ := silentRecords(reg, live.CodeUnanswered)
			if len(o) != 1 || o[0].Finding.Dir != live.ClientToServer {
				t.Fatalf("UNANSWERED of a silent side of the client's streams opened %d times, want once:%s", len(o), describeRecords(findingRecords(reg)))
			}
			text := o[0].Finding.Text
			saw, before := "muxtop has seen no keepalive ping on the session (yet)", "the client's pings, the latest answered, came before that SYN"
			if pings == 2 {
				saw, before = before, saw
			}
			if !strings.Contains(text, saw) || strings.Contains(text, before) {
				t.Errorf("%d pings: UNANSWERED says %q; want it to say %q", pings, text, saw)
			}
			if ss := reg.Snapshot().Sessions; len(ss) != 1 || ss[0].Counts.FramesDir(live.ServerToClient) != uint64(pings) {
				t.Fatalf("want the server's %d ping answers alone", pings)
			}
			t.Logf("%d pings:%s", pings, describeRecords(findingRecords(reg)))
			for _, r := range allRecords(reg) {
				f := r.Finding
				if f == nil {
					continue
				}
				if strings.Contains(r.Detail, "keepalive is on") {
					t.Errorf("%v %s: %s — %s; keepalive is off", r.Kind, f.Code, f.Text, r.Detail)
				}
				if f.Code != live.CodeKeepalive {
					if strings.Contains(f.Text, "pings came every") {
						t.Errorf("%v %s: %s", r.Kind, f.Code, f.Text)
					}
					continue
				}
				// KEEPALIVE: only the client's own, on the interval between
				// its two pings, as the tap stamped their writes.
				if pings == 1 || f.Dir != live.ClientToServer || f.Evidence.Borrowed ||
					f.Evidence.Every < gap || f.Evidence.Every > time.Since(first) ||
					!strings.Contains(f.Text, fmt.Sprintf("its pings came every %s", live.FormatAge(f.Evidence.Every))) {
					t.Errorf("%d pings (%v apart): %v %s dir %v every %v borrowed %v: %s", pings, last.Sub(first), r.Kind, f.Code, f.Dir, f.Evidence.Every, f.Evidence.Borrowed, f.Text)
				}
			}
		})
	}
}
