package headless

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// TestLeakRequestKeptAfterTheRun: what a user keeps of a run — the
// finding-resolved record, the JSON summary's findings, the plain
// summary's finding line — says which request leaks. A real smux (and
// yamux) server leaks the stream of "GET /bad"; the run stops with the
// LEAK still holding. Before, the resolved record and summary.findings[]
// had no "sids" and no "first", and the plain summary's line no first
// bytes: `muxtop … -o json | tail -1 | jq .findings` did not say which
// request leaked.
func TestLeakRequestKeptAfterTheRun(t *testing.T) {
	wantC2S := "47 45 54 20 2f 62 61 64 20 48 54 54 50 2f 31 2e 31 0d 0a 48 6f 73 74 3a 20 65 78 61 6d 70 6c 65" // GET /bad HTTP/1.1\r\nHost: example
	wantS2C := "45 52 52 20 62 61 64 20 72 65 71 75 65 73 74"                                                    // ERR bad request
	for _, yam := range []bool{false, true} {
		for _, format := range []Format{JSON, Plain} {
			t.Run(map[bool]string{false: "smux", true: "yamux"}[yam]+map[Format]string{JSON: "/json", Plain: "/plain"}[format], func(t *testing.T) {
				reg := live.New(live.Config{})
				var tapped net.Conn
				bad := smuxtest.LeakyRun(t, smuxtest.MuxOf(yam), func(c net.Conn) net.Conn {
					tapped = tap.Wrap(c, live.Server, reg, "srv")
					return tapped
				}, smuxtest.BadRequest, 3)
				smuxtest.Eventually(t, "the bad stream half-closed by the client", func() bool {
					snap := reg.Snapshot()
					st := snap.Sessions[0].Stream(bad)
					if st == nil || st.State != live.HalfClosedByClient {
						return false
					}
					return true
				})
				// Idle: the LEAK's; yamux's waits a second past its deadline
				// for the first keepalive ping (the README's LEAK row).
				time.Sleep(map[bool]time.Duration{false: 50 * time.Millisecond, true: 1100 * time.Millisecond}[yam])
				reg.Evaluate(time.Now(), live.FindingsConfig{LeakAfter: 20 * time.Millisecond, UnansweredAfter: time.Hour, Churn: -1})
				var out bytes.Buffer
				p := NewPrinter(reg, &out, format)
				_, err := p.Finish(Options{Format: format, LeakAfter: time.Millisecond, Stop: func() {
					stopped := time.Now()
					tapped.Close()
					smuxtest.Eventually(t, "the session's end", func() bool { return reg.Snapshot().LiveSessions == 0 })
					reg.ResolveEnded(time.Now(), stopped)
				}})
				if err != nil {
					t.Fatal(err)
				}
				if format == Plain {
					want := "    #1 LEAK warning, session 1, open at the end (muxtop stopped watching): " +
						`: "GET /bad HTTP/1.1..Host: example" → "ERR bad request"` + "\n"
					want = want[strings.Index(want, ": \"GET"):]
					want = " · stream " + strconv.FormatUint(uint64(bad), 10) + want
					var line string
					for l := range strings.Lines(out.String()) {
						if strings.HasPrefix(l, "    #1 LEAK warning, session 1, open at the end (muxtop stopped watching): ") {
							line = l
						}
					}
					if !strings.HasSuffix(line, want) {
						t.Errorf("the summary's LEAK line %q\nwants to end %q\n%s", line, want, out.String())
					}
					return
				}
				type kept struct {
					Type  string            `json:"type"`
					Code  string            `json:"code"`
					Sids  []uint32          `json:"sids"`
					First map[string]string `json:"first"`
				}
				var resolved *kept
				var summary struct {
					Findings []kept `json:"findings"`
				}
				sc := bufio.NewScanner(&out)
				for sc.Scan() {
					var k kept
					if err := json.Unmarshal(sc.Bytes(), &k); err != nil {
						t.Fatalf("%v: %s", err, sc.Bytes())
					}
					switch k.Type {
					case "finding-resolved":
						resolved = &k
					case "summary":
						json.Unmarshal(sc.Bytes(), &summary)
					}
				}
				check := func(what string, k *kept) {
					if k == nil || k.Code != "LEAK" || !slices.Contains(k.Sids, bad) || k.First["c2s"] != wantC2S || k.First["s2c"] != wantS2C {
						t.Errorf("%s: %+v; want LEAK with sids holding %d, first c2s %q s2c %q", what, k, bad, wantC2S, wantS2C)
					}
				}
				check("finding-resolved", resolved)
				if len(summary.Findings) != 1 {
					t.Fatalf("summary findings %+v, want the LEAK", summary.Findings)
				}
				check("summary.findings[0]", &summary.Findings[0])
			})
		}
	}
}
