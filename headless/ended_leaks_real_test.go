package headless

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
)

// TestSummaryLeaksOfEndedSessionsRealSmux: a real smux v2 pair, the
// client tapped; the server answers two requests and never closes their
// streams, LEAK counts them, and then muxtop stops and the pair closes,
// as attach's sessions end when it stops. The sessions line says 0 live,
// the streams line 0 open: the leaks line, whose count is from before
// the stop, says that those streams ended with their sessions since, so
// that the summary does not read "0 open" beside "2 suspected". The
// exploratory tester's attach summary: "sessions 5 (0 live, 5 ended)",
// "streams … 0 open", then "leaks 5 suspected … (6 open longer than 5s
// in all)" with nothing to say which was when.
func TestSummaryLeaksOfEndedSessionsRealSmux(t *testing.T) {
	cfg := live.FindingsConfig{LeakAfter: 300 * time.Millisecond, Churn: -1, BlockedAfter: time.Hour}
	reg := live.New(live.Config{})
	cli, srv := leakStreams(t, reg, 2, 2)
	smuxtest.Eventually(t, "a LEAK of 2 streams", func() bool {
		reg.Evaluate(time.Now(), cfg)
		for _, f := range reg.Snapshot().Findings {
			if f.Code == live.CodeLeak && f.Evidence.Count == 2 {
				return true
			}
		}
		return false
	})
	var out bytes.Buffer
	_, err := Finish(&out, reg, Options{Format: Plain, LeakAfter: cfg.LeakAfter, Stop: func() {
		stopAt := reg.Now()
		cli.Close()
		srv.Close()
		smuxtest.Eventually(t, "the session's end", func() bool { return reg.Snapshot().Sessions[0].Ended })
		reg.ResolveEnded(reg.Now(), stopAt)
	}})
	if err != nil {
		t.Fatal(err)
	}
	plainSummaryHas(t, out.String(), "  sessions  1 (0 live, 1 ended)", " 0 open\n", "  leaks     2 suspected")
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(l, "  leaks ") && !strings.Contains(l, "ended with their sessions since") {
			t.Errorf("the leaks line does not say its streams ended since, beside \"0 live\" and \"0 open\":\n%s", out.String())
		}
	}
}
