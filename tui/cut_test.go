package tui

import (
	"strings"
	"testing"

	"github.com/muxtop/muxtop/live"
)

// TestStreamsTitleSaysCut: a session read from a --write file cut at its
// writer's --write-limit while it was open is INCOMPLETE with no byte
// lost; the streams pane's title says why, as it says a capture's loss.
func TestStreamsTitleSaysCut(t *testing.T) {
	ss := &live.SessionSnap{ID: 3, Incomplete: true, Cut: base}
	p := &streamsPane{ss: ss}
	if got := p.title(200); !strings.Contains(got, " · capture cut at its writer's --write-limit") {
		t.Errorf("title %q: want the cut said", got)
	}
	p.ss = &live.SessionSnap{ID: 3}
	if got := p.title(200); strings.Contains(got, "cut") {
		t.Errorf("title %q of a session not cut", got)
	}
}
