package tui

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/muxtop/muxtop/internal/smuxtest"
	"github.com/muxtop/muxtop/live"
	"github.com/muxtop/muxtop/tap"
)

// TestNoReplyShown: a real smux v2 client, tapped, reusing a stream for
// its calls, whose server blocks on the fourth (smuxtest.HungCall): past
// --unanswered-after the findings pane lists NO_REPLY, its stream and
// direction, with the text and the advice; enter goes to the stream in
// the streams pane; the filter's bare word no_reply finds its record.
func TestNoReplyShown(t *testing.T) {
	reg := live.New(live.Config{})
	_, sid, _, ahead := smuxtest.HungCall(t, reg, func(c net.Conn) net.Conn { return tap.Wrap(c, live.Client, reg, "cli") })
	reg.Evaluate(time.Now().Add(ahead), live.FindingsConfig{LeakAfter: time.Hour, Churn: -1})
	fs := reg.Snapshot().Findings
	if len(fs) != 1 || fs[0].Code != live.CodeNoReply {
		t.Fatalf("%d findings, want one NO_REPLY", len(fs))
	}
	f := fs[0]
	for _, w := range []int{80, 160} {
		t.Run(strconv.Itoa(w), func(t *testing.T) {
			m := resize(newModel(reg, Options{NoColor: true}, reg.SnapshotWith, time.UTC, 0), w, 45)
			m = press(m, "!")
			checkFits(t, m, w, 45)
			box := paneBox(screenOf(m), "Findings")
			text := strings.Join(box, "\n")
			if row := cursorRow(box); !strings.Contains(row, "warn NO_REPLY") {
				t.Errorf("the cursor is not on NO_REPLY: %q\n%s", row, text)
			}
			for _, want := range []string{"stream " + strconv.Itoa(int(sid)) + ": the client's request, sent", "has no answer; the server answered the 3 earlier ones", "→ take a goroutine dump of the server"} {
				var inside []string // the box's lines without its borders: the text wraps
				for _, l := range box {
					inside = append(inside, strings.Trim(l, "┃┏┗━ "))
				}
				if !strings.Contains(strings.Join(strings.Fields(strings.Join(inside, " ")), " "), want) {
					t.Errorf("the findings pane lacks %q:\n%s", want, text)
				}
			}
			m = press(m, "enter")
			if m.focus != paneStreams || m.streams.session != f.Session || m.streams.id != sid {
				t.Errorf("enter on NO_REPLY: focus %s on session %d stream %d, want the streams pane on stream %d of session %d", m.focus, m.streams.session, m.streams.id, sid, f.Session)
			}
		})
	}
	recs, _ := reg.Frames(live.Query{Match: func(r *live.Record) bool { return r.Kind == live.FindingOpened }}, nil)
	if len(recs) != 1 {
		t.Fatalf("%d finding records, want 1", len(recs))
	}
	for _, tc := range []struct {
		expr string
		want bool
	}{{"NO_REPLY", true}, {"no_reply", true}, {"sid:" + strconv.Itoa(int(sid)), true}, {"dir:>", true}, {"dir:<", false}, {"UNANSWERED", false}} {
		flt, err := parseFilter(tc.expr)
		if err != nil {
			t.Fatal(err)
		}
		if got := flt.match(&recs[0]); got != tc.want {
			t.Errorf("filter %s on NO_REPLY's record: %v, want %v", tc.expr, got, tc.want)
		}
	}
}
