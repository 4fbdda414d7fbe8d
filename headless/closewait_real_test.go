package headless

import (
	"bytes"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// TestCloseWaitPrinted: a real smux server, tapped, keepalive off, whose
// client exits while its application never closes the session (its
// socket in CLOSE-WAIT): past --closewait-after, CLOSE_WAIT opens, and
// the plain and JSON outputs say so, a FINDING line and a finding-opened
// record naming the client as the side that closed and the server as the
// one holding; muxtop's stop, which closes the server's session, resolves
// it as unwatched (still holding then), and the summary counts it open at
// the end.
func TestCloseWaitPrinted(t *testing.T) {
	cfg := live.FindingsConfig{CloseWaitAfter: 100 * time.Millisecond, Churn: -1}
	for _, format := range []Format{Plain, JSON} {
		reg := live.New(live.Config{})
		srv := smuxtest.ClientLeaves(t, func(c net.Conn) net.Conn { return tap.Wrap(c, live.Server, reg, "srv") }, false)
		smuxtest.Eventually(t, "the client's EOF at the tap", func() bool {
			return !reg.Snapshot().Sessions[0].DirEnded[live.ClientToServer].IsZero()
		})
		time.Sleep(150 * time.Millisecond)
		reg.Evaluate(time.Now(), cfg)
		if fs := reg.Snapshot().Findings; len(fs) != 1 || fs[0].Code != live.CodeCloseWait {
			for _, f := range fs {
				t.Logf("%s %s", f.Code, f.Text)
			}
			ss := reg.Snapshot().Sessions[0]
			t.Fatalf("findings %v, want one CLOSE_WAIT; session ended %v %v %s, dir ended %v", fs, ss.Ended, ss.Reason, ss.Err, ss.DirEnded)
		}
		var out bytes.Buffer
		_, err := NewPrinter(reg, &out, format).Finish(Options{Format: format, Stop: func() {
			stopped := time.Now()
			srv.Close() // muxtop's stop shuts the watched system down
			reg.ResolveEnded(time.Now(), stopped)
		}})
		if err != nil {
			t.Fatal(err)
		}
		if format == Plain {
			s := out.String()
			for _, want := range []string{
				" FINDING 1 CLOSE_WAIT warning: the client closed its side of the connection ",
				"and the server has not closed its own nor sent a frame since: it still holds session 1, its socket in TCP CLOSE-WAIT",
				"— have the server Close() its smux session when AcceptStream, OpenStream or a stream's Read fails",
				" STILL-OPEN 1 CLOSE_WAIT after ",
				": muxtop stopped watching (local close): still holding then",
			} {
				if !strings.Contains(s, want) {
					t.Errorf("plain output wants %q:\n%s", want, s)
				}
			}
			plainSummaryHas(t, s[strings.Index(s, "summary"):],
				"    #1 CLOSE_WAIT warning, session 1, open at the end (muxtop stopped watching): the client closed its side of the connection",
				"1 open at the end (0 critical, 1 warning)")
			continue
		}
		recs := lastRecords(t, &out)
		opened, resolved, summary := recs["finding-opened"], recs["finding-resolved"], recs["summary"]
		if opened["code"] != "CLOSE_WAIT" || opened["dir"] != "s2c" || opened["severity"] != "warning" || opened["limit"] != 0.1 ||
			opened["age"] == nil || opened["idle"] == nil || opened["session"] != 1.0 {
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
