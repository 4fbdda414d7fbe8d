package headless

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// TestSummaryAgesAtTheEnd: the summary's open findings are worded with
// their ages at the summary's time, as its leaks line measures the
// oldest leak, and both say the age alike. A real smux server that
// answers and never closes its stream leaks it; the last evaluation, 68.5
// s after its SYN, finds the wording of 62 s still current (the engine
// words an age again in steps of 30 s past a minute). Before, the summary
// said "#1 LEAK … oldest 62 s (stream 3)" beside "the oldest for 1m9s".
func TestSummaryAgesAtTheEnd(t *testing.T) {
	for _, format := range []Format{Plain, JSON} {
		var now atomic.Int64
		now.Store(time.Now().UnixNano())
		reg := live.New(live.Config{Clock: func() time.Time { return time.Unix(0, now.Load()) }})
		cli, srv := leakStreams(t, reg, 1, 1)
		var syn time.Time
		smuxtest.Eventually(t, "the client's FIN", func() bool {
			ss := reg.Snapshot().Sessions[0]
			if len(ss.Streams) != 1 || ss.Streams[0].Frames[live.ClientToServer] < 3 {
				return false
			}
			syn = ss.Streams[0].First
			return true
		})
		// The tap's client may be between two reads at the instant the
		// evaluations look at, a minute on: that is no SESSION_BLOCKED
		// this test is about.
		leaks := live.FindingsConfig{LeakAfter: 30 * time.Second, Churn: -1, BlockedAfter: time.Hour}
		reg.Evaluate(syn.Add(62*time.Second), leaks)
		end := syn.Add(68*time.Second + 500*time.Millisecond)
		reg.Evaluate(end, leaks)
		now.Store(end.UnixNano())
		fs := reg.Snapshot().Findings
		if len(fs) != 1 || fs[0].Code != live.CodeLeak || !strings.Contains(fs[0].Text, "oldest 62 s (stream 3, idle ") {
			var got []string
			for _, f := range fs {
				got = append(got, string(f.Code)+": "+f.Text)
			}
			t.Fatalf("findings at the last evaluation: %q; want LEAK worded at 62 s", got)
		}

		var out bytes.Buffer
		if _, err := Finish(&out, reg, Options{Format: format, LeakAfter: 30 * time.Second,
			Stop: func() { cli.Close(); srv.Close() }}); err != nil {
			t.Fatal(err)
		}
		// Its idle time, since the client's FIN, is worded at the end too.
		const text = "the server never closes its streams: 1 half-closed by the client and idle 30 s or more, oldest 68 s (stream 3, idle "
		if format == Plain {
			plainSummaryHas(t, out.String(),
				"    #1 LEAK warning, session 1, open: "+text,
				"; the oldest for 68 s; they ended with their sessions since, as muxtop stopped\n",
			)
			continue
		}
		j := leaksJSON(t, out.Bytes())
		var idle float64
		if len(j.Findings) == 1 {
			idle, _ = j.Findings[0]["idle"].(float64)
		}
		if len(j.Findings) != 1 || !strings.HasPrefix(fmt.Sprint(j.Findings[0]["text"]), text) || j.Findings[0]["age"] != 68.5 || idle <= 67 || j.Leaks["oldest_seconds"] != 68.5 {
			t.Errorf("JSON findings %v, leaks %v; want the LEAK worded at 68.5 s, as oldest_seconds, idle 67 s or more", j.Findings, j.Leaks)
		}
	}
}

// plainSummaryHas fails t for each of wants that summary, a plain
// summary, lacks.
func plainSummaryHas(t *testing.T, summary string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(summary, want) {
			t.Errorf("plain summary lacks %q:\n%s", want, summary)
		}
	}
}

// summaryLeaks is a JSON summary's leaks and findings.
type summaryLeaks struct {
	Leaks    map[string]any   `json:"leaks"`
	Findings []map[string]any `json:"findings"`
}

// leaksJSON decodes summary, a JSON summary, failing t if it does not.
func leaksJSON(t *testing.T, summary []byte) summaryLeaks {
	t.Helper()
	var j summaryLeaks
	if err := json.Unmarshal(summary, &j); err != nil {
		t.Fatalf("%v: %s", err, summary)
	}
	return j
}
