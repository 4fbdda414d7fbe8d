package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/muxtop/muxtop/live"
)

// TestStreamsTitleKeepsSort: a yamux session's title, with both sides'
// ping round trips, lost the sort and the leak count at 160 columns (the
// box cut it at its end): s changed the order with nothing on screen to
// name it. The open count, the leaks and the sort are never left out;
// the pings go first.
func TestStreamsTitleKeepsSort(t *testing.T) {
	keys := newKeyMap()
	th := &theme{styles: newStyles(true), loc: time.UTC}
	p := newStreamsPane(&keys, 30*time.Second)
	ss := &live.SessionSnap{ID: 1, Open: 10, Proto: live.Yamux, Leaks: 4}
	ss.Pings[live.Client] = live.PingStats{Sent: 9, Answered: 9, LastRTT: 1679 * time.Microsecond}
	ss.Pings[live.Server] = live.PingStats{Sent: 9, Answered: 8, LastRTT: 948 * time.Microsecond}
	p.ss, p.snap = ss, &live.Snapshot{At: base}
	for _, w := range []int{60, 80, 100, 160, 220} {
		top := strings.Split(ansi.Strip(p.View(th, w, 6, false)), "\n")[0]
		leaks := "4 suspected leaks"
		if w < 80 {
			leaks = "4 leak?" // the header's short form
		}
		for _, want := range []string{"10 open", leaks, "sort id"} {
			if !strings.Contains(top, want) {
				t.Errorf("%d columns: the streams title does not say %q: %q", w, want, top)
			}
		}
		if w >= 220 && !strings.Contains(top, "server ping 948µs (1 unanswered)") {
			t.Errorf("%d columns: the title lost the pings, with room for them: %q", w, top)
		}
	}
}
