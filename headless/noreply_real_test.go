package headless

import (
	"bytes"
	"fmt"
	"math"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// TestNoReplyPrinted: a real smux v2 client, tapped, whose server answers
// three calls on a stream the client reuses and blocks on the fourth
// (smuxtest.HungCall): past --unanswered-after, NO_REPLY opens, and the
// plain and JSON outputs say so — a FINDING line naming the stream and
// the evidence, a finding-opened record with its sid, dir (c2s), count
// (3 earlier answers), limit, age and slowest; muxtop's stop, which
// closes the client's session, resolves it as unwatched (still holding
// then), and the summary lists it open at the end.
func TestNoReplyPrinted(t *testing.T) {
	cfg := live.FindingsConfig{LeakAfter: time.Hour, Churn: -1}
	for _, format := range []Format{Plain, JSON} {
		reg := live.New(live.Config{})
		cli, sid, _, ahead := smuxtest.HungCall(t, reg, func(c net.Conn) net.Conn { return tap.Wrap(c, live.Client, reg, "cli") })
		// The evaluation's clock runs ahead, past NO_REPLY's limit: the
		// request has waited that long (keepalive is off: no KEEPALIVE
		// for the silence).
		reg.Evaluate(time.Now().Add(ahead), cfg)
		if fs := reg.Snapshot().Findings; len(fs) != 1 || fs[0].Code != live.CodeNoReply {
			for _, f := range fs {
				t.Logf("%s %s", f.Code, f.Text)
			}
			t.Fatalf("%d findings, want one NO_REPLY", len(fs))
		}
		var out bytes.Buffer
		_, err := NewPrinter(reg, &out, format).Finish(Options{Format: format, Stop: func() {
			stopped := time.Now()
			cli.Close()                                                  // muxtop's stop shuts the watched system down
			reg.ResolveEnded(time.Now().Add(ahead+time.Second), stopped) // the evaluations' clock, ahead
		}})
		if err != nil {
			t.Fatal(err)
		}
		if format == Plain {
			s := out.String()
			for l := range strings.Lines(s) {
				if strings.Contains(l, "NO_REPLY") {
					t.Logf("%s", strings.TrimSpace(l))
				}
			}
			for _, want := range []string{
				fmt.Sprintf(" FINDING 1 NO_REPLY warning: stream %d: the client's request, sent ", sid),
				" ago, has no answer; the server answered the 3 earlier ones on this stream within ",
				"— take a goroutine dump of the server (SIGQUIT, or pprof's /debug/pprof/goroutine?debug=2)",
				" STILL-OPEN 1 NO_REPLY after ",
				": muxtop stopped watching (local close): still holding then",
			} {
				if !strings.Contains(s, want) {
					t.Errorf("plain output wants %q:\n%s", want, s)
				}
			}
			plainSummaryHas(t, s[strings.Index(s, "summary"):],
				fmt.Sprintf("    #1 NO_REPLY warning, session 1, open at the end (muxtop stopped watching): stream %d: the client's request", sid), "1 open at the end (0 critical, 1 warning)")
			continue
		}
		recs := lastRecords(t, &out)
		opened, resolved, summary := recs["finding-opened"], recs["finding-resolved"], recs["summary"]
		age, _ := opened["age"].(float64)
		limit, _ := opened["limit"].(float64)
		slowest, ok := opened["slowest"].(float64)
		// The limit: the longer of --unanswered-after (5 s) and
		// ReplyFactor times the slowest answer (limit to the ms, slowest
		// to the µs).
		if opened["code"] != "NO_REPLY" || opened["dir"] != "c2s" || opened["severity"] != "warning" || opened["sid"] != float64(sid) ||
			opened["count"] != 3.0 || math.Abs(limit-max(5, live.ReplyFactor*slowest)) > 0.002 || age < limit || !ok || slowest <= 0 {
			t.Errorf("finding-opened %v", opened)
		}
		if resolved["unwatched"] != true || !strings.HasPrefix(resolved["detail"].(string), "muxtop stopped watching") {
			t.Errorf("finding-resolved %v, want unwatched", resolved)
		}
		if fo, _ := summary["findings_open"].(map[string]any); fo["warning"] != 1.0 {
			t.Errorf("summary findings_open %v, want 1 warning", summary["findings_open"])
		}
	}
}
